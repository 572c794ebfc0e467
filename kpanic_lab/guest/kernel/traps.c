/*
 * traps.c - what the kernel does about each CPU exception (arch/x86/kernel/
 * traps.c and arch/x86/mm/fault.c, Linux 6.1).  irqentry.c (the arch code)
 * calls these from the exc_* entry points.
 *
 * The rule everywhere: an exception in user mode is the program's problem -
 * it gets a signal (here: killed with it on the way back to user mode); an
 * exception in the kernel is the kernel's bug - an oops (die()).
 *
 * Page faults: a user address the arch code's memory management can map
 * (handle_mm_fault) is mapped and the instruction retried.  Otherwise a user
 * program gets "segfault at ..." and SIGSEGV; the kernel gets
 * page_fault_oops(): "BUG: kernel NULL pointer dereference", the #PF lines,
 * the page-table walk, the oops, "CR2:", and oops_end() with SIGKILL.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "x86.h"
#include "sched.h"
#include "ptrace.h"
#include "memlayout.h"
#include "mm.h"
#include "bug.h"
#include "panic_stages.h"

/* page fault error code bits (arch/x86/include/asm/trap_pf.h) */
#define X86_PF_PROT     (1 << 0)    /* 0: not-present page, 1: protection violation */
#define X86_PF_WRITE    (1 << 1)
#define X86_PF_USER     (1 << 2)
#define X86_PF_RSVD     (1 << 3)
#define X86_PF_INSTR    (1 << 4)
#define X86_PF_PK       (1 << 5)

/* " in sh[400000+3000]": where in the program's text ip is (print_vma_addr) */
static void print_vma_addr(const char *prefix, unsigned long ip)
{
	struct mm_struct *mm = current->mm;
	if (mm && ip >= mm->start_code && ip < mm->end_code)
		printk("%s%s[%lx+%lx]", prefix, current->comm, mm->start_code,
		       mm->end_code - mm->start_code);
}

/* The user program did something it may not: say so, and kill it. */
static void force_sig_fault(int sig, struct pt_regs *regs)
{
	current->sigpending = sig;      /* acted on before the return to user mode */
}

static void show_signal(const char *type, const char *desc, struct pt_regs *regs, long error_code)
{
	printk(KERN_INFO "%s: %s[%d] %s ip:%lx sp:%lx error:%lx", type, current->comm,
	       current->pid, desc, regs->ip, regs->sp, error_code);
	print_vma_addr(KERN_CONT " in ", regs->ip);
	pr_cont("\n");
}

/* ---- page faults ------------------------------------------------------ */

static void show_signal_msg(struct pt_regs *regs, unsigned long error_code, unsigned long address)
{
	const char *loglvl = current->pid > 1 ? KERN_INFO : KERN_EMERG;
	int cpu = smp_processor_id();

	printk("%s%s[%d]: segfault at %lx ip %px sp %px error %lx", loglvl, current->comm,
	       current->pid, address, (void *)regs->ip, (void *)regs->sp, error_code);
	print_vma_addr(KERN_CONT " in ", regs->ip);
	printk(KERN_CONT " likely on CPU %d (core %d, socket 0)", cpu, cpu);
	printk(KERN_CONT "\n");
	show_opcodes(regs, loglvl);
}

/* "PGD 35c4067 P4D 35c4067 PUD 35ab067 PMD 0 " (4-level paging: P4D = PGD) */
static void dump_pagetable(unsigned long address)
{
	static const char *const names[] = { "PUD", "PMD", "PTE" };
	unsigned long vals[4];
	bool present, user;
	int n = walk_page_table(address, vals, &present, &user);

	printk(KERN_INFO "PGD %lx ", vals[0]);
	if (vals[0] & _PAGE_PRESENT) {
		pr_cont("P4D %lx ", vals[0]);
		for (int i = 1; i < n; i++)
			pr_cont("%s %lx%s", names[i - 1], vals[i], i == 3 ? "" : " ");
	}
	pr_cont("\n");
}

