/*
 * panic.c - the end of the world (kernel/panic.c, Linux 6.1), and taints.
 *
 * panic() in the order Linux 6.1 does it (the lecture simplifies; this is
 * what really happens):
 *   1. interrupts and preemption off on this CPU;
 *   2. claim panic_cpu: a second CPU that panics meanwhile stops itself
 *      (panic_smp_self_stop); a nested panic on this CPU carries on;
 *   3. "Kernel panic - not syncing: <msg>" and, unless an oops just printed
 *      one, the stack (dump_stack);
 *   4. __crash_kexec(): if a crash kernel is loaded, jump to it now, BEFORE
 *      the notifiers, unless crash_kexec_post_notifiers says otherwise;
 *   5. stop the other CPUs (an NMI to each: smp_send_stop);
 *   6. the panic notifier chain, by priority; then kmsg_dump(KMSG_DUMP_PANIC);
 *   7. __crash_kexec() here instead, if crash_kexec_post_notifiers;
 *   8. flush the console, whoever held its lock;
 *   9. panic_timeout > 0: "Rebooting in N seconds..", wait, restart;
 *      < 0: restart at once; 0: the end marker, interrupts back on, and loop
 *      forever.
 * It never syncs file systems: dirty page cache stays dirty in memory, which
 * is why a crash dump can still find it.  Each step is reported to the lab
 * (panic_stages.h).
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "x86.h"
#include "sched.h"
#include "notifier.h"
#include "panic_stages.h"
#include "taint.h"
#include "kmsg_dump.h"

#define PANIC_CPU_INVALID   -1
#define PANIC_TIMER_STEP    100     /* ms */

int panic_timeout;                  /* kernel.panic, panic= */
int panic_on_oops;                  /* kernel.panic_on_oops, panic_on_oops=, oops=panic */
int panic_on_warn;                  /* kernel.panic_on_warn */
int crash_kexec_post_notifiers;     /* crash_kexec_post_notifiers on the command line */
int panic_cpu = PANIC_CPU_INVALID;  /* the CPU running panic(), as atomic_t panic_cpu */
unsigned long tainted_mask;
int warn_count;

/* ---- taints (as kernel/panic.c's taint_flags[]) ------------------------ */

struct taint_flag {
	char c_true;    /* the letter when set */
	char c_false;   /* ... and when not */
};

static const struct taint_flag taint_flags[TAINT_FLAGS_COUNT] = {
	[TAINT_PROPRIETARY_MODULE]      = { 'P', 'G' },
	[TAINT_FORCED_MODULE]           = { 'F', ' ' },
	[TAINT_CPU_OUT_OF_SPEC]         = { 'S', ' ' },
	[TAINT_FORCED_RMMOD]            = { 'R', ' ' },
	[TAINT_MACHINE_CHECK]           = { 'M', ' ' },
	[TAINT_BAD_PAGE]                = { 'B', ' ' },
	[TAINT_USER]                    = { 'U', ' ' },
	[TAINT_DIE]                     = { 'D', ' ' },
	[TAINT_OVERRIDDEN_ACPI_TABLE]   = { 'A', ' ' },
	[TAINT_WARN]                    = { 'W', ' ' },
	[TAINT_CRAP]                    = { 'C', ' ' },
	[TAINT_FIRMWARE_WORKAROUND]     = { 'I', ' ' },
	[TAINT_OOT_MODULE]              = { 'O', ' ' },
	[TAINT_UNSIGNED_MODULE]         = { 'E', ' ' },
	[TAINT_SOFTLOCKUP]              = { 'L', ' ' },
	[TAINT_LIVEPATCH]               = { 'K', ' ' },
	[TAINT_AUX]                     = { 'X', ' ' },
	[TAINT_RANDSTRUCT]              = { 'T', ' ' },
	[TAINT_TEST]                    = { 'N', ' ' },
};

/* "Not tainted", or "Tainted: " and one column per flag: "Tainted: G      D    OE     " */
const char *print_tainted(void)
{
	static char buf[TAINT_FLAGS_COUNT + sizeof("Tainted: ")];

	if (!tainted_mask)
		return "Not tainted";
	char *s = buf + sprintf(buf, "Tainted: ");
	for (int i = 0; i < TAINT_FLAGS_COUNT; i++)
		*s++ = (tainted_mask >> i) & 1 ? taint_flags[i].c_true : taint_flags[i].c_false;
	*s = 0;
	return buf;
}

/* The letters of a module's taints, as module_flags_taint(): "OE" */
int taint_letters(unsigned long mask, char *buf)
{
	int n = 0;
	for (int i = 0; i < TAINT_FLAGS_COUNT; i++)
		if ((mask >> i) & 1)
			buf[n++] = taint_flags[i].c_true;
	buf[n] = 0;
	return n;
}

int test_taint(unsigned flag)
{
	return (tainted_mask >> flag) & 1;
}

void add_taint(unsigned flag, int lockdep_ok)
{
	__sync_fetch_and_or(&tainted_mask, 1UL << flag);
}

/* ---- panic ------------------------------------------------------------ */

