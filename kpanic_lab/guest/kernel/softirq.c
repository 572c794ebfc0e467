/*
 * softirq.c - the second half of an interrupt (kernel/softirq.c, Linux 6.1).
 *
 * A hard interrupt handler does the urgent part with interrupts off and
 * raises a softirq for the rest: a bit in this CPU's pending mask.  On the
 * way out of the interrupt, when this was the outermost one (irq_exit ->
 * __irq_exit_rcu), __do_softirq() runs every pending softirq's handler, with
 * interrupts ON again but still in interrupt context: the preempt count holds
 * SOFTIRQ_OFFSET, so in_interrupt() is true and nothing may sleep.  The
 * lab's kernel has one softirq, Linux's first user of it: TIMER_SOFTIRQ,
 * which runs the expired kernel timers (timer.c):
 *   sysvec_apic_timer_interrupt -> __irq_exit_rcu -> __do_softirq
 *     -> run_timer_softirq -> __run_timers -> call_timer_fn -> timer->function
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "x86.h"
#include "sched.h"

#define MAX_SOFTIRQ_RESTART 10

static struct softirq_action {
	void (*action)(struct softirq_action *);
} softirq_vec[NR_SOFTIRQS];

static unsigned long softirq_pending[NR_CPUS];     /* per CPU: bit nr = softirq nr is due */

void open_softirq(int nr, void (*action)(struct softirq_action *))
{
	softirq_vec[nr].action = action;
}

/* with interrupts off (from a hard interrupt handler) */
void raise_softirq_irqoff(unsigned int nr)
{
	softirq_pending[smp_processor_id()] |= 1UL << nr;
}

static unsigned long local_softirq_pending(void)
{
	return READ_ONCE(softirq_pending[smp_processor_id()]);
}

/* Run what is pending, interrupts on, in softirq context; again if more was raised meanwhile. */
static noinline void __do_softirq(void)
{
	int restart = MAX_SOFTIRQ_RESTART;
	unsigned long pending;

	this_pcpu()->preempt_count += SOFTIRQ_OFFSET;
	while ((pending = local_softirq_pending()) && restart--) {
		softirq_pending[smp_processor_id()] = 0;
		local_irq_enable();
		for (int nr = 0; nr < NR_SOFTIRQS; nr++)
			if ((pending >> nr) & 1 && softirq_vec[nr].action)
				softirq_vec[nr].action(&softirq_vec[nr]);
		local_irq_disable();
	}
	this_pcpu()->preempt_count -= SOFTIRQ_OFFSET;
}

/*
 * The end of a hard interrupt (interrupts off): leave hard-IRQ context and,
 * if that was the outermost interrupt and softirqs are due, run them now,
 * still on the way out (invoke_softirq: x86-64 runs them on the IRQ stack).
 */
noinline void __irq_exit_rcu(void)
{
	this_pcpu()->preempt_count -= HARDIRQ_OFFSET;
	if (!in_interrupt() && local_softirq_pending())
		__do_softirq();
}
