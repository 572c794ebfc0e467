/*
 * sched.c - which task runs on which CPU: the run queue, schedule(),
 * sleeping and waking, kernel threads, and the idle loop.
 *
 * One run queue for all CPUs (Linux has one per CPU), protected by rq_lock,
 * served round-robin: a task runs until it sleeps, yields, or has used
 * SCHED_SLICE_TICKS timer ticks while another task waits.  A CPU with nothing
 * to run runs its idle task ("swapper/N"), which halts until an interrupt.
 *
 * The context switch, as xv6 and Linux: rq_lock is taken by the task that
 * calls __schedule() and released by the task that runs next (in
 * finish_task_switch), so no other CPU can pick a task whose registers are
 * still being saved.
 *
 * A task's state (__state) says whether it may run: TASK_RUNNING tasks are
 * on a CPU or on the run queue, TASK_INTERRUPTIBLE ones sleep on a channel
 * (any address: wake_up(chan) wakes them all), TASK_DEAD ones have exited.
 */
#include "types.h"
#include "param.h"
#include "x86.h"
#include "sched.h"
#include "spinlock.h"
#include "defs.h"

/* entry.S checks these offsets (TASK_threadsp, PCPU_*) against the structs */
_Static_assert(offsetof(struct task_struct, thread.sp) == 352, "update TASK_threadsp in entry.S");
_Static_assert(offsetof(struct pcpu, top_of_stack) == PCPU_TOP_OF_STACK, "entry.S: PCPU_TOP_OF_STACK");
_Static_assert(offsetof(struct pcpu, user_rsp_scratch) == PCPU_USER_RSP_SCRATCH, "entry.S: PCPU_USER_RSP_SCRATCH");
_Static_assert(offsetof(struct pcpu, current_task) == PCPU_CURRENT_TASK, "sched.h: get_current()");
_Static_assert(offsetof(struct pcpu, preempt_count) == PCPU_PREEMPT_COUNT, "sched.h: PCPU_PREEMPT_COUNT");
_Static_assert(sizeof(struct pt_regs) == 168, "entry.S: PTREGS_SIZE");

/* Like Linux, the boot CPU starts on init_task's stack (startup_64) and
 * init_task becomes its idle task.  In .data, so that clearing .bss
 * does not wipe the stack we are running on. */
char init_stack[THREAD_SIZE] __aligned(THREAD_SIZE) __section(".data..init_stack");

struct mm_struct init_mm;               /* pgd: the boot page tables (head64.c) */

struct task_struct init_task = {
	.__state     = TASK_RUNNING,
	.stack       = init_stack,
	.flags       = PF_KTHREAD | PF_IDLE,
	.on_cpu      = 1,
	.cpu         = 0,
	.prio        = 120,
	.tasks       = LIST_HEAD_INIT(init_task.tasks),
	.run_list    = LIST_HEAD_INIT(init_task.run_list),
	.active_mm   = &init_mm,
	.pid         = 0,
	.real_parent = &init_task,
	.parent      = &init_task,
	.children    = LIST_HEAD_INIT(init_task.children),
	.sibling     = LIST_HEAD_INIT(init_task.sibling),
	.comm        = "swapper/0",
};

LIST_HEAD(runqueue);
DEFINE_SPINLOCK(rq_lock);

static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	INIT_LIST_HEAD(e);
}

static inline bool is_idle_task(struct task_struct *t)
{
	return (t->flags & PF_IDLE) != 0;
}

void sched_init(void)
{
	pcpu_data[0].idle = &init_task;
}

/* the address space a task runs in: its own, or (kernel threads) the kernel's */
static void switch_mm(struct task_struct *next)
{
	struct mm_struct *mm = next->mm ? next->mm : &init_mm;

	if (read_cr3() != mm->pgd)
		write_cr3(mm->pgd);
}

/* With rq_lock held: make t runnable (it must not be running or queued). */
static void enqueue_task(struct task_struct *t)
{
	if (list_empty(&t->run_list))
		list_add_tail(&t->run_list, &runqueue);
}

static inline bool task_allowed_on(const struct task_struct *t, int cpu)
{
	return !t->cpus_mask || (t->cpus_mask & (1UL << cpu));
}