static void show_fault_oops(struct pt_regs *regs, unsigned long error_code, unsigned long address)
{
	if (error_code & X86_PF_INSTR) {
		if (address < TASK_SIZE_MAX)
			pr_crit("kernel tried to execute NX-protected page - exploit attempt? (uid: 0)\n");
	}
	if (address < PAGE_SIZE && !user_mode(regs))
		pr_alert("BUG: kernel NULL pointer dereference, address: %px\n", (void *)address);
	else
		pr_alert("BUG: unable to handle page fault for address: %px\n", (void *)address);

	pr_alert("#PF: %s %s in %s mode\n",
		 (error_code & X86_PF_USER) ? "user" : "supervisor",
		 (error_code & X86_PF_INSTR) ? "instruction fetch" :
		 (error_code & X86_PF_WRITE) ? "write access" : "read access",
		 user_mode(regs) ? "user" : "kernel");
	pr_alert("#PF: error_code(0x%04lx) - %s\n", error_code,
		 !(error_code & X86_PF_PROT) ? "not-present page" :
		 (error_code & X86_PF_RSVD) ? "reserved bit violation" :
		 (error_code & X86_PF_PK) ? "protection keys violation" : "permissions violation");
	dump_pagetable(address);
}

static noinline void page_fault_oops(struct pt_regs *regs, unsigned long error_code,
				     unsigned long address)
{
	unsigned long flags;
	int sig;

	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_PAGE_FAULT, address);
	flags = oops_begin();
	show_fault_oops(regs, error_code, address);

	sig = SIGKILL;
	if (__die("Oops", regs, error_code))
		sig = 0;
	/* Executive summary in case the body of the oops scrolled away */
	printk(KERN_DEFAULT "CR2: %016lx\n", address);
	oops_end(flags, regs, sig);
}

void do_page_fault(struct pt_regs *regs, unsigned long error_code)
{
	unsigned long address = read_cr2();

	/*
	 * A user address (do_user_addr_fault): safe to take interrupts again
	 * now that CR2 is read, if the faulting code had them on.  A kernel
	 * address (do_kern_addr_fault) keeps them off.
	 */
	if (address < TASK_SIZE_MAX && (user_mode(regs) || (regs->flags & X86_EFLAGS_IF)))
		local_irq_enable();
	/*
	 * In an interrupt (hard or soft), or in a kernel thread with no user
	 * memory, there is nothing to map: a fault there is a bug
	 * (faulthandler_disabled() || !mm).
	 */
	if (address < TASK_SIZE_MAX && !in_interrupt() && current->mm) {
		if (handle_mm_fault(address, error_code) == 0)
			return;
	}
	if (user_mode(regs)) {
		show_signal_msg(regs, error_code, address);
		force_sig_fault(SIGSEGV, regs);
		return;
	}
	page_fault_oops(regs, error_code, address);
}

/* ---- BUG() and WARN(): ud2 ------------------------------------------- */

extern struct bug_entry __start___bug_table[], __stop___bug_table[];

static unsigned long bug_addr(const struct bug_entry *bug)
{
	return (unsigned long)&bug->bug_addr_disp + bug->bug_addr_disp;
}

struct bug_entry *find_bug(unsigned long bugaddr)
{
	for (struct bug_entry *bug = __start___bug_table; bug < __stop___bug_table; bug++)
		if (bug_addr(bug) == bugaddr)
			return bug;
	return NULL;
}

enum bug_trap_type report_bug(unsigned long bugaddr, struct pt_regs *regs)
{
	struct bug_entry *bug = find_bug(bugaddr);
	const char *file;
	bool warning;

	if (!bug)
		return BUG_TRAP_TYPE_NONE;
	file = (const char *)&bug->file_disp + bug->file_disp;
	warning = bug->flags & BUGFLAG_WARNING;
	panic_stage(PANIC_STAGE_TRIGGER, warning ? TRIGGER_WARN : TRIGGER_BUG, bugaddr);

	if (warning && (bug->flags & BUGFLAG_ONCE)) {
		if (bug->flags & BUGFLAG_DONE)
			return BUG_TRAP_TYPE_WARN;
		bug->flags |= BUGFLAG_DONE;
	}
	/* BUG() and WARN_ON() print no message of their own: the "cut here" goes here */
	if (!(bug->flags & BUGFLAG_NO_CUT_HERE))
		printk(KERN_DEFAULT CUT_HERE);

	if (warning) {
		__warn(file, bug->line, (void *)bugaddr, BUG_GET_TAINT(bug), regs);
		return BUG_TRAP_TYPE_WARN;
	}
	pr_crit("kernel BUG at %s:%u!\n", file, bug->line);
	return BUG_TRAP_TYPE_BUG;
}

