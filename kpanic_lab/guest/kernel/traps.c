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

/*
 * get_kernel_gp_address(): which address the faulting instruction used, from
 * its ModRM/SIB bytes and the saved registers (Linux decodes it with
 * insn_get_modrm/insn_get_sib/insn_get_addr_ref).  This decoder knows the
 * one- and two-byte opcodes that take a ModRM operand, which is what C code
 * compiles to; anything else (and RIP-relative or FS/GS-based operands,
 * which cannot be non-canonical) gives no hint, as an undecodable
 * instruction does in Linux.
 */
enum kernel_gp_hint { GP_NO_HINT, GP_NON_CANONICAL, GP_CANONICAL };
#define __VIRTUAL_MASK ((1UL << 47) - 1)
#define MAX_INSN_SIZE 15

static unsigned long gp_reg(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0: return regs->ax;  case 1: return regs->cx;  case 2: return regs->dx;
	case 3: return regs->bx;  case 4: return regs->sp;  case 5: return regs->bp;
	case 6: return regs->si;  case 7: return regs->di;  case 8: return regs->r8;
	case 9: return regs->r9;  case 10: return regs->r10; case 11: return regs->r11;
	case 12: return regs->r12; case 13: return regs->r13; case 14: return regs->r14;
	default: return regs->r15;
	}
}

static bool has_modrm(const u8 *op, bool twobyte)
{
	u8 b = op[0];
	if (twobyte)    /* cmov, setcc, bt*, shld/shrd, imul, cmpxchg, movzx/movsx, xadd, movs/movaps */
		return (b >= 0x40 && b <= 0x4f) || (b >= 0x90 && b <= 0x9f) || (b >= 0xa3 && b <= 0xa5) ||
		       (b >= 0xab && b <= 0xaf) || (b >= 0xb0 && b <= 0xbf) || b == 0xc0 || b == 0xc1 ||
		       (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || b == 0x6f || b == 0x7f ||
		       b == 0xd6 || b == 0xe7;
	return (b < 0x40 && (b & 7) < 4) || b == 0x63 || b == 0x69 || b == 0x6b ||
	       (b >= 0x80 && b <= 0x8f && b != 0x8d) || b == 0xc0 || b == 0xc1 ||
	       b == 0xc6 || b == 0xc7 || (b >= 0xd0 && b <= 0xd3) || b == 0xf6 || b == 0xf7 ||
	       b == 0xfe || b == 0xff;
}

static enum kernel_gp_hint get_kernel_gp_address(struct pt_regs *regs, unsigned long *addr)
{
	u8 insn[MAX_INSN_SIZE];
	int i = 0, opnd_bytes = 4;
	u8 rex = 0;

	if (copy_from_kernel_nofault(insn, (void *)regs->ip, MAX_INSN_SIZE))
		return GP_NO_HINT;
	for (;; i++) {                  /* legacy prefixes */
		u8 b = insn[i];
		if (b == 0x66)
			opnd_bytes = 2;
		else if (b == 0x64 || b == 0x65)
			return GP_NO_HINT;      /* FS/GS-based: the segment base is added */
		else if (!(b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 ||
			   b == 0x3e || b == 0x26 || b == 0x67))
			break;
		if (i >= 4)
			return GP_NO_HINT;
	}
	if ((insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	if (rex & 8)
		opnd_bytes = 8;
	bool twobyte = insn[i] == 0x0f;
	if (twobyte)
		i++;
	if ((twobyte && (insn[i] == 0x38 || insn[i] == 0x3a)) || !has_modrm(&insn[i], twobyte))
		return GP_NO_HINT;
	u8 modrm = insn[++i];
	int mod = modrm >> 6, rm = modrm & 7;
	i++;
	if (mod == 3)
		return GP_NO_HINT;      /* a register operand: no memory address */
	unsigned long a = 0;
	if (rm == 4) {                  /* SIB */
		u8 sib = insn[i++];
		int scale = sib >> 6, index = ((sib >> 3) & 7) | ((rex & 2) << 2), base = (sib & 7) | ((rex & 1) << 3);
		if (index != 4)
			a += gp_reg(regs, index) << scale;
		if ((base & 7) == 5 && mod == 0)
			a += (long)(int)(insn[i] | insn[i + 1] << 8 | insn[i + 2] << 16 | (u32)insn[i + 3] << 24),
			i += 4;
		else
			a += gp_reg(regs, base);
	} else if (rm == 5 && mod == 0) {
		return GP_NO_HINT;      /* RIP-relative: always canonical */
	} else {
		a += gp_reg(regs, rm | ((rex & 1) << 3));
	}
	if (mod == 1)
		a += (long)(signed char)insn[i];
	else if (mod == 2)
		a += (long)(int)(insn[i] | insn[i + 1] << 8 | insn[i + 2] << 16 | (u32)insn[i + 3] << 24);
	*addr = a;
	/* the operand is not in the kernel half, and its last byte not in the user half */
	if (*addr < ~__VIRTUAL_MASK && *addr + opnd_bytes - 1 > __VIRTUAL_MASK)
		return GP_NON_CANONICAL;
	return GP_CANONICAL;
}

#define GPFSTR "general protection fault"

void do_general_protection(struct pt_regs *regs, unsigned long error_code)
{
	char desc[sizeof(GPFSTR) + 50 + 2 * sizeof(unsigned long) + 1] = GPFSTR;
	enum kernel_gp_hint hint = GP_NO_HINT;
	unsigned long gp_addr;

	cond_local_irq_enable(regs);
	if (user_mode(regs)) {
		show_signal("traps", GPFSTR, regs, error_code);
		force_sig_fault(SIGSEGV, regs);
		return;
	}
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_GP, regs->ip);
	if (error_code)
		snprintf(desc, sizeof(desc), "segment-related " GPFSTR);
	else
		hint = get_kernel_gp_address(regs, &gp_addr);
	if (hint != GP_NO_HINT)
		snprintf(desc, sizeof(desc), GPFSTR ", %s 0x%lx",
			 hint == GP_NON_CANONICAL ? "probably for non-canonical address" : "maybe for address",
			 gp_addr);
	die(desc, regs, error_code);
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