/* A task became runnable: get a CPU it may run on that idles to look at the run queue. */
static void kick_idle_cpu(struct task_struct *t)
{
	int me = smp_processor_id();
	int cpu;

	if (pcpu_data[me].current_task == pcpu_data[me].idle && task_allowed_on(t, me)) {
		pcpu_data[me].need_resched = 1;
		return;
	}
	for (cpu = 0; cpu < NR_CPUS; cpu++) {
		if (cpu == me || !(READ_ONCE(cpu_online_mask) & (1UL << cpu)) || !task_allowed_on(t, cpu))
			continue;
		if (pcpu_data[cpu].current_task == pcpu_data[cpu].idle) {
			pcpu_data[cpu].need_resched = 1;
			smp_send_reschedule(cpu);
			return;
		}
	}
}

/*
 * The task that runs next finishes the switch: the previous one is now off
 * its CPU (its registers are saved), so it may run elsewhere, or, if it
 * exited and nobody waits for it, its stack can go.
 */
static void finish_task_switch(struct task_struct *prev)
{
	bool dead = prev->__state == TASK_DEAD && prev->exit_state == EXIT_DEAD;

	WRITE_ONCE(prev->on_cpu, 0);
	spin_unlock(&rq_lock);
	if (dead)
		free_task(prev);
}

/* a new task's first code (ret_from_fork): finish the switch that started it */
void schedule_tail(struct task_struct *prev)
{
	finish_task_switch(prev);
	local_irq_enable();
}

/*
 * Pick the next task and switch to it.  `preempt`: prev was interrupted (by
 * the timer, through preempt_schedule_irq), not going to sleep, so it stays
 * runnable whatever its state says: it may have been preempted between
 * setting TASK_INTERRUPTIBLE and calling schedule().
 */
static void __schedule(bool preempt)
{
	struct task_struct *prev, *next;
	struct pcpu *pc;
	unsigned long flags;

	local_irq_save(flags);
	spin_lock(&rq_lock);
	pc = this_pcpu();
	prev = pc->current_task;
	pc->need_resched = 0;

	if (!is_idle_task(prev) && (prev->__state == TASK_RUNNING || (preempt && prev->__state != TASK_DEAD)))
		enqueue_task(prev);
	next = pc->idle;
	{
		struct task_struct *t;

		/* the first runnable task this CPU may run (cpus_mask) */
		list_for_each_entry(t, &runqueue, run_list) {
			if (task_allowed_on(t, pc->cpu_number)) {
				next = t;
				list_del_init(&t->run_list);
				break;
			}
		}
	}

	if (next == prev) {
		spin_unlock(&rq_lock);
		local_irq_restore(flags);
		return;
	}
	pc->nr_switches++;
	pc->slice_ticks = 0;
	next->on_cpu = 1;
	next->cpu = pc->cpu_number;
	pc->current_task = next;
	update_task_stack(next);
	switch_mm(next);

	prev = __switch_to_asm(prev, next);
	/* now running as `next` again, possibly on another CPU, some time later */
	finish_task_switch(prev);
	local_irq_restore(flags);
}

void schedule(void)
{
	if (unlikely(preempt_count() != 0)) {
		pr_err("BUG: scheduling while atomic: %s/%d/0x%08x\n",
		       current->comm, current->pid, preempt_count());
		this_pcpu()->preempt_count = 0;
	}
	__schedule(false);
}

/* the timer interrupt found need_resched set; interrupts are off (irqentry.c) */
void preempt_schedule_irq(void)
{
	do {
		local_irq_enable();
		__schedule(true);
		local_irq_disable();
	} while (this_pcpu()->need_resched);
}

/* from the timer interrupt, on every CPU, every tick */
void scheduler_tick(void)
{
	struct pcpu *pc = this_pcpu();
	bool waiting = !list_empty(&runqueue);     /* a hint, read without the lock */

	pc->timer_ticks++;
	if (is_idle_task(pc->current_task)) {
		if (waiting)
			pc->need_resched = 1;
		return;
	}
	if (++pc->slice_ticks >= SCHED_SLICE_TICKS && waiting)
		pc->need_resched = 1;
}

