/*
 * unwind_frame.c - the "Call Trace:" of an oops or dump_stack()
 * (arch/x86/kernel/dumpstack.c: show_trace_log_lvl, with the frame-pointer
 * unwinder of arch/x86/kernel/unwind_frame.c folded in).
 *
 * The kernel is built with frame pointers: every function starts with
 * `push %rbp; mov %rsp, %rbp`, so RBP points at a frame record
 *     [rbp]     the caller's RBP
 *     [rbp + 8] the return address into the caller
 * and following RBP from record to record visits every caller.  Like Linux,
 * the trace does not just follow that chain: it reads EVERY word of the
 * stack, from the starting stack pointer up, and prints each one that looks
 * like a kernel text address.  Words that are the return address of the
 * current frame record are "reliable" and printed plainly; the others are
 * leftovers of earlier calls and printed with a "?", as Linux does:
 *     panic+0x118/0x2f4
 *     ? _printk+0x68/0x83
 *
 * Entries into the kernel (entry.S) push pt_regs and, below it, a frame
 * record holding the interrupted RBP and RIP (zeros from user mode).  So when
 * a return address lies in the entry text, pt_regs starts 16 bytes above the
 * next frame record: the trace prints those registers (the user's, at the
 * end of a system call; a kernel context's, for an exception or interrupt)
 * and, in the kernel case, goes on into the interrupted code.
 *
 * The sections are marked as Linux marks them: <TASK> for the task stack,
 * <IRQ> while in an interrupt handler, <NMI> on the NMI stack.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "sched.h"
#include "ptrace.h"

extern char __entry_text_start[], __entry_text_end[];
extern char irq_entries_start[] __attribute__((weak));
extern char irq_entries_end[] __attribute__((weak));

static bool in_entry_text(unsigned long addr)
{
	return addr >= (unsigned long)__entry_text_start && addr < (unsigned long)__entry_text_end;
}

/* Was this entry an interrupt (rather than an exception or a system call)? */
static bool entry_is_interrupt(unsigned long ret_addr)
{
	char name[128];
	if (irq_entries_start && ret_addr >= (unsigned long)irq_entries_start &&
	    ret_addr < (unsigned long)irq_entries_end)
		return true;
	sprint_symbol_no_offset(name, ret_addr);
	return !strncmp(name, "asm_sysvec_", 11) || !strncmp(name, "asm_common_interrupt", 20);
}

static bool on_task_stack(struct task_struct *task, unsigned long addr, size_t len)
{
	unsigned long lo = (unsigned long)task->stack;
	return task->stack && addr >= lo && addr + len <= lo + THREAD_SIZE;
}

/* A pointer that plausibly is a pt_regs the entry code saved. */
static bool regs_plausible(struct pt_regs *regs)
{
	unsigned long cs;
	if (!read_word_nofault((unsigned long)&regs->cs, &cs) ||
	    !range_mapped((unsigned long)regs, sizeof(*regs), false))
		return false;
	return cs == 0x10 || cs == 0x33 || cs == 0x23;
}

static void printk_stack_address(unsigned long address, int reliable, const char *log_lvl)
{
	printk("%s %s%pBb\n", log_lvl, reliable ? "" : "? ", (void *)address);
}

/*
 * The pt_regs of an entry, printed inside the trace, as Linux's
 * show_regs_if_on_stack(): the short form, without the FS/CS/CR lines.
 */
static void show_entry_regs(struct pt_regs *regs, const char *log_lvl)
{
	__show_regs(regs, SHOW_REGS_SHORT, log_lvl);
}

