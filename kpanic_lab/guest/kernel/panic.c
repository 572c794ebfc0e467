/*
 * panic.c - the end of the world (kernel/panic.c, Linux 6.1), and taints.
 *
 * panic() step by step, in Linux 6.1's order (each step is reported to the
 * lab, panic_stages.h; tests/panic/test_panic_order.py holds the list from
 * 6.1's source and compares):
 *   ENTRY            panic_on_warn reset (a WARN in the panic path must not recurse)
 *   IRQS_OFF         local_irq_disable(); preempt_disable_notrace()
 *   CPU_CLAIMED      claim panic_cpu: a second CPU that panics meanwhile stops
 *                    itself (panic_smp_self_stop); a nested panic here carries on
 *   MESSAGE          "Kernel panic - not syncing: <msg>"
 *   STACK_DUMPED     dump_stack(), unless an oops just printed one
 *   KGDB             kgdb_panic(): a debugger's last chance (none here: nothing)
 *   CRASH_KEXEC      __crash_kexec(): a loaded capture kernel takes over now,
 *                    BEFORE the notifiers, unless crash_kexec_post_notifiers
 *   CPUS_STOPPED     smp_send_stop(): REBOOT_VECTOR IPI, then NMIs if needed
 *                    (smp.c); with crash_kexec_post_notifiers
 *                    crash_smp_send_stop(): NMIs that save registers
 *   NOTIFIER_*       the panic_notifier_list chain, by priority
 *   SYS_INFO         panic_print_sys_info(false): what panic_print= asks for
 *   KMSG_DUMP        kmsg_dump(KMSG_DUMP_PANIC)
 *   CRASH_KEXEC      here instead, with crash_kexec_post_notifiers
 *   CONSOLE_UNBLANK  console_unblank()
 *   DEBUG_LOCKS_OFF  debug_locks_off()
 *   CONSOLE_FLUSH    console_flush_on_panic(CONSOLE_FLUSH_PENDING)
 *   SYS_INFO         panic_print_sys_info(true): the whole log again if asked
 *   TIMEOUT          panic_timeout > 0: "Rebooting in N seconds..", wait
 *                    (calling panic_blink); != 0: panic_reboot_mode,
 *   RESTART          emergency_restart();
 *   LOOP             0: the end marker, suppress_printk = 1, interrupts back
 *                    on, and loop forever calling panic_blink.
 * It never syncs file systems: dirty page cache stays dirty in memory, which
 * is why a crash dump can still find it.
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
#define PANIC_BLINK_SPD     18

/* panic_print bits (kernel/panic.c) */
#define PANIC_PRINT_TASK_INFO           0x00000001
#define PANIC_PRINT_MEM_INFO            0x00000002
#define PANIC_PRINT_TIMER_INFO          0x00000004
#define PANIC_PRINT_LOCK_INFO           0x00000008
#define PANIC_PRINT_FTRACE_INFO         0x00000010
#define PANIC_PRINT_ALL_PRINTK_MSG      0x00000020
#define PANIC_PRINT_ALL_CPU_BT          0x00000040

#define REBOOT_UNDEFINED    -1

int panic_timeout;                  /* kernel.panic, panic= */
int panic_on_oops;                  /* kernel.panic_on_oops, oops=panic (6.1 has no panic_on_oops=) */
int panic_on_warn;                  /* kernel.panic_on_warn, panic_on_warn= */
int crash_kexec_post_notifiers;     /* crash_kexec_post_notifiers on the command line */
int panic_cpu = PANIC_CPU_INVALID;  /* the CPU running panic(), as atomic_t panic_cpu */
unsigned long panic_print;          /* kernel.panic_print, panic_print= */
int panic_reboot_mode = REBOOT_UNDEFINED;  /* reboot=panic_<mode> (setup.c); the lab has one reset */
int reboot_mode;                    /* enum reboot_mode: 0 cold, 1 warm, 2 hard, 3 soft, 4 gpio */
int oops_limit = 10000;             /* kernel.oops_limit (6.1.y) */
int warn_limit;                     /* kernel.warn_limit (6.1.y), 0 = no limit */
int debug_locks = 1;                /* lockdep is not built in: only the flag */
unsigned long tainted_mask;
int warn_count;                     /* /sys/kernel/warn_count */

