/*
 * timer_oops - a NULL pointer dereference in interrupt context.
 *
 * insmod arms a timer; when it fires (from the timer interrupt, timer.c)
 * its function dereferences NULL.  There is no process to blame and kill in
 * an interrupt, so oops_end() panics: "Fatal exception in interrupt",
 * whatever panic_on_oops says.
 */
#include "module.h"
#include "sched.h"
#include "timer.h"

struct lab_stats {
	unsigned long ticks;
	unsigned long *counter;
};

struct lab_stats *timer_oops_stats;    /* never allocated: the bug */
static struct timer_list lab_timer;

static void lab_timer_fn(struct timer_list *t)
{
	timer_oops_stats->ticks++;                 /* NULL + 0: read, in interrupt */
}

static int __init timer_oops_init(void)
{
	timer_setup(&lab_timer, lab_timer_fn, 0);
	mod_timer(&lab_timer, jiffies + HZ / 10);
	pr_info("timer_oops: timer armed, it fires in 100 ms (jiffies %lu)\n", jiffies);
	return 0;
}

static void __exit timer_oops_exit(void)
{
	del_timer(&lab_timer);
}

module_init(timer_oops_init);
module_exit(timer_oops_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("NULL pointer dereference in a timer (interrupt context)");