void show_trace_log_lvl(struct task_struct *task, struct pt_regs *regs, unsigned long *stack,
			const char *log_lvl)
{
	unsigned long bp, sp;
	bool in_irq_section = false;
	bool nmi_section = false;
	unsigned long first_ret = 0;

	if (!task)
		task = current;
	if (regs) {
		bp = regs->bp;
		sp = regs->sp;
	} else if (stack) {
		bp = (unsigned long)stack;      /* the caller's own frame record */
		sp = (unsigned long)stack;
	} else if (task != current) {
		/* a switched-out task: __switch_to_asm left r15..rbx, rbp, ret (entry.S) */
		sp = task->thread.sp;
		if (!read_word_nofault(sp + 5 * 8, &bp) || !read_word_nofault(sp + 6 * 8, &first_ret))
			return;
		sp += 7 * 8;                    /* above the return address into schedule() */
	} else {
		bp = (unsigned long)__builtin_frame_address(0);
		sp = bp;
	}

	printk("%sCall Trace:\n", log_lvl);
	if (regs && user_mode(regs))
		goto out;           /* nothing of the kernel to show */

	if (task == current && in_nmi() && !on_task_stack(task, sp, 8)) {
		nmi_section = true;
		printk("%s <NMI>\n", log_lvl);
	} else if (task == current && (in_irq() || in_serving_softirq())) {
		/* a softirq run from irq_exit is on the IRQ stack too, as on x86-64 */
		in_irq_section = true;
		printk("%s <IRQ>\n", log_lvl);
	} else {
		printk("%s <TASK>\n", log_lvl);
	}
	if (first_ret)
		printk_stack_address(first_ret, 1, log_lvl);

	for (int guard = 0; guard < 4096; guard++) {
		if (!on_task_stack(task, sp, 8)) {
			/*
			 * Not the task stack (an NMI or double-fault stack, whose
			 * bounds are the arch code's): follow the frame records only.
			 */
			unsigned long next_bp, ret;
			if (!bp || !read_word_nofault(bp, &next_bp) || !read_word_nofault(bp + 8, &ret))
				break;
			if (kernel_text_address(ret))
				printk_stack_address(ret, 1, log_lvl);
			if (in_entry_text(ret)) {
				struct pt_regs *r = (struct pt_regs *)(next_bp + 16);
				if (!next_bp || !regs_plausible(r))
					break;
				if (nmi_section) {
					printk("%s </NMI>\n", log_lvl);
					nmi_section = false;
					in_irq_section = in_irq() || in_serving_softirq();
					printk("%s %s\n", log_lvl, in_irq_section ? "<IRQ>" : "<TASK>");
				}
				show_entry_regs(r, log_lvl);
				if (user_mode(r))
					break;
				bp = r->bp;
				sp = r->sp;
				continue;
			}
			if (next_bp <= bp)
				break;
			bp = next_bp;
			continue;
		}

		/* The task stack: every word from sp to the top. */
		unsigned long top = (unsigned long)task->stack + THREAD_SIZE;
		bool switched = false;
		for (; sp + 8 <= top; sp += 8) {
			unsigned long addr = *(unsigned long *)sp;
			if (!kernel_text_address(addr))
				continue;
			if (sp != bp + 8) {
				printk_stack_address(addr, 0, log_lvl);
				continue;
			}
			/* the return address of the current frame record: reliable */
			unsigned long next_bp = *(unsigned long *)bp;
			if (in_entry_text(addr) && next_bp) {
				struct pt_regs *r = (struct pt_regs *)(next_bp + 16);
				if (on_task_stack(task, (unsigned long)r, sizeof(*r)) && regs_plausible(r)) {
					if (in_irq_section && entry_is_interrupt(addr)) {
						printk("%s </IRQ>\n", log_lvl);
						printk("%s <TASK>\n", log_lvl);
						in_irq_section = false;
					}
					printk_stack_address(addr, 1, log_lvl);
					show_entry_regs(r, log_lvl);
					if (user_mode(r))
						goto done;
					/* on into the interrupted code; its RIP was just shown */
					bp = r->bp;
					sp = (unsigned long)(r + 1);
					if (r->sp != sp && on_task_stack(task, r->sp, 8))
						sp = r->sp;
					switched = true;
					break;
				}
			}
			printk_stack_address(addr, 1, log_lvl);
			if (!next_bp)
				goto done;
			bp = next_bp;
		}
		if (!switched)
			break;
	}
done:
	if (in_irq_section)
		printk("%s </IRQ>\n", log_lvl);
	else if (nmi_section)
		printk("%s </NMI>\n", log_lvl);
	else
		printk("%s </TASK>\n", log_lvl);
out:
	return;
}
