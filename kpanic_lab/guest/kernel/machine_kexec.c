/*
 * machine_kexec.c - the x86 side of the crash hand-off
 * (arch/x86/kernel/crash.c, reboot.c's nmi_shootdown_cpus, machine_kexec_64.c).
 *
 * machine_crash_shutdown(): interrupts off, then an NMI to every other CPU
 * (an NMI, because a CPU spinning with interrupts off must still answer).
 * Each saves its registers into its crash_notes (crash_nmi_callback) and
 * halts with interrupts off, forever: that is where a crash tool finds it.
 * Then this CPU saves its own registers.
 *
 * machine_kexec(): jump to purgatory.  Real x86 Linux first copies a small
 * trampoline to an identity-mapped control page and switches page tables
 * there; the lab's purgatory runs from the direct map instead, which both the
 * old kernel's page tables and the capture kernel's boot page tables map.
 */
#include "types.h"
#include "defs.h"
#include "sched.h"
#include "x86.h"
#include "hw.h"
#include "crash_core.h"
#include "memlayout.h"
#include "panic_stages.h"

static volatile int waiting_for_crash_ipi;
static int crashing_cpu = -1;

/* Registers of the CPU that crashes: the oops's, or right here if panic() called. */
void crash_setup_regs(struct pt_regs *newregs, struct pt_regs *oldregs)
{
	if (oldregs) {
		memcpy(newregs, oldregs, sizeof(*newregs));
		return;
	}
	/* as Linux's crash_setup_regs(): this function's own frame */
	asm volatile("movq %%rbx,%0" : "=m"(newregs->bx));
	asm volatile("movq %%rcx,%0" : "=m"(newregs->cx));
	asm volatile("movq %%rdx,%0" : "=m"(newregs->dx));
	asm volatile("movq %%rsi,%0" : "=m"(newregs->si));
	asm volatile("movq %%rdi,%0" : "=m"(newregs->di));
	asm volatile("movq %%rbp,%0" : "=m"(newregs->bp));
	asm volatile("movq %%rax,%0" : "=m"(newregs->ax));
	asm volatile("movq %%rsp,%0" : "=m"(newregs->sp));
	asm volatile("movq %%r8,%0" : "=m"(newregs->r8));
	asm volatile("movq %%r9,%0" : "=m"(newregs->r9));
	asm volatile("movq %%r10,%0" : "=m"(newregs->r10));
	asm volatile("movq %%r11,%0" : "=m"(newregs->r11));
	asm volatile("movq %%r12,%0" : "=m"(newregs->r12));
	asm volatile("movq %%r13,%0" : "=m"(newregs->r13));
	asm volatile("movq %%r14,%0" : "=m"(newregs->r14));
	asm volatile("movq %%r15,%0" : "=m"(newregs->r15));
	asm volatile("movl %%ss,%k0" : "=a"(newregs->ss));
	asm volatile("movl %%cs,%k0" : "=a"(newregs->cs));
	asm volatile("pushfq; popq %0" : "=m"(newregs->flags));
	asm volatile("leaq 0(%%rip),%0" : "=r"(newregs->ip));
	newregs->orig_ax = -1;
}

/* the other CPUs: from exc_nmi -> do_nmi, while a crash is in progress */
static int crash_nmi_callback(unsigned int type, struct pt_regs *regs)
{
	int cpu = smp_processor_id();

	if (cpu == crashing_cpu)
		return 1;
	crash_save_cpu(regs, cpu);
	disable_local_APIC();
	lab_event(LAB_EV_CPU_STOPPED, cpu, 2, 0);   /* 2: stopped by the crash NMI */
	__sync_fetch_and_sub(&waiting_for_crash_ipi, 1);
	for (;;)
		asm volatile("cli; hlt" ::: "memory");
	return 1;
}

/* nmi_shootdown_cpus(): NMI every other online CPU and wait (1 s at most) */
static void nmi_shootdown_cpus(void)
{
	crashing_cpu = smp_processor_id();
	waiting_for_crash_ipi = num_online_cpus() - 1;
	register_nmi_handler(crash_nmi_callback, "crash");
	if (waiting_for_crash_ipi > 0) {
		apic_send_nmi(ICR_ALL_BUT_SELF);
		for (int ms = 0; ms < 1000 && waiting_for_crash_ipi > 0; ms++)
			mdelay(1);
	}
}

/* with crash_kexec_post_notifiers: panic() stops the others this way, so their registers are saved */
void crash_smp_send_stop(void)
{
	static int cpus_stopped;

	if (cpus_stopped)
		return;
	nmi_shootdown_cpus();
	cpus_stopped = 1;
}

void machine_crash_shutdown(struct pt_regs *regs)
{
	local_irq_disable();
	crash_smp_send_stop();
	crash_save_cpu(regs, smp_processor_id());
}

void __noreturn machine_kexec(struct kimage *image)
{
	void (*purgatory)(void) = __va(kexec_crash_start());

	local_irq_disable();
	disable_local_APIC();
	panic_stage(PANIC_STAGE_KEXEC, kexec_crash_start(), 0);
	purgatory();
	for (;;)
		asm volatile("cli; hlt");
}
