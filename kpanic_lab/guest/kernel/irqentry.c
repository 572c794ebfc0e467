/*
 * irqentry.c - the C half of every kernel entry: what happens between the
 * assembly stub in entry.S and the handler that does the real work.
 *
 *   asm_exc_page_fault (entry.S) -> exc_page_fault (here) -> do_page_fault (traps.c)
 *   asm_sysvec_apic_timer_interrupt -> sysvec_apic_timer_interrupt -> timer_interrupt (time.c),
 *     then on the way out __irq_exit_rcu -> __do_softirq (softirq.c: the timers)
 *   asm_common_interrupt -> common_interrupt -> console_input_irq (serial.c)
 *
 * Two things are done here for every entry, as Linux's kernel/entry/common.c:
 *  - interrupts count themselves in preempt_count (HARDIRQ_OFFSET, NMI_OFFSET),
 *    which is what in_interrupt() and the oops's "Fatal exception in
 *    interrupt" look at;
 *  - on the way out, irqentry_exit() does what is due before the interrupted
 *    code resumes: back to user mode, a pending reschedule or fatal signal;
 *    back to kernel code that had interrupts on and holds no lock, a
 *    preemption (this is a PREEMPT kernel).
 * Handlers return to entry.S with interrupts off.
 */
#include "types.h"
#include "hw.h"
#include "x86.h"
#include "sched.h"
#include "defs.h"

static inline void irq_enter(void)
{
	this_pcpu()->preempt_count += HARDIRQ_OFFSET;
	this_pcpu()->irq_count++;
}

/* leave hard-IRQ context; softirqs raised meanwhile run now (softirq.c) */
static inline void irq_exit(void)
{
	__irq_exit_rcu();
}

/*
 * The last stop before user mode.  Loop, because scheduling or a signal can
 * take a while and make more work due; check with interrupts off so nothing
 * new can become due between the last check and the iretq.
 */
void exit_to_user_mode_prepare(struct pt_regs *regs)
{
	for (;;) {
		local_irq_disable();
		if (current->sigpending) {
			local_irq_enable();
			do_exit(current->sigpending & 0x7f);    /* killed: the status is the signal */
		}
		if (!this_pcpu()->need_resched)
			break;
		local_irq_enable();
		schedule();
	}
}

void syscall_exit_to_user_mode(struct pt_regs *regs)
{
	exit_to_user_mode_prepare(regs);
}

void irqentry_exit(struct pt_regs *regs)
{
	if (user_mode(regs)) {
		exit_to_user_mode_prepare(regs);
		return;
	}
	local_irq_disable();
	if ((regs->flags & X86_EFLAGS_IF) && preempt_count() == 0 && this_pcpu()->need_resched)
		preempt_schedule_irq();
}

/*
 * An exception the kernel has no use for.  From user mode it kills the task
 * (Linux would send a signal; with no handlers, the result is the same);
 * in the kernel it is an oops.
 */
static void do_error_trap(struct pt_regs *regs, long error_code, const char *str, int signr)
{
	if (user_mode(regs)) {
		pr_info("traps: %s[%d] trap %s ip:%lx sp:%lx error:%lx\n",
			current->comm, current->pid, str, regs->ip, regs->sp, error_code);
		current->sigpending = signr;
		return;
	}
	die(str, regs, error_code);
}

#define DEFINE_ERROR_TRAP(name, str, signr)                                  \
	void exc_##name(struct pt_regs *regs)                                \
	{                                                                    \
		do_error_trap(regs, 0, str, signr);                          \
		irqentry_exit(regs);                                         \
	}
#define DEFINE_ERROR_TRAP_EC(name, str, signr)                               \
	void exc_##name(struct pt_regs *regs, unsigned long error_code)      \
	{                                                                    \
		do_error_trap(regs, error_code, str, signr);                 \
		irqentry_exit(regs);                                         \
	}