/* Returns how long it waited in ms: keyboard LEDs on a PC (i8042), none here */
static long no_blink(int state)
{
	return 0;
}
long (*panic_blink)(int state);

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

/* kgdb_panic(): with a kernel debugger attached it would stop here; the lab has none */
static void kgdb_panic(const char *msg)
{
	panic_stage(PANIC_STAGE_KGDB, 0, 0);
}

/* "Dumping ftrace buffer:" as ftrace_dump() prints it with nothing traced (no tracer here) */
static void ftrace_dump(void)
{
	printk(KERN_EMERG "Dumping ftrace buffer:\n");
	printk(KERN_EMERG "   (ftrace buffer empty)\n");
}

/*
 * trigger_all_cpu_backtrace() (lib/nmi_backtrace.c): a backtrace of every
 * online CPU, the others by NMI.  Called here, after smp_send_stop(), only
 * this CPU is still online: 6.1 prints its own backtrace and nobody else's
 * (later kernels moved the call before the CPUs are stopped for that reason).
 */
static void trigger_all_cpu_backtrace(void)
{
	if (cpu_online_mask & ~(1UL << smp_processor_id()))
		pr_info("Sending NMI from CPU %d to CPUs %lx:\n", smp_processor_id(),
			cpu_online_mask & ~(1UL << smp_processor_id()));
	pr_err("NMI backtrace for cpu %d\n", smp_processor_id());
	dump_stack();
}

/*
 * What panic_print= (kernel.panic_print) asks for.  Timers (0x4) are not
 * implemented; without lockdep, locks (0x8) print nothing in Linux either.
 */
static void panic_print_sys_info(bool console_flush)
{
	panic_stage(PANIC_STAGE_SYS_INFO, panic_print, console_flush);
	if (console_flush) {
		if (panic_print & PANIC_PRINT_ALL_PRINTK_MSG)
			console_flush_on_panic(CONSOLE_REPLAY_ALL);
		return;
	}
	if (panic_print & PANIC_PRINT_ALL_CPU_BT)
		trigger_all_cpu_backtrace();
	if (panic_print & PANIC_PRINT_TASK_INFO)
		show_state();
	if (panic_print & PANIC_PRINT_MEM_INFO)
		show_mem();
	if (panic_print & PANIC_PRINT_FTRACE_INFO)
		ftrace_dump();
}

/* the console is a serial line: nothing to unblank (a VT would be redrawn here) */
static void console_unblank(void)
{
	panic_stage(PANIC_STAGE_CONSOLE_UNBLANK, 0, 0);
}

/* lock debugging off: a stopped CPU may hold locks forever now */
static void debug_locks_off(void)
{
	debug_locks = 0;
	panic_stage(PANIC_STAGE_DEBUG_LOCKS_OFF, 0, 0);
}

