/*
 * time.c - time: jiffies counted by the timer tick, and nanoseconds read
 * from the machine's virtual clock.
 *
 * The machine retires one instruction per nanosecond of virtual time and
 * lets the guest read that clock through the APIC clock ports (hw.h).  So
 * every time here is deterministic: the same run gives the same timestamps.
 * (No rdtsc: that would read the host.)
 *
 * Each CPU's local APIC timer interrupts it HZ times a second (apic.c);
 * CPU 0 also advances jiffies, as Linux's tick_do_timer_cpu.
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "sched.h"
#include "defs.h"

/* Linux starts jiffies 5 minutes before wrapping, so wrap bugs show early */
volatile unsigned long jiffies = INITIAL_JIFFIES;

static u64 boot_clock_ns;               /* the clock when this kernel started */
static const int tick_do_timer_cpu = 0;

/* called first thing at boot: local_clock() counts from here (a capture
 * kernel's timestamps start again at 0, as on real hardware) */
void sched_clock_init(void)
{
	boot_clock_ns = read_clock_ns();
}

/* nanoseconds since boot (printk timestamps) */
u64 local_clock(void)
{
	return read_clock_ns() - boot_clock_ns;
}

/* Busy-wait, but let the machine fast-forward: the CPU sleeps until the
 * deadline (an interrupt may wake it earlier if IF=1, hence the loop). */
void udelay(unsigned long us)
{
	u64 until = read_clock_ns() + (u64)us * 1000;

	while (read_clock_ns() < until)
		lab_op(LAB_OP_DELAY_UNTIL, until, 0, 0, 0);
}

void mdelay(unsigned long ms)
{
	udelay(ms * 1000);
}

/* Linux: update_process_times() - charge the tick to the running task,
 * raise the timer softirq if a timer is due on this CPU (timer.c), tell the scheduler */
static void update_process_times(int user_tick)
{
	struct task_struct *p = current;

	if (user_tick)
		p->utime++;
	else
		p->stime++;
	run_local_timers();
	scheduler_tick();
}

/* the local APIC timer, on every CPU, HZ times a second */
void timer_interrupt(struct pt_regs *regs)
{
	if (smp_processor_id() == tick_do_timer_cpu) {
		jiffies++;
		wake_up((void *)&jiffies);      /* nanosleep()ers check their deadline */
	}
	update_process_times(user_mode(regs));
}
