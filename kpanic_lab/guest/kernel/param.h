/* param.h - the kernel's tunables, in one place (as xv6's param.h). */
#ifndef KPANIC_PARAM_H
#define KPANIC_PARAM_H

#define NR_CPUS             8       /* most CPUs the kernel supports */
#define NR_TASKS            64      /* size of the task table */
#define NR_OPEN             16      /* open files per task */
#define THREAD_SIZE         16384   /* kernel stack per task (4 pages, as x86-64) */
#define IRQ_STACK_SIZE      16384   /* per-CPU interrupt stack */
#define HZ                  250     /* timer ticks per second (CONFIG_HZ_250, Debian's) */
#define LOG_BUF_SHIFT       17      /* printk ring buffer: 128 KiB */
#define MAX_MODULES         8
#define TASK_COMM_LEN       16

/* The machine has no real-time clock: the lab's wall clock reads 2026-11-26 08:00:00 UTC at
 * power-on and runs with virtual time, so dates (CRASHTIME, dump folders) are reproducible. */
#define LAB_EPOCH_SECONDS   1795680000ULL
#define SCHED_SLICE_TICKS   3       /* round-robin time slice, in timer ticks (12 ms at HZ=250) */

/* what `uname -r` and the "Linux version" banner say */
#define UTS_SYSNAME         "Linux"
#define UTS_NODENAME        "kpanic"
#define UTS_RELEASE         "6.1.0-kpanic"
#define UTS_VERSION         "#1 SMP PREEMPT_DYNAMIC kpanic_lab"
#define UTS_MACHINE         "x86_64"
#define UTS_DOMAINNAME      "(none)"
#define LINUX_COMPILER      "gcc (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40"

#endif
