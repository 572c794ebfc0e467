/*
 * dumpstack.c - the oops (arch/x86/kernel/dumpstack.c, process_64.c,
 * lib/dump_stack.c, Linux 6.1).
 *
 * An oops is the kernel's report of its own bug, printed by die():
 *   Oops: 0002 [#1] PREEMPT SMP NOPTI                       __die_header
 *   CPU: 0 PID: 37 Comm: sh Tainted: G           OE      6.1.0-kpanic #1
 *   Hardware name: kpanic_lab x86-64 machine               dump_stack_print_info
 *   RIP: 0010:null_deref_write+0x2b/0x3c [null_deref]       __show_regs
 *   Code: ... <c7> ...   RSP: ...   RAX: ... CR2: ...
 *   Call Trace: <TASK> ... </TASK>                          show_trace_log_lvl
 *   Modules linked in: null_deref(OE)                       print_modules
 *   ---[ end trace 0000000000000000 ]---                    oops_exit
 *   RIP: ... (the first oops's registers again: the "executive summary")
 * then oops_end() decides.  First crash_kexec() if kexec_should_crash(): in
 * interrupt, the idle task, init, or panic_on_oops (never with
 * crash_kexec_post_notifiers) - with a capture kernel loaded that is the end.
 * Otherwise it panics itself only in interrupt ("Fatal exception in
 * interrupt") or with panic_on_oops ("Fatal exception"); everyone else,
 * init included, goes to make_task_dead(), tainted 'D': init's panic
 * ("Attempted to kill init!") then comes from do_exit().
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "utsname.h"
#include "x86.h"
#include "sched.h"
#include "ptrace.h"
#include "memlayout.h"
#include "taint.h"
#include "kmsg_dump.h"
#include "panic_stages.h"

int oops_count;
static int die_counter;
static volatile int die_lock;
static int die_owner = -1;
static int die_nest_count;
static struct pt_regs exec_summary_regs;        /* the first oops's registers */
static const char dump_stack_arch_desc_str[] = "kpanic_lab x86-64 machine";
__used static const char kern_default_lvl[] = KERN_DEFAULT;  /* for dump_stack */

/* "CPU: 1 PID: 1 Comm: init Not tainted 6.1.0-kpanic #1" and "Hardware name:" */
void dump_stack_print_info(const char *log_lvl)
{
	const char *version = init_utsname()->version;
	printk("%sCPU: %d PID: %d Comm: %.20s %s%s %s %.*s\n",
	       log_lvl, smp_processor_id(), current->pid, current->comm,
	       kexec_crash_loaded() ? "Kdump: loaded " : "",
	       print_tainted(), init_utsname()->release, (int)strcspn(version, " "), version);
	printk("%sHardware name: %s\n", log_lvl, dump_stack_arch_desc_str);
}

/*
 * "Code:" - the 42 bytes before RIP, the byte at RIP in <>, 21 after: enough
 * to disassemble the faulting instruction (scripts/decodecode).
 */
#define PROLOGUE_SIZE 42
#define EPILOGUE_SIZE 21
#define OPCODE_BUFSIZE (PROLOGUE_SIZE + 1 + EPILOGUE_SIZE)

void show_opcodes(struct pt_regs *regs, const char *loglvl)
{
	u8 opcodes[OPCODE_BUFSIZE];
	unsigned long prologue = regs->ip - PROLOGUE_SIZE;
	bool ok;

	if (user_mode(regs))
		ok = prologue < TASK_SIZE_MAX && range_mapped(prologue, sizeof(opcodes), true);
	else
		ok = range_mapped(prologue, sizeof(opcodes), false);
	if (!ok) {
		printk("%sCode: Unable to access opcode bytes at 0x%lx.\n", loglvl, prologue);
		return;
	}
	memcpy(opcodes, (void *)prologue, sizeof(opcodes));
	printk("%sCode: %*ph <%02x> %*ph\n", loglvl, PROLOGUE_SIZE, opcodes,
	       opcodes[PROLOGUE_SIZE], EPILOGUE_SIZE, opcodes + PROLOGUE_SIZE + 1);
}

static void show_ip(struct pt_regs *regs, const char *loglvl)
{
	printk("%sRIP: %04x:%pS\n", loglvl, (int)regs->cs, (void *)regs->ip);
	show_opcodes(regs, loglvl);
}

