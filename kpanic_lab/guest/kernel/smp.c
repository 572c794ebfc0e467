/*
 * smp.c - the other CPUs: starting them, asking them to do something
 * (IPIs), and stopping them (panic, reboot).
 *
 * Boot: CPU 0 starts the others one at a time with a STARTUP IPI, each on
 * the stack of its own idle task, and waits until it says it is online
 * (secondary_start_kernel in main.c).
 *
 * Stop: smp_send_stop() sends an NMI to every other CPU.  An NMI gets
 * through even to a CPU that spins with interrupts off (for instance one
 * that waits for a lock the panicking CPU holds), which is why Linux falls
 * back to NMIs and why the lab uses them directly.  Each CPU that receives it
 * runs stop_this_cpu(): goes offline, turns interrupts off, halts for good.
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "sched.h"
#include "spinlock.h"
#include "errno.h"
#include "defs.h"

void secondary_startup_64(void);        /* entry.S */

unsigned long cpu_online_mask;

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

static volatile int stop_requested;
static volatile int stopping_cpu = -1;

/*
 * A CPU's last code: off the online mask, interrupts and its timer off, and
 * hlt with IF=0, which nothing but an NMI (a kdump crash NMI) can end.
 */
void stop_this_cpu(void *unused)
{
	int cpu = smp_processor_id();

	local_irq_disable();
	set_cpu_online(cpu, false);
	disable_local_APIC();
	lab_event(LAB_EV_CPU_STOPPED, cpu, 0, 0);
	for (;;)
		asm volatile("hlt" ::: "memory");
}

/* exc_nmi (irqentry.c) asks here first: is this NMI the stop request? */
int smp_stop_nmi_callback(struct pt_regs *regs)
{
	if (!stop_requested)
		return 0;
	if (smp_processor_id() == stopping_cpu)
		return 1;               /* ours: nothing to do */
	stop_this_cpu(NULL);
}

/* Stop every other CPU (panic, reboot).  Prints nothing unless one does not stop. */
void smp_send_stop(void)
{
	int ms;

	if (num_online_cpus() <= 1)
		return;
	stopping_cpu = smp_processor_id();
	stop_requested = 1;
	apic_send_nmi(ICR_ALL_BUT_SELF);
	for (ms = 0; ms < 1000 && num_online_cpus() > 1; ms++)
		mdelay(1);
	if (num_online_cpus() > 1)
		pr_emerg("smp: failed to stop secondary CPUs %lx\n",
			 cpu_online_mask & ~(1UL << smp_processor_id()));
}

/*
 * A CPU that calls panic() while another CPU is already panicking: it says
 * so and spins with interrupts off, where the panicking CPU's stop NMI will
 * find it (Linux's default panic_smp_self_stop spins the same way).
 */
void panic_smp_self_stop(void)
{
	lab_event(LAB_EV_CPU_STOPPED, smp_processor_id(), 1, 0);
	for (;;)
		cpu_relax();
}
