/*
 * panic_on_cpu1 - a panic on CPU 1 while CPU 0 is busy.
 *
 * insmod starts two kernel threads: lab_busy/0, bound to CPU 0, spins with
 * interrupts on (a CPU hard at work), and lab_panic/1, bound to CPU 1,
 * panics.  panic() on CPU 1 must stop CPU 0 in the middle of its work: the
 * NMI of smp_send_stop() does not wait for CPU 0 to enable anything.
 */
#include "module.h"
#include "sched.h"
#include "panic_stages.h"

static volatile unsigned long lab_busy_loops;

static int lab_busy(void *unused)
{
	for (;;) {
		lab_busy_loops++;
		cpu_relax();
	}
	return 0;
}

static int lab_panic(void *unused)
{
	/* let CPU 0 get going first: wait until it has looped a while */
	while (READ_ONCE(lab_busy_loops) < 10000)
		cpu_relax();
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_MODULE_PANIC, smp_processor_id());
	panic("panic_on_cpu1: fatal error on CPU %d while CPU 0 was busy (%lu loops)",
	      smp_processor_id(), lab_busy_loops);
	return 0;
}

static int __init panic_on_cpu1_init(void)
{
	if (num_online_cpus() < 2) {
		pr_err("panic_on_cpu1: needs 2 CPUs (booted with %d)\n", num_online_cpus());
		return -19;     /* -ENODEV */
	}
	kthread_run_on_cpu(lab_busy, NULL, 0, "lab_busy/0");
	kthread_run_on_cpu(lab_panic, NULL, 1, "lab_panic/1");
	return 0;
}

module_init(panic_on_cpu1_init);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("panic on CPU 1 while CPU 0 is busy");
