/*
 * timer.c - kernel timers (kernel/time/timer.c, without the wheel).
 *
 * A timer runs its function once jiffies reaches timer->expires, on the
 * CPU that queued it.  The tick only notices that one is due and raises
 * TIMER_SOFTIRQ (run_local_timers); the function runs on the way out of that
 * interrupt, from the softirq, with interrupts on but in interrupt context
 * (softirq.c), where a bug cannot be blamed on a process - an oops there
 * panics ("Fatal exception in interrupt"), which the timer_oops module shows:
 *   sysvec_apic_timer_interrupt -> __irq_exit_rcu -> __do_softirq
 *     -> run_timer_softirq -> __run_timers -> call_timer_fn -> timer->function
 * Each CPU's pending timers are one list (Linux uses a hashed wheel).
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "sched.h"
#include "spinlock.h"
#include "timer.h"

static struct timer_base {
	spinlock_t lock;
	struct list_head pending;
} timer_bases[NR_CPUS];

static struct timer_base *get_timer_base(int cpu)
{
	struct timer_base *base = &timer_bases[cpu];
	if (!base->pending.next)            /* first use: set up */
		INIT_LIST_HEAD(&base->pending);
	return base;
}

void timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *), unsigned int flags)
{
	INIT_LIST_HEAD(&timer->entry);
	timer->function = fn;
	timer->flags = flags;
	timer->pending = false;
}

int del_timer(struct timer_list *timer)
{
	unsigned long flags;
	int was = 0;

	if (!timer->pending)
		return 0;
	struct timer_base *base = get_timer_base(timer->flags);
	spin_lock_irqsave(&base->lock, flags);
	if (timer->pending) {
		list_del(&timer->entry);
		timer->pending = false;
		was = 1;
	}
	spin_unlock_irqrestore(&base->lock, flags);
	return was;
}

/* (Re)arm the timer on this CPU; returns 1 if it was pending. */
int mod_timer(struct timer_list *timer, unsigned long expires)
{
	unsigned long flags;
	int was = del_timer(timer);
	int cpu = smp_processor_id();
	struct timer_base *base = get_timer_base(cpu);

	spin_lock_irqsave(&base->lock, flags);
	timer->expires = expires;
	timer->flags = cpu;
	timer->pending = true;
	list_add_tail(&timer->entry, &base->pending);
	spin_unlock_irqrestore(&base->lock, flags);
	return was;
}

void add_timer(struct timer_list *timer)
{
	mod_timer(timer, timer->expires);
}

static noinline void call_timer_fn(struct timer_list *timer, void (*fn)(struct timer_list *))
{
	fn(timer);
}

static noinline void __run_timers(struct timer_base *base)
{
	for (;;) {
		struct timer_list *timer = NULL, *t;

		spin_lock_irq(&base->lock);
		list_for_each_entry(t, &base->pending, entry) {
			if (time_after_eq(jiffies, t->expires)) {
				timer = t;
				break;
			}
		}
		if (timer) {
			list_del(&timer->entry);
			timer->pending = false;
		}
		spin_unlock_irq(&base->lock);
		if (!timer)
			return;
		call_timer_fn(timer, timer->function);
	}
}

/* TIMER_SOFTIRQ's handler: interrupts on, softirq context */
static void run_timer_softirq(struct softirq_action *h)
{
	__run_timers(get_timer_base(smp_processor_id()));
}

/* Called by the timer interrupt on each CPU, each tick (interrupts off): is a timer due? */
void run_local_timers(void)
{
	struct timer_base *base = get_timer_base(smp_processor_id());
	struct timer_list *t;

	list_for_each_entry(t, &base->pending, entry) {
		if (time_after_eq(jiffies, t->expires)) {
			raise_softirq_irqoff(TIMER_SOFTIRQ);
			return;
		}
	}
}

void init_timers(void)
{
	open_softirq(TIMER_SOFTIRQ, run_timer_softirq);
}
