/*
 * sched.h - tasks and per-CPU data.
 *
 * Field names follow Linux where the post-mortem tools look for them
 * (crash's `ps` and `bt` read task_struct.tasks, .pid, .comm, .stack,
 * .thread.sp, .on_cpu, .__state), so the lab's analysis layer can walk the
 * same lists a real crash session walks.  Layouts are read from DWARF, never
 * typed twice.
 */
#ifndef KPANIC_SCHED_H
#define KPANIC_SCHED_H
#include "types.h"
#include "list.h"
#include "param.h"
#include "ptrace.h"

/* task states (__state), as Linux */
#define TASK_RUNNING         0x0000
#define TASK_INTERRUPTIBLE   0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define EXIT_DEAD            0x0010
#define EXIT_ZOMBIE          0x0020
#define TASK_DEAD            0x0080

/* task flags */
#define PF_IDLE              0x00000002
#define PF_EXITING           0x00000004
#define PF_KTHREAD           0x00200000

struct file;
struct mm_struct;

struct thread_struct {
	unsigned long sp;       /* saved kernel RSP while switched out (__switch_to_asm) */
	unsigned long fsbase;
};

struct mm_struct {
	unsigned long pgd;      /* physical address of the PML4 (loaded into CR3) */
	unsigned long start_code, end_code;
	unsigned long start_brk, brk;
	unsigned long start_stack;
	int map_count;
	unsigned long mmap_base;            /* next anonymous mmap goes just below this (grows down) */
};

struct task_struct {
	volatile long __state;
	void *stack;                        /* base of the THREAD_SIZE kernel stack */
	unsigned int flags;
	int on_cpu;                         /* 1 while running on a CPU */
	int cpu;                            /* CPU it runs (or last ran) on */
	int prio;
	struct list_head tasks;             /* all tasks, from init_task.tasks */
	struct list_head run_list;          /* on the run queue while runnable */
	struct mm_struct *mm;               /* NULL for kernel threads */
	struct mm_struct *active_mm;
	int exit_state;
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *parent;
	struct list_head children;
	struct list_head sibling;
	unsigned long utime, stime;         /* ticks */
	unsigned long start_time;           /* ns since boot */
	char comm[TASK_COMM_LEN];
	struct file *files[NR_OPEN];        /* Linux has files_struct; one array is enough here */
	void *wait_chan;                    /* what a sleeping task waits for */
	int (*threadfn)(void *);            /* kernel thread body, and its argument */
	void *threadarg;
	int sigpending;                     /* a fatal signal to act on before returning to user (kill) */
	unsigned long cpus_mask;            /* CPUs it may run on (0: any), as cpus_mask; kthread_bind() */
	struct thread_struct thread;        /* must stay last: arch state */
};

/*
 * Per-CPU data, reached through %gs (MSR_GS_BASE points at this CPU's struct
 * pcpu while in the kernel).  `self` at offset 0 lets `mov %gs:0, %rax` find it.
 */
struct pcpu {
	struct pcpu *self;                  /* offset 0 */
	unsigned long top_of_stack;         /* offset 8: kernel RSP for entry from user (== TSS.sp0) */
	unsigned long user_rsp_scratch;     /* offset 16: entry_SYSCALL_64 parks the user RSP here */
	struct task_struct *current_task;   /* offset 24 */
	int cpu_number;                     /* offset 32 */
	int preempt_count;                  /* offset 36 */
	struct task_struct *idle;
	unsigned long irq_count;
	void *irq_stack;
	unsigned long nr_switches;
	unsigned long timer_ticks;
	int in_nmi;
	int online;
	int need_resched;                   /* set by the tick or a wakeup: call schedule() when safe */
	int slice_ticks;                    /* ticks the current task has run since it was switched in */
};
#define PCPU_TOP_OF_STACK       8
#define PCPU_USER_RSP_SCRATCH   16
#define PCPU_CURRENT_TASK       24
#define PCPU_PREEMPT_COUNT      36      /* read by the lab (panic/session.py) at every stage */

extern struct pcpu pcpu_data[NR_CPUS];
extern struct mm_struct init_mm;        /* the kernel's address space: pgd = __pa(init_top_pgt) */
extern struct task_struct task_table[NR_TASKS];   /* fork.c: every task but init_task */
/* every task slot in use (zombies and idle tasks of other CPUs included) */
#define for_each_task_slot(t) \
	for ((t) = task_table; (t) < task_table + NR_TASKS; (t)++) if (!(t)->stack) {} else

/* the user registers of a task sit at the very top of its kernel stack */
#define task_pt_regs(t) ((struct pt_regs *)((char *)(t)->stack + THREAD_SIZE) - 1)

/* the few signals the kernel sends or understands (numbers as Linux x86) */
#define SIGILL   4
#define SIGTRAP  5
#define SIGBUS   7
#define SIGFPE   8
#define SIGKILL  9
#define SIGSEGV  11
#define SIGTERM  15
extern struct task_struct init_task;
extern struct list_head runqueue;

static inline struct pcpu *this_pcpu(void)
{
	struct pcpu *p;
	asm volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}
static inline struct task_struct *get_current(void)
{
	struct task_struct *t;
	asm volatile("mov %%gs:24, %0" : "=r"(t));
	return t;
}
#define current get_current()
static inline int smp_processor_id(void) { return this_pcpu()->cpu_number; }
#define preempt_disable()   do { this_pcpu()->preempt_count++; barrier(); } while (0)
#define preempt_disable_notrace() preempt_disable()   /* no tracer to hide from */
#define preempt_enable()    do { barrier(); this_pcpu()->preempt_count--; } while (0)
#define preempt_count()     (this_pcpu()->preempt_count)
/* preempt_count bits as Linux: softirq, hardirq and NMI nesting counted above the preempt count */
#define SOFTIRQ_OFFSET      (1 << 8)
#define HARDIRQ_OFFSET      (1 << 16)
#define NMI_OFFSET          (1 << 20)
#define in_irq()            (preempt_count() & (0xf << 16))
#define in_nmi()            (preempt_count() & (0xf << 20))
#define in_serving_softirq() (preempt_count() & SOFTIRQ_OFFSET)
#define in_interrupt()      (preempt_count() & (0xff << 16 | 0xff << 8))

#endif