void show_iret_regs(struct pt_regs *regs, const char *log_lvl)
{
	show_ip(regs, log_lvl);
	printk("%sRSP: %04x:%016lx EFLAGS: %08lx", log_lvl, (int)regs->ss, regs->sp, regs->flags);
}

static inline unsigned int read_seg(int which)
{
	unsigned int v = 0;
	switch (which) {
	case 0: asm volatile("movl %%ds, %0" : "=r"(v)); break;
	case 1: asm volatile("movl %%es, %0" : "=r"(v)); break;
	case 2: asm volatile("movl %%fs, %0" : "=r"(v)); break;
	default: asm volatile("movl %%gs, %0" : "=r"(v)); break;
	}
	return v & 0xffff;
}

/* The register dump, line for line as arch/x86/kernel/process_64.c prints it. */
void __show_regs(struct pt_regs *regs, enum show_regs_mode mode, const char *log_lvl)
{
	show_iret_regs(regs, log_lvl);
	if (regs->orig_ax != (unsigned long)-1)
		pr_cont(" ORIG_RAX: %016lx\n", regs->orig_ax);
	else
		pr_cont("\n");

	printk("%sRAX: %016lx RBX: %016lx RCX: %016lx\n", log_lvl, regs->ax, regs->bx, regs->cx);
	printk("%sRDX: %016lx RSI: %016lx RDI: %016lx\n", log_lvl, regs->dx, regs->si, regs->di);
	printk("%sRBP: %016lx R08: %016lx R09: %016lx\n", log_lvl, regs->bp, regs->r8, regs->r9);
	printk("%sR10: %016lx R11: %016lx R12: %016lx\n", log_lvl, regs->r10, regs->r11, regs->r12);
	printk("%sR13: %016lx R14: %016lx R15: %016lx\n", log_lvl, regs->r13, regs->r14, regs->r15);

	if (mode == SHOW_REGS_SHORT)
		return;
	if (mode == SHOW_REGS_USER) {
		printk("%sFS:  %016llx GS:  %016llx\n", log_lvl,
		       rdmsr(MSR_FS_BASE), rdmsr(MSR_KERNEL_GS_BASE));
		return;
	}
	printk("%sFS:  %016llx(%04x) GS:%016llx(%04x) knlGS:%016llx\n", log_lvl,
	       rdmsr(MSR_FS_BASE), read_seg(2), rdmsr(MSR_GS_BASE), read_seg(3),
	       rdmsr(MSR_KERNEL_GS_BASE));
	printk("%sCS:  %04lx DS: %04x ES: %04x CR0: %016lx\n", log_lvl,
	       regs->cs, read_seg(0), read_seg(1), read_cr0());
	printk("%sCR2: %016lx CR3: %016lx CR4: %016lx\n", log_lvl,
	       read_cr2(), read_cr3(), read_cr4());
}

void show_regs(struct pt_regs *regs)
{
	dump_stack_print_info(KERN_DEFAULT);
	__show_regs(regs, user_mode(regs) ? SHOW_REGS_USER : SHOW_REGS_ALL, KERN_DEFAULT);
	/* in the kernel, the stack at the time of the fault too */
	if (!user_mode(regs))
		show_trace_log_lvl(current, regs, NULL, KERN_DEFAULT);
}

/*
 * noinline: the trace starts at this function's own frame, so the first
 * line printed is its caller (dump_stack_lvl+0x..), as in Linux.
 */
noinline void show_stack(struct task_struct *task, unsigned long *sp, const char *loglvl)
{
	if (!task)
		task = current;
	if (!sp && task == current)
		sp = __builtin_frame_address(0);
	show_trace_log_lvl(task, NULL, task == current ? sp : NULL, loglvl);
}

void dump_stack_lvl(const char *log_lvl)
{
	dump_stack_print_info(log_lvl);
	show_stack(NULL, NULL, log_lvl);
}

/*
 * dump_stack() is a tail call of dump_stack_lvl(KERN_DEFAULT) in Linux, so
 * it never shows in a trace.  The kernel is built with
 * -fno-optimize-sibling-calls, so the tail call is written out by hand.
 */
asm(".pushsection .text\n"
    ".globl dump_stack\n"
    ".type dump_stack, @function\n"
    ".p2align 4\n"
    "dump_stack:\n"
    "\tmovq $kern_default_lvl, %rdi\n"
    "\tjmp dump_stack_lvl\n"
    ".size dump_stack, .-dump_stack\n"
    ".popsection");

