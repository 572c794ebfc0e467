/*
 * spinlock.h - mutual exclusion between CPUs.
 *
 * A spinlock is one word that `xchg` sets to 1 atomically: whoever read 0
 * back owns the lock, everyone else spins.  (The machine runs its CPUs
 * round-robin from one thread, so a locked instruction really is atomic.)
 *
 * Holding a spinlock disables preemption, as in Linux: a task that holds a
 * lock must not be switched out, or a CPU that then wants the lock would spin
 * for a whole time slice.  A lock that an interrupt handler also takes must
 * be taken with interrupts off (spin_lock_irqsave), or the handler could
 * interrupt the holder on the same CPU and spin forever.
 */
#ifndef KPANIC_SPINLOCK_H
#define KPANIC_SPINLOCK_H
#include "types.h"
#include "x86.h"
#include "sched.h"

typedef struct spinlock {
	volatile u32 locked;        /* 0 = free, 1 = held */
	int owner_cpu;              /* for debugging: who holds it (-1 = nobody) */
	const char *name;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(n)  { .locked = 0, .owner_cpu = -1, .name = #n }
#define DEFINE_SPINLOCK(n)       spinlock_t n = __SPIN_LOCK_UNLOCKED(n)

static inline void spin_lock_init(spinlock_t *l)
{
	l->locked = 0;
	l->owner_cpu = -1;
	l->name = "?";
}

static inline u32 xchg32(volatile u32 *p, u32 v)
{
	/* xchg with a memory operand is always locked: no `lock` prefix needed */
	asm volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
	return v;
}

static inline bool spin_trylock(spinlock_t *l)
{
	preempt_disable();
	if (xchg32(&l->locked, 1) == 0) {
		l->owner_cpu = smp_processor_id();
		return true;
	}
	preempt_enable();
	return false;
}

static inline void spin_lock(spinlock_t *l)
{
	preempt_disable();
	while (xchg32(&l->locked, 1) != 0) {
		/* spin on a plain read: only try the xchg again once it looks free */
		while (READ_ONCE(l->locked))
			cpu_relax();
	}
	l->owner_cpu = smp_processor_id();
}

static inline void spin_unlock(spinlock_t *l)
{
	l->owner_cpu = -1;
	barrier();
	WRITE_ONCE(l->locked, 0);   /* x86 stores are not reordered with older stores */
	preempt_enable();
}

static inline bool spin_is_locked(spinlock_t *l) { return READ_ONCE(l->locked) != 0; }

/* the variants that also turn interrupts off on this CPU, and restore them */
#define spin_lock_irqsave(l, flags)      do { local_irq_save(flags); spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, flags) do { spin_unlock(l); local_irq_restore(flags); } while (0)
#define spin_lock_irq(l)                 do { local_irq_disable(); spin_lock(l); } while (0)
#define spin_unlock_irq(l)               do { spin_unlock(l); local_irq_enable(); } while (0)

#endif
