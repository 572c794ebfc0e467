/*
 * kexec_core.c - the crash kernel hand-off (kernel/kexec_core.c).
 *
 * kdump works by loading a second ("capture") kernel into memory reserved
 * with crashkernel= at boot, while the system is healthy (kexec -p).  When
 * the system panics, __crash_kexec() saves the CPU registers and jumps into
 * it; the capture kernel then copies out the old kernel's memory.
 *
 * Loading a capture kernel is a later part of the lab.  Until then nothing
 * is ever loaded, and these functions say so honestly: __crash_kexec()
 * returns and panic() goes on to the notifiers and the timeout.
 */
#include "types.h"
#include "defs.h"
#include "sched.h"

struct kimage;
struct kimage *kexec_crash_image;   /* the loaded capture kernel, or NULL */

int kexec_crash_loaded(void)
{
	return kexec_crash_image != NULL;
}

/*
 * Jump to the capture kernel if one is loaded.  panic() calls this directly
 * (it already owns panic_cpu); others go through crash_kexec().
 */
void __crash_kexec(struct pt_regs *regs)
{
	if (!kexec_crash_image)
		return;         /* no crash kernel loaded: nothing to do */
}

/*
 * crash_kexec() from oops_end(): only one CPU may try, the same rule as
 * panic(), so a panic() and a crash_kexec() on two CPUs cannot stop each
 * other half way.
 */
void crash_kexec(struct pt_regs *regs)
{
	int this_cpu = smp_processor_id();
	int old_cpu = __sync_val_compare_and_swap(&panic_cpu, -1, this_cpu);

	if (old_cpu == -1) {
		__crash_kexec(regs);
		/* no crash kernel took over: allow another panic()/crash_kexec() */
		panic_cpu = -1;
	}
}

/*
 * Should an oops go straight to the crash kernel?  Yes when it will panic
 * anyway (in interrupt, in init or the idle task, panic_on_oops), unless the
 * dump is wanted after the notifiers.
 */
int kexec_should_crash(struct task_struct *p)
{
	if (crash_kexec_post_notifiers)
		return 0;
	if (in_interrupt() || !p->pid || p->pid == 1 || panic_on_oops)
		return 1;
	return 0;
}

/*
 * With crash_kexec_post_notifiers, panic() stops the other CPUs itself and
 * the crash path must still find their registers; saving them is part of
 * the later kexec work, so for now this is the ordinary stop.
 */
void crash_smp_send_stop(void)
{
	smp_send_stop();
}