void __noreturn __cold panic(const char *fmt, ...)
{
	static char buf[1024];
	va_list args;
	long i, i_next = 0, len;
	int state = 0;
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
	 * panic_smp_self_stop and nobody would finish the panic.  NMIs still
	 * get through: IF does not mask them.
	 */
	local_irq_disable();
	preempt_disable_notrace();
	panic_stage(PANIC_STAGE_IRQS_OFF, 0, 0);

	/*
	 * Only one CPU runs the rest.  old_cpu == INVALID: we are first.
	 * old_cpu == this_cpu: nmi_panic() or crash_kexec() set it, or a
	 * nested panic on this CPU: go on.  Otherwise stop here, silently,
	 * until the panicking CPU stops us.
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
	 * If kgdb is enabled, give it a chance to run before we stop all
	 * the other CPUs or else we won't be able to debug processes left
	 * running on them.
	 */
	kgdb_panic(buf);

	/*
	 * If a crash kernel is loaded, let it handle everything else: this
	 * does not return when it is.  Then stop the other CPUs.
	 */
	if (!_crash_kexec_post_notifiers) {
		panic_stage(PANIC_STAGE_CRASH_KEXEC, kexec_crash_loaded(), 0);
		__crash_kexec(NULL);
		/* the usual SMP shutdown, not hardened for a panic (smp.c) */
		smp_send_stop();
	} else {
		/* the crash dump comes later: stop the others, saving their registers */
		crash_smp_send_stop();
	}
	panic_stage(PANIC_STAGE_CPUS_STOPPED, cpu_online_mask, 0);

	/* Run the panic handlers, including those that add to the kmsg dump. */
	atomic_notifier_call_chain(&panic_notifier_list, 0, buf);

	panic_print_sys_info(false);

	kmsg_dump(KMSG_DUMP_PANIC);

	if (_crash_kexec_post_notifiers) {
		panic_stage(PANIC_STAGE_CRASH_KEXEC, kexec_crash_loaded(), 1);
		__crash_kexec(NULL);
	}

	console_unblank();

	/*
	 * A CPU stopped by smp_send_stop() may have held the console lock
	 * with messages unprinted: print them now, whoever holds it.  Lock
	 * debugging goes off first, so that is not reported as a bug.
	 */
	debug_locks_off();
	console_flush_on_panic(CONSOLE_FLUSH_PENDING);
	panic_stage(PANIC_STAGE_CONSOLE_FLUSH, 0, 0);

	panic_print_sys_info(true);

	if (!panic_blink)
		panic_blink = no_blink;

	panic_stage(PANIC_STAGE_TIMEOUT, panic_timeout, 0);
	if (panic_timeout > 0) {
		/* The normal timers are gone: just wait, PANIC_TIMER_STEP at a time. */
		pr_emerg("Rebooting in %d seconds..\n", panic_timeout);
		for (i = 0; i < panic_timeout * 1000L; i += PANIC_TIMER_STEP) {
			if (i >= i_next) {
				i += panic_blink(state ^= 1);
				i_next = i + 3600 / PANIC_BLINK_SPD;
			}
			mdelay(PANIC_TIMER_STEP);
		}
	}
	if (panic_timeout != 0) {
		/* not a clean reboot, but a reboot */
		if (panic_reboot_mode != REBOOT_UNDEFINED)
			reboot_mode = panic_reboot_mode;
		panic_stage(PANIC_STAGE_RESTART, panic_timeout, reboot_mode);
		emergency_restart();
	}

	pr_emerg("---[ end Kernel panic - not syncing: %s ]---\n", buf);

	/* Do not scroll important messages printed above */
	suppress_printk = 1;
	/* Interrupts back on (the other CPUs are stopped), and wait forever. */
	local_irq_enable();
	panic_stage(PANIC_STAGE_LOOP, suppress_printk, 0);
	lab_event(LAB_EV_PANIC_LOOP, this_cpu, 0, 0);
	for (i = 0; ; i += PANIC_TIMER_STEP) {
		if (i >= i_next) {
			i += panic_blink(state ^= 1);
			i_next = i + 3600 / PANIC_BLINK_SPD;
		}
		mdelay(PANIC_TIMER_STEP);
	}
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

/*
 * A warning panics with panic_on_warn, or once warn_limit warnings were
 * counted (6.1.y: repeated WARN()s could otherwise be exploited).
 */
void check_panic_on_warn(const char *origin)
{
	int limit;

	if (panic_on_warn)
		panic("%s: panic_on_warn set ...\n", origin);
	limit = READ_ONCE(warn_limit);
	if (__sync_add_and_fetch(&warn_count, 1) >= limit && limit)
		panic("%s: system warned too often (kernel.warn_limit is %d)", origin, limit);
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
}