DEFINE_ERROR_TRAP(debug, "debug", SIGTRAP)
DEFINE_ERROR_TRAP(overflow, "overflow", SIGSEGV)
DEFINE_ERROR_TRAP(bounds, "bounds", SIGSEGV)
DEFINE_ERROR_TRAP(device_not_available, "device not available", SIGSEGV)
DEFINE_ERROR_TRAP(coproc_segment_overrun, "coprocessor segment overrun", SIGFPE)
DEFINE_ERROR_TRAP_EC(invalid_tss, "invalid TSS", SIGSEGV)
DEFINE_ERROR_TRAP_EC(segment_not_present, "segment not present", SIGBUS)
DEFINE_ERROR_TRAP_EC(stack_segment, "stack segment", SIGBUS)
DEFINE_ERROR_TRAP(spurious_interrupt_bug, "spurious interrupt bug", SIGSEGV)
DEFINE_ERROR_TRAP(coprocessor_error, "coprocessor error", SIGFPE)
DEFINE_ERROR_TRAP_EC(alignment_check, "alignment check", SIGBUS)
DEFINE_ERROR_TRAP(machine_check, "machine check", SIGBUS)
DEFINE_ERROR_TRAP(simd_coprocessor_error, "SIMD coprocessor error", SIGFPE)
DEFINE_ERROR_TRAP_EC(control_protection, "control protection fault", SIGSEGV)

/* the exceptions the lab is about: their handlers are in traps.c */
void exc_divide_error(struct pt_regs *regs)
{
	do_divide_error(regs);
	irqentry_exit(regs);
}

void exc_int3(struct pt_regs *regs)
{
	do_int3(regs);
	irqentry_exit(regs);
}

/* exc_invalid_op is in traps.c, as in Linux: a WARN() is handled before any entry work */

void exc_general_protection(struct pt_regs *regs, unsigned long error_code)
{
	do_general_protection(regs, error_code);
	irqentry_exit(regs);
}

void exc_page_fault(struct pt_regs *regs, unsigned long error_code)
{
	do_page_fault(regs, error_code);
	irqentry_exit(regs);
}

/* on the IST stack: the kernel stack may be what overflowed */
void exc_double_fault(struct pt_regs *regs, unsigned long error_code)
{
	this_pcpu()->preempt_count += NMI_OFFSET + HARDIRQ_OFFSET;
	pr_emerg("PANIC: double fault, error_code: 0x%lx\n", error_code);
	die("double fault", regs, error_code);
	panic("Machine halted.");
}

/*
 * NMIs: smp_send_stop()'s NMI fallback first (smp_stop_nmi_callback, which
 * never returns), then whatever traps.c makes of it (the crash NMI of kdump,
 * unknown NMIs).
 */
void exc_nmi(struct pt_regs *regs)
{
	struct pcpu *p = this_pcpu();

	p->preempt_count += NMI_OFFSET + HARDIRQ_OFFSET;
	p->in_nmi++;
	if (!smp_stop_nmi_callback(regs))
		do_nmi(regs);
	p->in_nmi--;
	p->preempt_count -= NMI_OFFSET + HARDIRQ_OFFSET;
}

/* ---- device and system interrupts ----------------------------------- */

/* acknowledge first: a handler may end up scheduling away before it returns */
void sysvec_apic_timer_interrupt(struct pt_regs *regs)
{
	irq_enter();
	apic_eoi();
	timer_interrupt(regs);
	irq_exit();
	irqentry_exit(regs);
}

void sysvec_reschedule_ipi(struct pt_regs *regs)
{
	apic_eoi();
	this_pcpu()->need_resched = 1;      /* acted on by irqentry_exit */
	irqentry_exit(regs);
}

void sysvec_call_function(struct pt_regs *regs)
{
	irq_enter();
	apic_eoi();
	generic_smp_call_function_interrupt();
	irq_exit();
	irqentry_exit(regs);
}

/* smp_send_stop()'s REBOOT_VECTOR: the CPU stops here, in hard-IRQ context */
void sysvec_reboot(struct pt_regs *regs)
{
	irq_enter();
	apic_eoi();
	stop_this_cpu(NULL);
}

void sysvec_spurious_apic_interrupt(struct pt_regs *regs)
{
	/* a spurious interrupt is not acknowledged (Intel SDM 10.9) */
}

void common_interrupt(struct pt_regs *regs, unsigned long error_code)
{
	u8 vector = (u8)error_code;     /* the stub pushed it where the error code goes */

	if (vector < 32) {
		/* an exception without a handler of its own: reserved vectors */
		do_error_trap(regs, 0, "unexpected exception", SIGSEGV);
		irqentry_exit(regs);
		return;
	}
	irq_enter();
	apic_eoi();
	if (vector == SERIAL_VECTOR)
		console_input_irq();
	else
		pr_emerg("%s: %d.%u No irq handler for vector\n", __func__, smp_processor_id(), vector);
	irq_exit();
	irqentry_exit(regs);
}
