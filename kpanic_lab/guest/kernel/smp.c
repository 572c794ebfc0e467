/*
 * smp.c - the other CPUs: starting them, asking them to do something
 * (IPIs), and stopping them (panic, reboot).
 *
 * Boot: CPU 0 starts the others one at a time with a STARTUP IPI, each on
 * the stack of its own idle task, and waits until it says it is online
 * (secondary_start_kernel in main.c).
 *
 * Stop: smp_send_stop() is x86's native_stop_other_cpus() (arch/x86/kernel/
 * smp.c, Linux 6.1), in two steps:
 *   1. a REBOOT_VECTOR IPI to every other CPU, a normal interrupt: a CPU with
 *      interrupts on takes it (sysvec_reboot, in hard-IRQ context) and runs
 *      stop_this_cpu(); then wait up to 1 s for them all to go offline;
 *   2. only if some CPU is still online (it spins with interrupts off, for
 *      instance in panic_smp_self_stop), "Shutting down cpus with NMI" and an
 *      NMI, which IF cannot mask (smp_stop_nmi_callback -> stop_this_cpu);
 *      wait up to 10 ms more.  Nothing is printed if a CPU still does not stop.
 * kdump stops the CPUs differently: crash_smp_send_stop() -> nmi_shootdown_cpus()
 * sends NMIs at once, and each CPU saves its registers (machine_kexec.c).
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "sched.h"
#include "spinlock.h"
#include "errno.h"
#include "defs.h"
#include "panic_stages.h"

void secondary_startup_64(void);        /* entry.S */

unsigned long __cpu_online_mask;

static void set_cpu_online(int cpu, bool online)
{
	if (online)
		asm volatile("lock orq %1, %0" : "+m"(cpu_online_mask) : "r"(1UL << cpu) : "memory");
	else
		asm volatile("lock andq %1, %0" : "+m"(cpu_online_mask) : "r"(~(1UL << cpu)) : "memory");
	pcpu_data[cpu].online = online;
}

static bool cpu_online(int cpu)
{
	return (READ_ONCE(cpu_online_mask) >> cpu) & 1;
}

int num_online_cpus(void)
{
	unsigned long m = READ_ONCE(cpu_online_mask);
	int n = 0;

	for (; m; m &= m - 1)
		n++;
	return n;
}

/* a CPU says it is up (CPU 0 from start_kernel, the others from secondary_start_kernel) */
void notify_cpu_starting(int cpu)
{
	set_cpu_online(cpu, true);
	lab_event(LAB_EV_CPU_ONLINE, cpu, 0, 0);
}

/* how many CPUs to run: the machine's count, lowered by nr_cpus= (setup.c) */
static int smp_cpu_count(void)
{
	int n = inl(APIC_NCPUS_PORT);

	if (nr_cpu_ids && (int)nr_cpu_ids < n)
		n = nr_cpu_ids;
	return min(n, NR_CPUS);
}

/* start CPU `cpu` on its idle task's stack and wait (up to 1 s) for it to come online */
static int do_boot_cpu(int cpu)
{
	struct task_struct *idle = fork_idle(cpu);
	struct pcpu *p = &pcpu_data[cpu];
	int ms;

	if (!idle)
		return -ENOMEM;
	p->self = p;
	p->cpu_number = cpu;
	p->idle = idle;
	p->current_task = idle;
	/*
	 * INIT, then STARTUP, as Linux's wakeup_secondary_cpu_via_init(): the
	 * INIT parks the CPU even if it was not parked (a capture kernel finds
	 * the crashed kernel's CPUs halted by the crash NMI, not parked).
	 */
	apic_send_init(cpu);
	apic_send_startup(cpu, secondary_startup_64, (unsigned long)task_pt_regs(idle));
	for (ms = 0; ms < 1000 && !cpu_online(cpu); ms++)
		mdelay(1);
	return cpu_online(cpu) ? 0 : -EIO;
}

/*
 * The lines Linux prints (arch/x86/kernel/smpboot.c, announce_cpu), with one
 * node and fewer than 10 CPUs:
 *   smp: Bringing up secondary CPUs ...
 *   x86: Booting SMP configuration:
 *   .... node  #0, CPUs:      #1 #2 #3
 *   smp: Brought up 1 node, 4 CPUs
 */
void smp_init(void)
{
	int n = smp_cpu_count();
	int cpu;

	pr_info("smp: Bringing up secondary CPUs ...\n");
	for (cpu = 1; cpu < n; cpu++) {
		if (cpu == 1) {
			pr_info("x86: Booting SMP configuration:\n");
			pr_info(".... node  #0, CPUs:     ");
		}
		pr_cont(" #%d", cpu);
		if (do_boot_cpu(cpu))
			pr_err("smpboot: do_boot_cpu failed(%d) to wakeup CPU#%u\n", -EIO, cpu);
	}
	if (n > 1)
		pr_cont("\n");
	pr_info("smp: Brought up 1 node, %d CPU%s\n", num_online_cpus(), num_online_cpus() > 1 ? "s" : "");
}

/* ---- IPIs ---------------------------------------------------------------- */

void smp_send_reschedule(int cpu)
{
	apic_send_ipi(cpu, RESCHEDULE_VECTOR);
}

