/*
 * panic_stages.h - the stages of the panic path, as the guest reports them.
 *
 * At each stage the kernel reports lab_event(LAB_EV_STAGE, stage, a, b)
 * (hw.h); the machine records the CPU, RIP and virtual time with it, and the
 * lab's panic state machine (kpanic_lab/panic) reads the trace.  The numbers
 * are the contract: append new stages, never renumber.  `a` and `b` per stage:
 */
#ifndef KPANIC_PANIC_STAGES_H
#define KPANIC_PANIC_STAGES_H
#include "x86.h"

enum panic_stage {
	PANIC_STAGE_TRIGGER        = 1,  /* a = enum panic_trigger, b = detail (address, key, ...) */
	PANIC_STAGE_OOPS           = 2,  /* oops_begin(): a = die counter (after ++), b = trap number */
	PANIC_STAGE_OOPS_END       = 3,  /* oops_end(): a = signal (0: none), b = bit 0 it panics itself, bit 1 crash_kexec first */
	PANIC_STAGE_ENTRY          = 4,  /* panic() entered: a = caller address */
	PANIC_STAGE_IRQS_OFF       = 5,  /* local_irq_disable + preempt_disable done */
	PANIC_STAGE_CPU_CLAIMED    = 6,  /* a = this cpu, b = old panic_cpu (-1: first) */
	PANIC_STAGE_SELF_STOP      = 7,  /* another CPU panics already: a = this cpu, b = panic_cpu */
	PANIC_STAGE_MESSAGE        = 8,  /* "Kernel panic - not syncing" printed: a = log seq */
	PANIC_STAGE_STACK_DUMPED   = 9,  /* a = 1 dumped, 0 skipped (an oops printed one) */
	PANIC_STAGE_CRASH_KEXEC    = 10, /* __crash_kexec tried: a = kexec_crash_loaded(), b = 1 after notifiers */
	PANIC_STAGE_CPUS_STOPPED   = 11, /* smp_send_stop() returned: a = cpu_online_mask */
	PANIC_STAGE_NOTIFIER_CALL  = 12, /* a = notifier_call address, b = priority */
	PANIC_STAGE_NOTIFIER_RET   = 13, /* a = notifier_call address, b = return value */
	PANIC_STAGE_NOTIFIERS_DONE = 14, /* a = number called, b = last return value */
	PANIC_STAGE_KMSG_DUMP      = 15, /* a = number of dumpers, b = reason (KMSG_DUMP_PANIC) */
	PANIC_STAGE_CONSOLE_FLUSH  = 16, /* console_flush_on_panic done */
	PANIC_STAGE_TIMEOUT        = 17, /* a = panic_timeout */
	PANIC_STAGE_RESTART        = 18, /* emergency_restart() about to run: a = panic_timeout, b = reboot_mode */
	PANIC_STAGE_LOOP           = 19, /* the end marker printed, suppress_printk = a, the final loop begins */
	PANIC_STAGE_WARN           = 20, /* __warn(): a = bug address, b = panic_on_warn */
	PANIC_STAGE_KEXEC          = 21, /* machine_kexec(): a = purgatory entry (physical), the jump */
	PANIC_STAGE_STOP_IPI       = 22, /* smp_send_stop() sent REBOOT_VECTOR: a = mask of the CPUs asked */
	PANIC_STAGE_STOP_NMI       = 23, /* ... and fell back to an NMI: a = mask of the CPUs still online */
	PANIC_STAGE_KGDB           = 24, /* kgdb_panic(): a = 1 if a debugger took over (never here) */
	PANIC_STAGE_SYS_INFO       = 25, /* panic_print_sys_info(): a = panic_print, b = console_flush */
	PANIC_STAGE_CONSOLE_UNBLANK = 26, /* console_unblank() */
	PANIC_STAGE_DEBUG_LOCKS_OFF = 27, /* debug_locks_off() */
};

/* what started it (PANIC_STAGE_TRIGGER's a) */
enum panic_trigger {
	TRIGGER_SYSRQ_CRASH = 1,  /* echo c > /proc/sysrq-trigger */
	TRIGGER_MODULE_PANIC = 2, /* a module called panic() (my_panic) */
	TRIGGER_PAGE_FAULT = 3,   /* a kernel page fault: b = address */
	TRIGGER_BUG = 4,          /* BUG()/BUG_ON(): b = bug address */
	TRIGGER_WARN = 5,         /* WARN()/WARN_ON(): b = bug address */
	TRIGGER_GP = 6,           /* general protection fault */
	TRIGGER_DIVIDE = 7,       /* divide error */
	TRIGGER_NMI = 8,          /* an unknown NMI */
};

#define panic_stage(stage, a, b) lab_event(LAB_EV_STAGE, (stage), (unsigned long)(a), (unsigned long)(b))

#endif