/* ---- the oops --------------------------------------------------------- */

unsigned long oops_begin(void)
{
	unsigned long flags;
	int cpu;

	local_irq_save(flags);
	cpu = smp_processor_id();
	if (!__sync_bool_compare_and_swap(&die_lock, 0, 1)) {
		if (cpu != die_owner)   /* a nested oops on this CPU just goes on */
			while (!__sync_bool_compare_and_swap(&die_lock, 0, 1))
				cpu_relax();
	}
	die_nest_count++;
	die_owner = cpu;
	console_verbose();
	bust_spinlocks(1);
	return flags;
}

static void __die_header(const char *str, struct pt_regs *regs, long err)
{
	/* Save the regs of the first oops for the executive summary later. */
	if (!die_counter)
		exec_summary_regs = *regs;
	printk(KERN_DEFAULT "%s: %04lx [#%d] PREEMPT SMP NOPTI\n", str, err & 0xffff, ++die_counter);
	panic_stage(PANIC_STAGE_OOPS, die_counter, regs->ip);
}

static int __die_body(const char *str, struct pt_regs *regs, long err)
{
	show_regs(regs);
	print_modules();
	return 0;
}

int __die(const char *str, struct pt_regs *regs, long err)
{
	__die_header(str, regs, err);
	return __die_body(str, regs, err);
}

void oops_end(unsigned long flags, struct pt_regs *regs, int signr)
{
	/* oops_end() itself panics only in interrupt or with panic_on_oops */
	bool fatal = signr && (in_interrupt() || panic_on_oops);
	/* kdump is tried first also for init and the idle task, which make_task_dead()/do_exit() panic for */
	bool kexec = regs && kexec_should_crash(current);

	panic_stage(PANIC_STAGE_OOPS_END, signr, fatal | kexec << 1);
	if (kexec)
		crash_kexec(regs);

	bust_spinlocks(0);
	die_owner = -1;
	add_taint(TAINT_DIE, LOCKDEP_NOW_UNRELIABLE);
	die_nest_count--;
	if (!die_nest_count)
		__sync_lock_release(&die_lock);
	local_irq_restore(flags);
	print_oops_end_marker();
	kmsg_dump(KMSG_DUMP_OOPS);

	/* Executive summary in case the oops scrolled away */
	__show_regs(&exec_summary_regs, SHOW_REGS_ALL, KERN_DEFAULT);

	if (!signr)
		return;
	if (in_interrupt())
		panic("Fatal exception in interrupt");
	if (panic_on_oops)
		panic("Fatal exception");
	make_task_dead(signr);
}

void die(const char *str, struct pt_regs *regs, long err)
{
	unsigned long flags = oops_begin();
	int sig = SIGSEGV;

	if (__die(str, regs, err))
		sig = 0;
	oops_end(flags, regs, sig);
}

/*
 * Take the task off the CPU after an oops (kernel/exit.c): the kernel
 * cannot return to whatever it was doing, so the task dies where it stands
 * and the rest of the system goes on.
 */
void __noreturn make_task_dead(int signr)
{
	struct task_struct *tsk = current;
	int limit;

	if (in_interrupt())
		panic("Aiee, killing interrupt handler!");
	if (!tsk->pid)
		panic("Attempted to kill the idle task!");
	if (irqs_disabled()) {
		pr_info("note: %s[%d] exited with irqs disabled\n", tsk->comm, tsk->pid);
		local_irq_enable();
	}
	if (preempt_count()) {
		pr_info("note: %s[%d] exited with preempt_count %d\n", tsk->comm, tsk->pid,
			preempt_count());
		this_pcpu()->preempt_count = 0;
	}
	/*
	 * Every oops may leak a reference the task held; repeated oopses
	 * could wrap a counter into an exploitable bug.  So 6.1.y panics
	 * after kernel.oops_limit of them (0: no limit).
	 */
	limit = READ_ONCE(oops_limit);
	if (__sync_add_and_fetch(&oops_count, 1) >= limit && limit)
		panic("Oopsed too often (kernel.oops_limit is %d)", limit);
	if (tsk->flags & PF_EXITING) {
		/* oopsed while exiting: leave it alone and wait for a reboot */
		pr_alert("Fixing recursive fault but reboot is needed!\n");
		tsk->exit_state = EXIT_DEAD;
		for (;;) {
			tsk->__state = TASK_DEAD;
			schedule();
		}
	}
	do_exit(signr);
}