/* A ud2 in the kernel with a bug table entry is a BUG() or a WARN(). */
bool handle_bug(struct pt_regs *regs)
{
	bool handled = false;

	/* report with the interrupt state of the place that warned */
	if (regs->flags & X86_EFLAGS_IF)
		local_irq_enable();
	if (report_bug(regs->ip, regs) == BUG_TRAP_TYPE_WARN) {
		regs->ip += LEN_UD2;    /* a warning: carry on after the ud2 */
		handled = true;
	}
	if (regs->flags & X86_EFLAGS_IF)
		local_irq_disable();
	return handled;
}

/* Interrupts back on if the trapping code had them on (cond_local_irq_enable) */
static void cond_local_irq_enable(struct pt_regs *regs)
{
	if (regs->flags & X86_EFLAGS_IF)
		local_irq_enable();
}

static void cond_local_irq_disable(struct pt_regs *regs)
{
	if (regs->flags & X86_EFLAGS_IF)
		local_irq_disable();
}

static void do_trap(struct pt_regs *regs, long error_code, const char *str, int signr)
{
	cond_local_irq_enable(regs);
	if (user_mode(regs)) {
		show_signal("traps", str, regs, error_code);
		force_sig_fault(signr, regs);
	} else {
		die(str, regs, error_code);
	}
	cond_local_irq_disable(regs);
}

static inline void handle_invalid_op(struct pt_regs *regs)
{
	do_trap(regs, 0, "invalid opcode", SIGILL);
}

/*
 * #UD (DEFINE_IDTENTRY_RAW(exc_invalid_op)): ud2 is also the short encoding
 * of WARN(), handled first (handle_bug) and resumed after; a BUG() falls
 * through to the oops, "invalid opcode".
 */
void exc_invalid_op(struct pt_regs *regs)
{
	if (!user_mode(regs) && handle_bug(regs))
		return;
	handle_invalid_op(regs);
	irqentry_exit(regs);
}

/* ---- the other exceptions the lab can meet --------------------------- */

void do_general_protection(struct pt_regs *regs, unsigned long error_code)
{
	cond_local_irq_enable(regs);
	if (user_mode(regs)) {
		show_signal("traps", "general protection fault", regs, error_code);
		force_sig_fault(SIGSEGV, regs);
		return;
	}
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_GP, regs->ip);
	die(error_code ? "segment-related general protection fault" : "general protection fault",
	    regs, error_code);
}

void do_divide_error(struct pt_regs *regs)
{
	if (!user_mode(regs))
		panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_DIVIDE, regs->ip);
	do_trap(regs, 0, "divide error", SIGFPE);
}

/* int3 with no debugger attached: a SIGTRAP for a program, an oops in the kernel */
void do_int3(struct pt_regs *regs)
{
	if (user_mode(regs)) {
		force_sig_fault(SIGTRAP, regs);
		return;
	}
	die("int3", regs, 0);
}

/* ---- NMIs ------------------------------------------------------------ */

/*
 * NMI handlers registered by the kernel (the crash NMI of kdump comes with
 * a later issue).  The stop NMI of smp_send_stop() is handled by the arch
 * code before this is called.  A handler returns 1 if the NMI was its own.
 */
#define MAX_NMI_HANDLERS 4
static struct {
	int (*handler)(unsigned int type, struct pt_regs *regs);
	const char *name;
} nmi_handlers[MAX_NMI_HANDLERS];

int register_nmi_handler(int (*handler)(unsigned int, struct pt_regs *), const char *name)
{
	for (int i = 0; i < MAX_NMI_HANDLERS; i++) {
		if (!nmi_handlers[i].handler) {
			nmi_handlers[i].name = name;
			nmi_handlers[i].handler = handler;
			return 0;
		}
	}
	return -16;     /* -EBUSY */
}

void unregister_nmi_handler(const char *name)
{
	for (int i = 0; i < MAX_NMI_HANDLERS; i++)
		if (nmi_handlers[i].handler && !strcmp(nmi_handlers[i].name, name))
			nmi_handlers[i].handler = NULL;
}

void do_nmi(struct pt_regs *regs)
{
	int handled = 0;

	for (int i = 0; i < MAX_NMI_HANDLERS; i++)
		if (nmi_handlers[i].handler)
			handled += nmi_handlers[i].handler(0, regs);
	if (handled)
		return;
	/* unknown_nmi_error() */
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_NMI, smp_processor_id());
	pr_emerg("Uhhuh. NMI received for unknown reason %02x on CPU %d.\n", 0, smp_processor_id());
	pr_emerg("Dazed and confused, but trying to continue\n");
}