static DEFINE_SPINLOCK(call_function_lock);
static struct {
	void (*func)(void *);
	void *info;
	volatile unsigned long pending;     /* CPUs that have not run func yet */
} call_data;

/*
 * Run fn(info) on every other online CPU, from their CALL_FUNCTION_VECTOR
 * interrupt.  Waits until they all have (`wait` or not: call_data is reused).
 * Must be called with interrupts on, or two CPUs calling at once deadlock.
 */
void smp_call_function(void (*fn)(void *), void *info, int wait)
{
	unsigned long others;
	int cpu;

	spin_lock(&call_function_lock);
	others = READ_ONCE(cpu_online_mask) & ~(1UL << smp_processor_id());
	if (others) {
		call_data.func = fn;
		call_data.info = info;
		call_data.pending = others;
		for (cpu = 0; cpu < NR_CPUS; cpu++)
			if (others & (1UL << cpu))
				apic_send_ipi(cpu, CALL_FUNCTION_VECTOR);
		while (call_data.pending & READ_ONCE(cpu_online_mask))
			cpu_relax();
	}
	spin_unlock(&call_function_lock);
}

/* sysvec_call_function (irqentry.c) */
void generic_smp_call_function_interrupt(void)
{
	void (*fn)(void *) = call_data.func;
	void *info = call_data.info;
	unsigned long me = 1UL << smp_processor_id();

	if (!(call_data.pending & me))
		return;
	fn(info);
	asm volatile("lock andq %1, %0" : "+m"(call_data.pending) : "r"(~me) : "memory");
}

/* ---- stopping ------------------------------------------------------------ */

static volatile int stopping_cpu = -1;      /* the CPU running native_stop_other_cpus, as atomic_t */
static volatile int stop_nmi_registered;    /* register_stop_handler(): the "smp_stop" NMI handler */

/* how a CPU came to stop (LAB_EV_CPU_STOPPED's second argument, hw.h) */
#define STOPPED_BY_NMI          0
#define STOPPED_SELF            1
#define STOPPED_BY_IPI          3

/*
 * A CPU's last code (arch/x86/kernel/process.c): interrupts off, off the
 * online mask, its local APIC (timer) off, and hlt with IF=0, which only an
 * NMI can interrupt (and the CPU halts again after it).  Reached from
 * sysvec_reboot (the REBOOT_VECTOR IPI, hard-IRQ context) or from the stop
 * NMI (smp_stop_nmi_callback); the lab is told which.
 */
void stop_this_cpu(void *dummy)
{
	int cpu = smp_processor_id();

	local_irq_disable();
	set_cpu_online(cpu, false);
	disable_local_APIC();
	lab_event(LAB_EV_CPU_STOPPED, cpu, in_nmi() ? STOPPED_BY_NMI : STOPPED_BY_IPI, 0);
	for (;;)
		asm volatile("hlt" ::: "memory");
}

/* exc_nmi (irqentry.c) asks here first: smp_stop_nmi_callback, the "smp_stop" NMI handler */
int smp_stop_nmi_callback(struct pt_regs *regs)
{
	if (!stop_nmi_registered)
		return 0;
	/* registered on the stopping CPU too: avoid a spurious NMI there */
	if (smp_processor_id() == stopping_cpu)
		return 1;
	stop_this_cpu(NULL);
}

/*
 * Stop every other CPU (panic, reboot): native_stop_other_cpus(wait = 0).
 * Only the first CPU to get here does it.
 */
void smp_send_stop(void)
{
	unsigned long ms;

	if (!__sync_bool_compare_and_swap(&stopping_cpu, -1, smp_processor_id()))
		return;
	/*
	 * The REBOOT_VECTOR first: a sync point that lets other CPUs leave
	 * critical sections with interrupts on; up to a second for them to stop.
	 */
	if (num_online_cpus() > 1) {
		panic_stage(PANIC_STAGE_STOP_IPI, cpu_online_mask & ~(1UL << smp_processor_id()), 0);
		apic_send_ipi(ICR_ALL_BUT_SELF, REBOOT_VECTOR);
		for (ms = 0; num_online_cpus() > 1 && ms < 1000; ms++)
			mdelay(1);
	}
	/* if the REBOOT_VECTOR did not work, try with the NMI */
	if (num_online_cpus() > 1) {
		stop_nmi_registered = 1;
		pr_emerg("Shutting down cpus with NMI\n");
		panic_stage(PANIC_STAGE_STOP_NMI, cpu_online_mask & ~(1UL << smp_processor_id()), 0);
		apic_send_nmi(ICR_ALL_BUT_SELF);
		/* don't wait longer than 10 ms: the caller did not ask to wait */
		for (ms = 0; num_online_cpus() > 1 && ms < 10; ms++)
			mdelay(1);
	}
	disable_local_APIC();
}

/*
 * A CPU that calls panic() while another CPU is already panicking spins
 * here with interrupts off (Linux's default panic_smp_self_stop(): a
 * cpu_relax() loop).  Only an NMI reaches it: the REBOOT_VECTOR IPI stays
 * pending.  The lab machine is told the CPU spins (cpu_relax_until_nmi), so
 * it can skip the billions of pause instructions instead of emulating them.
 */
void panic_smp_self_stop(void)
{
	lab_event(LAB_EV_CPU_STOPPED, smp_processor_id(), STOPPED_SELF, 0);
	for (;;)
		cpu_relax_until_nmi();
}
