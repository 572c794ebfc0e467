/*
 * notifier.h - notifier chains (include/linux/notifier.h).
 *
 * A chain is a list of callbacks sorted by priority, highest first; equal
 * priorities run in the order they were registered.  A callback returns
 * NOTIFY_DONE (not interested), NOTIFY_OK, or a value with NOTIFY_STOP_MASK
 * set to stop the walk.  An atomic chain may be called from any context,
 * including panic() with interrupts off, so its callbacks must not sleep.
 */
#ifndef KPANIC_NOTIFIER_H
#define KPANIC_NOTIFIER_H

#define NOTIFY_DONE       0x0000      /* don't care */
#define NOTIFY_OK         0x0001      /* suits me */
#define NOTIFY_STOP_MASK  0x8000      /* don't call further */
#define NOTIFY_BAD        (NOTIFY_STOP_MASK | 0x0002)
#define NOTIFY_STOP       (NOTIFY_OK | NOTIFY_STOP_MASK)

struct notifier_block;
typedef int (*notifier_fn_t)(struct notifier_block *nb, unsigned long action, void *data);

struct notifier_block {
	notifier_fn_t notifier_call;
	struct notifier_block *next;
	int priority;
	const char *name;                  /* lab addition: shown by the panic trace */
};

struct atomic_notifier_head {
	volatile int lock;
	struct notifier_block *head;
};

#define ATOMIC_NOTIFIER_HEAD(name) struct atomic_notifier_head name = { 0, NULL }

#endif
