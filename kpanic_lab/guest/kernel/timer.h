/* timer.h - kernel timers (include/linux/timer.h). */
#ifndef KPANIC_TIMER_H
#define KPANIC_TIMER_H
#include "types.h"
#include "list.h"

struct timer_list {
	struct list_head entry;
	unsigned long expires;                      /* in jiffies */
	void (*function)(struct timer_list *);
	u32 flags;                                  /* the CPU it is queued on */
	bool pending;
};

void timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *), unsigned int flags);
int mod_timer(struct timer_list *timer, unsigned long expires);
void add_timer(struct timer_list *timer);
int del_timer(struct timer_list *timer);
void run_local_timers(void);

#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)

#endif
