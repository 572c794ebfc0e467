/*
 * notifier.c - notifier chains (kernel/notifier.c), and the panic notifiers
 * the lab's kernel registers at boot.
 *
 * panic() walks panic_notifier_list after it stopped the other CPUs; every
 * callback on it runs with interrupts off on a machine that is already
 * broken, which is why crash_kexec normally runs BEFORE them (a misbehaving
 * notifier cannot then spoil the dump) unless crash_kexec_post_notifiers.
 * Each call on the panic list is reported to the lab (panic_stages.h).
 */
#include "types.h"
#include "hw.h"
#include "defs.h"
#include "x86.h"
#include "notifier.h"
#include "panic_stages.h"

ATOMIC_NOTIFIER_HEAD(panic_notifier_list);

static void chain_lock(volatile int *l)
{
	while (!__sync_bool_compare_and_swap(l, 0, 1))
		cpu_relax();
}

static void chain_unlock(volatile int *l)
{
	__sync_lock_release(l);
}

/* Insert by priority, highest first; after existing ones of the same priority. */
static int notifier_chain_register(struct notifier_block **nl, struct notifier_block *n)
{
	while (*nl) {
		if (*nl == n) {
			pr_warn("notifier callback %ps already registered\n", n->notifier_call);
			return -17;     /* -EEXIST */
		}
		if (n->priority > (*nl)->priority)
			break;
		nl = &(*nl)->next;
	}
	n->next = *nl;
	*nl = n;
	return 0;
}

static int notifier_chain_unregister(struct notifier_block **nl, struct notifier_block *n)
{
	while (*nl) {
		if (*nl == n) {
			*nl = n->next;
			return 0;
		}
		nl = &(*nl)->next;
	}
	return -2;              /* -ENOENT */
}

/*
 * Call each callback in turn until one returns a value with
 * NOTIFY_STOP_MASK; return the last value.  No lock is taken: on an atomic
 * chain the list is only ever changed by single pointer stores.
 */
static int notifier_call_chain(struct notifier_block **nl, unsigned long val, void *v,
			       bool report)
{
	int ret = NOTIFY_DONE, calls = 0;
	struct notifier_block *nb = READ_ONCE(*nl);

	while (nb) {
		struct notifier_block *next = READ_ONCE(nb->next);
		if (report)
			panic_stage(PANIC_STAGE_NOTIFIER_CALL, nb->notifier_call, nb->priority);
		ret = nb->notifier_call(nb, val, v);
		calls++;
		if (report)
			panic_stage(PANIC_STAGE_NOTIFIER_RET, nb->notifier_call, ret);
		if (ret & NOTIFY_STOP_MASK)
			break;
		nb = next;
	}
	if (report)
		panic_stage(PANIC_STAGE_NOTIFIERS_DONE, calls, ret);
	return ret;
}

int atomic_notifier_chain_register(struct atomic_notifier_head *nh, struct notifier_block *nb)
{
	unsigned long flags;
	local_irq_save(flags);
	chain_lock(&nh->lock);
	int ret = notifier_chain_register(&nh->head, nb);
	chain_unlock(&nh->lock);
	local_irq_restore(flags);
	return ret;
}

int atomic_notifier_chain_unregister(struct atomic_notifier_head *nh, struct notifier_block *nb)
{
	unsigned long flags;
	local_irq_save(flags);
	chain_lock(&nh->lock);
	int ret = notifier_chain_unregister(&nh->head, nb);
	chain_unlock(&nh->lock);
	local_irq_restore(flags);
	return ret;
}

int atomic_notifier_call_chain(struct atomic_notifier_head *nh, unsigned long val, void *v)
{
	return notifier_call_chain(&nh->head, val, v, nh == &panic_notifier_list);
}

/* ---- the built-in panic notifiers ----------------------------------- */

/*
 * pvpanic (drivers/misc/pvpanic/): on QEMU a paravirtual device at I/O port
 * 0x505 tells the host "the guest panicked", so the host can act (restart
 * it, keep it for debugging).  Silent on the console, as in Linux: what it
 * did is the byte the machine saw on the port (the lab records it).  With a
 * capture kernel loaded it says PVPANIC_CRASH_LOADED instead (which the
 * notifier only sees with crash_kexec_post_notifiers: otherwise kdump runs
 * before the notifiers).  Priority 1: "let this called before broken
 * drm_fb_helper()" (6.1; later kernels use INT_MAX).
 */
#define PVPANIC_PANICKED        (1 << 0)
#define PVPANIC_CRASH_LOADED    (1 << 1)

static u8 pvpanic_capability;      /* read from the device at probe: the events it understands */

static void pvpanic_send_event(unsigned int event)
{
	if (event & pvpanic_capability)
		outb(PVPANIC_PORT, event);
}

static int pvpanic_panic_notify(struct notifier_block *nb, unsigned long code, void *unused)
{
	unsigned int event = PVPANIC_PANICKED;

	if (kexec_crash_loaded())
		event = PVPANIC_CRASH_LOADED;
	pvpanic_send_event(event);
	return NOTIFY_DONE;
}

static struct notifier_block pvpanic_panic_nb = {
	.notifier_call = pvpanic_panic_notify,
	.priority = 1,
	.name = "pvpanic",
};

/* pvpanic_probe(): is there a device, and which events does it take? (an empty port reads 0xff) */
static bool pvpanic_probe(void)
{
	u8 cap = inb(PVPANIC_PORT);

	if (cap == 0xff || !(cap & (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)))
		return false;
	pvpanic_capability = cap;
	return true;
}

/*
 * dump_kernel_offset: arch/x86/kernel/setup.c registers this one; it is why
 * "Kernel Offset:" appears after the trace, and why it does NOT appear when
 * a crash kernel takes over (crash_kexec runs before the notifiers).
 */
static int dump_kernel_offset(struct notifier_block *nb, unsigned long v, void *p)
{
	pr_emerg("Kernel Offset: disabled\n");      /* the lab kernel has no KASLR */
	return NOTIFY_DONE;
}

static struct notifier_block kernel_offset_notifier = {
	.notifier_call = dump_kernel_offset,
	.priority = 0,
	.name = "kernel_offset",
};

/*
 * ledtrig-panic (drivers/leds/trigger/ledtrig-panic.c): turn the LEDs bound
 * to the "panic" trigger on, full brightness.  Silent; the default priority
 * 0.  The lab machine has no LEDs: the brightness the trigger set is kept in
 * ledtrig_panic_brightness for the stepper to read.
 */
#define LED_FULL 255
int ledtrig_panic_brightness;

static int led_trigger_panic_notifier(struct notifier_block *nb, unsigned long code, void *unused)
{
	WRITE_ONCE(ledtrig_panic_brightness, LED_FULL);     /* led_trigger_event(trigger, LED_FULL) */
	return NOTIFY_DONE;
}

static struct notifier_block led_trigger_panic_nb = {
	.notifier_call = led_trigger_panic_notifier,
	.name = "ledtrig-panic",
};

/* Called from setup_arch(), where Linux registers kernel_offset_notifier. */
void register_panic_notifiers(void)
{
	atomic_notifier_chain_register(&panic_notifier_list, &kernel_offset_notifier);
	atomic_notifier_chain_register(&panic_notifier_list, &led_trigger_panic_nb);
	if (pvpanic_probe())
		atomic_notifier_chain_register(&panic_notifier_list, &pvpanic_panic_nb);
	register_lab_notifiers();       /* students' Python notifiers (lab_notifier.c) */
}
