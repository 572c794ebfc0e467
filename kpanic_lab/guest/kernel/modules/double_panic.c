/*
 * double_panic - two CPUs call panic() at the same moment.
 *
 * One kernel thread per CPU waits until all are ready, then all call
 * panic().  Only one can own panic_cpu (an atomic compare-and-exchange in
 * panic()); the others find it taken and stop themselves silently in
 * panic_smp_self_stop(), where the winner's stop NMI finds them.
 */
#include "module.h"
#include "sched.h"
#include "panic_stages.h"

static volatile int lab_ready;
static int lab_cpus;

static int lab_race(void *unused)
{
	__sync_fetch_and_add(&lab_ready, 1);
	while (READ_ONCE(lab_ready) < lab_cpus)
		cpu_relax();
	panic_stage(PANIC_STAGE_TRIGGER, TRIGGER_MODULE_PANIC, smp_processor_id());
	panic("double_panic: CPU %d panics too", smp_processor_id());
	return 0;
}

static int __init double_panic_init(void)
{
	static const char *const names[] = { "lab_race/0", "lab_race/1", "lab_race/2", "lab_race/3",
					     "lab_race/4", "lab_race/5", "lab_race/6", "lab_race/7" };
	int cpu;

	lab_cpus = num_online_cpus();
	if (lab_cpus < 2) {
		pr_err("double_panic: needs 2 CPUs (booted with %d)\n", lab_cpus);
		return -19;     /* -ENODEV */
	}
	for (cpu = 0; cpu < lab_cpus; cpu++)
		kthread_run_on_cpu(lab_race, NULL, cpu, names[cpu]);
	return 0;
}

module_init(double_panic_init);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("two CPUs panic at once");