/* ---- sleeping and waking --------------------------------------------- */

void wake_up_process(struct task_struct *t)
{
	unsigned long flags;

	spin_lock_irqsave(&rq_lock, flags);
	if (t->__state == TASK_INTERRUPTIBLE || t->__state == TASK_UNINTERRUPTIBLE) {
		t->__state = TASK_RUNNING;
		t->wait_chan = NULL;
		if (!t->on_cpu) {
			enqueue_task(t);
			kick_idle_cpu(t);
		}
	}
	spin_unlock_irqrestore(&rq_lock, flags);
}

/*
 * Sleeping without losing a wakeup, as Linux's wait_event():
 *     for (;;) { prepare_to_wait(chan); if (condition) break; schedule(); }
 *     finish_wait(chan);
 * A wake_up() after prepare_to_wait() sets the task running again, so the
 * schedule() that follows returns at once instead of sleeping forever.
 */
void prepare_to_wait(void *chan)
{
	unsigned long flags;

	spin_lock_irqsave(&rq_lock, flags);
	current->wait_chan = chan;
	current->__state = TASK_INTERRUPTIBLE;
	spin_unlock_irqrestore(&rq_lock, flags);
}

void finish_wait(void *chan)
{
	unsigned long flags;

	spin_lock_irqsave(&rq_lock, flags);
	current->__state = TASK_RUNNING;
	current->wait_chan = NULL;
	spin_unlock_irqrestore(&rq_lock, flags);
}

void sleep_on(void *chan)
{
	prepare_to_wait(chan);
	schedule();
	finish_wait(chan);
}

void wake_up(void *chan)
{
	struct task_struct *t;
	unsigned long flags;
	int woke = 0;

	spin_lock_irqsave(&rq_lock, flags);
	for_each_task_slot(t) {
		if (t->wait_chan == chan &&
		    (t->__state == TASK_INTERRUPTIBLE || t->__state == TASK_UNINTERRUPTIBLE)) {
			t->__state = TASK_RUNNING;
			t->wait_chan = NULL;
			if (!t->on_cpu) {
				enqueue_task(t);
				kick_idle_cpu(t);
			}
			woke++;
		}
	}
	spin_unlock_irqrestore(&rq_lock, flags);
}

int signal_pending(struct task_struct *t)
{
	return t->sigpending != 0;
}

/* ---- kernel threads --------------------------------------------------- */

/* every kthread_run() thread starts here (ret_from_fork calls it) */
static int kthread(void *unused)
{
	struct task_struct *self = current;

	do_exit(self->threadfn(self->threadarg));
}

static struct task_struct *kthread_create_on(int (*fn)(void *), void *arg, const char *name, int cpu)
{
	struct task_struct *t = copy_process(name, &init_task);

	if (!t)
		return NULL;
	t->flags |= PF_KTHREAD;
	t->threadfn = fn;
	t->threadarg = arg;
	t->cpus_mask = cpu < 0 ? 0 : 1UL << cpu;     /* kthread_bind() */
	copy_thread(t, kthread, NULL);
	wake_up_process(t);
	return t;
}

struct task_struct *kthread_run(int (*fn)(void *), void *arg, const char *name)
{
	return kthread_create_on(fn, arg, name, -1);
}

/* A kernel thread that runs only on `cpu` (Linux's kthread_run_on_cpu). */
struct task_struct *kthread_run_on_cpu(int (*fn)(void *), void *arg, int cpu, const char *name)
{
	return kthread_create_on(fn, arg, name, cpu);
}

/* ---- the idle loop ---------------------------------------------------- */

/*
 * The one place a CPU waits for work.  `sti; hlt` is atomic: sti takes
 * effect after the next instruction, so an interrupt that arrives between
 * the check in cpu_idle_loop() and the hlt still wakes the hlt.
 */
noinline void default_idle(void)
{
	asm volatile("sti; hlt" ::: "memory");
}

void cpu_idle_loop(void)
{
	struct pcpu *pc = this_pcpu();

	for (;;) {
		local_irq_disable();
		if (pc->need_resched || !list_empty(&runqueue)) {
			local_irq_enable();
			schedule();
			continue;
		}
		default_idle();
	}
}