void __noreturn __cold panic(const char *fmt, ...)
{
	static char buf[1024];
	va_list args;
	long len;
	int old_cpu, this_cpu;
	bool _crash_kexec_post_notifiers = crash_kexec_post_notifiers;

	panic_stage(PANIC_STAGE_ENTRY, __builtin_return_address(0), 0);
	/*
	 * This thread may hit another WARN() in the panic path; resetting
	 * panic_on_warn stops that from panicking again.
	 */
	if (panic_on_warn)
		panic_on_warn = 0;

	/*
	 * Interrupts off first: an interrupt handler that panics after
	 * panic_cpu is set would otherwise stop this CPU in
	 * panic_smp_self_stop and nobody would finish the panic.
	 */
	local_irq_disable();
	preempt_disable();
	panic_stage(PANIC_STAGE_IRQS_OFF, 0, 0);

	/*
	 * Only one CPU runs the rest.  old_cpu == INVALID: we are first.
	 * old_cpu == this_cpu: nmi_panic() or crash_kexec() set it, or a
	 * nested panic on this CPU: go on.  Otherwise stop here, silently;
	 * the panicking CPU will stop us with an NMI anyway.
	 */
	this_cpu = smp_processor_id();
	old_cpu = __sync_val_compare_and_swap(&panic_cpu, PANIC_CPU_INVALID, this_cpu);
	if (old_cpu != PANIC_CPU_INVALID && old_cpu != this_cpu) {
		panic_stage(PANIC_STAGE_SELF_STOP, this_cpu, old_cpu);
		panic_smp_self_stop();
	}
	panic_stage(PANIC_STAGE_CPU_CLAIMED, this_cpu, old_cpu);

	console_verbose();
	bust_spinlocks(1);
	va_start(args, fmt);
	len = vscnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';

	pr_emerg("Kernel panic - not syncing: %s\n", buf);
	panic_stage(PANIC_STAGE_MESSAGE, 0, 0);

	/* Avoid nested stack-dumping if a panic occurs during oops processing */
	if (!test_taint(TAINT_DIE) && oops_in_progress <= 1) {
		dump_stack();
		panic_stage(PANIC_STAGE_STACK_DUMPED, 1, 0);
	} else {
		panic_stage(PANIC_STAGE_STACK_DUMPED, 0, 0);
	}

	/*
	 * If a crash kernel is loaded, let it handle everything else: this
	 * does not return when it is.  Then stop the other CPUs.
	 */
	if (!_crash_kexec_post_notifiers) {
		panic_stage(PANIC_STAGE_CRASH_KEXEC, kexec_crash_loaded(), 0);
		__crash_kexec(NULL);
		smp_send_stop();
	} else {
		/* the crash dump comes later: stop the others, saving their registers */
		crash_smp_send_stop();
	}
	panic_stage(PANIC_STAGE_CPUS_STOPPED, cpu_online_mask, 0);

	/* Run the panic handlers, including those that add to the kmsg dump. */
	atomic_notifier_call_chain(&panic_notifier_list, 0, buf);

	kmsg_dump(KMSG_DUMP_PANIC);

	if (_crash_kexec_post_notifiers) {
		panic_stage(PANIC_STAGE_CRASH_KEXEC, kexec_crash_loaded(), 1);
		__crash_kexec(NULL);
	}

	/*
	 * A CPU stopped by smp_send_stop() may have held the console lock
	 * with messages unprinted: print them now, whoever holds it.
	 */
	console_flush_on_panic();
	panic_stage(PANIC_STAGE_CONSOLE_FLUSH, 0, 0);

	panic_stage(PANIC_STAGE_TIMEOUT, panic_timeout, 0);
	if (panic_timeout > 0) {
		/* The normal timers are gone: just wait, PANIC_TIMER_STEP at a time. */
		pr_emerg("Rebooting in %d seconds..\n", panic_timeout);
		for (long i = 0; i < panic_timeout * 1000L; i += PANIC_TIMER_STEP)
			mdelay(PANIC_TIMER_STEP);
	}
	if (panic_timeout != 0) {
		/* not a clean reboot, but a reboot */
		panic_stage(PANIC_STAGE_RESTART, panic_timeout, 0);
		emergency_restart();
	}

	pr_emerg("---[ end Kernel panic - not syncing: %s ]---\n", buf);

	/* Interrupts back on (the other CPUs are stopped), and wait forever. */
	local_irq_enable();
	panic_stage(PANIC_STAGE_LOOP, 0, 0);
	lab_event(LAB_EV_PANIC_LOOP, this_cpu, 0, 0);
	for (;;)
		mdelay(PANIC_TIMER_STEP);
}

/*
 * panic() from NMI context: the first CPU panics; another CPU that is
 * already panicking is left alone (it will be stopped by it).
 */
void nmi_panic(struct pt_regs *regs, const char *msg)
{
	int this_cpu = smp_processor_id();
	int old_cpu = __sync_val_compare_and_swap(&panic_cpu, PANIC_CPU_INVALID, this_cpu);

	if (old_cpu == PANIC_CPU_INVALID)
		panic("%s", msg);
	else if (old_cpu != this_cpu)
		panic_smp_self_stop();
}

/* ---- warnings --------------------------------------------------------- */

void check_panic_on_warn(const char *origin)
{
	if (panic_on_warn)
		panic("%s: panic_on_warn set ...\n", origin);
}

void print_oops_end_marker(void)
{
	pr_warn("---[ end trace %016llx ]---\n", 0ULL);
}

/*
 * WARN(): report and carry on (the trap handler skips the ud2 afterwards).
 * With panic_on_warn, the warning becomes a panic.
 */
void __warn(const char *file, int line, void *caller, unsigned taint, struct pt_regs *regs)
{
	panic_stage(PANIC_STAGE_WARN, caller, panic_on_warn);
	if (file)
		pr_warn("WARNING: CPU: %d PID: %d at %s:%d %pS\n",
			smp_processor_id(), current->pid, file, line, caller);
	else
		pr_warn("WARNING: CPU: %d PID: %d at %pS\n",
			smp_processor_id(), current->pid, caller);

	print_modules();
	if (regs)
		show_regs(regs);

	check_panic_on_warn("kernel");

	if (!regs)
		dump_stack();
	print_oops_end_marker();

	/* Just a warning: the kernel goes on, but it is tainted 'W' */
	add_taint(taint, 0);
	warn_count++;
}
