/*
 * xringbuf - a log ring buffer for a character device, with one bug
 * chosen when it loads (see xsensor.c for how the exercises choose it):
 *   xringbuf.bug=null   ringbuf_push() writes to the slot table of a
 *                          ring that was never allocated: an oops
 *   xringbuf.bug=bug    ringbuf_advance(): BUG_ON(head >= size)
 *   xringbuf.bug=warn   ringbuf_resize(): WARN_ON(a size that is not a
 *                          power of two) (a panic with panic_on_warn=1)
 *   xringbuf.bug=timer  the flush timer's function writes through the
 *                          NULL ring, in interrupt context
 *   xringbuf.bug=dfree  ringbuf_destroy() runs twice (probe failed, then
 *                          the caller cleans up again): a double kfree
 *   xringbuf.bug=uaf    ringbuf_consume() follows the entry table of a
 *                          reader freed before it: with slub_debug=P a
 *                          POISON_FREE pointer, a general protection fault
 *   xringbuf.slot=N     the ring slot the bad write goes to (0-7)
 */
#include "module.h"
#include "sched.h"
#include "bug.h"
#include "timer.h"

#define RING_SLOTS 8

struct ring_entry {
	unsigned long seq;
	unsigned long len;
};

struct ringbuf {
	unsigned int head;
	unsigned int tail;
	unsigned int size;
	unsigned int flags;
	struct ring_entry *slots;
	struct ring_entry *cache;
};

struct ring_reader {
	unsigned long pos;
	struct ring_entry *entries;         /* the reader's copy of the ring */
	char name[48];
};

static struct ringbuf *lab_ring;           /* allocated by ringbuf_create(), which nobody called */
static struct ringbuf lab_ring_static = { .size = RING_SLOTS };
static struct timer_list ringbuf_flush_timer;
static long ringbuf_slot;

static noinline void ringbuf_push(struct ringbuf *rb, unsigned long len)
{
	rb->slots[ringbuf_slot].len = len;
}

static noinline void ringbuf_advance(struct ringbuf *rb)
{
	rb->head++;
	BUG_ON(rb->head >= rb->size);
}

static noinline void ringbuf_resize(struct ringbuf *rb, unsigned int size)
{
	if (WARN_ON(size & (size - 1)))
		return;
	rb->size = size;
}

static void ringbuf_flush(struct timer_list *t)
{
	lab_ring->tail = (unsigned int)ringbuf_slot;     /* a write to NULL + 4, in interrupt */
}

static noinline void ringbuf_consume(struct ring_reader *rd, unsigned long seq)
{
	rd->entries[ringbuf_slot].seq = seq;   /* rd was freed: rd->entries is poison */
}

static noinline void ringbuf_destroy(struct ringbuf *rb)
{
	kfree(rb->cache);                   /* not cleared: a second call frees it again */
}

static int __init xringbuf_init(void)
{
	const char *bug = module_param_get("xringbuf", "bug");
	const char *slot = module_param_get("xringbuf", "slot");
	struct ringbuf *rb = &lab_ring_static;

	ringbuf_slot = slot ? simple_strtol(slot, NULL, 0) % RING_SLOTS : 0;
	pr_info("xringbuf: ring of %u slots\n", rb->size);
	if (!bug)
		return 0;
	if (!strcmp(bug, "null")) {
		ringbuf_push(rb, 64 + ringbuf_slot);
	} else if (!strcmp(bug, "bug")) {
		rb->head = rb->size - 1;
		ringbuf_advance(rb);
	} else if (!strcmp(bug, "warn")) {
		ringbuf_resize(rb, 9 + 2 * (unsigned int)ringbuf_slot);   /* odd: never a power of two */
	} else if (!strcmp(bug, "timer")) {
		timer_setup(&ringbuf_flush_timer, ringbuf_flush, 0);
		mod_timer(&ringbuf_flush_timer, jiffies + HZ / 25);
	} else if (!strcmp(bug, "dfree")) {
		rb->cache = kmalloc(RING_SLOTS * sizeof(struct ring_entry));
		rb->slots = kmalloc(RING_SLOTS * sizeof(struct ring_entry));  /* keeps the slab in use */
		pr_info("xringbuf: probe failed, tearing down\n");
		ringbuf_destroy(rb);
		ringbuf_destroy(rb);
	} else if (!strcmp(bug, "uaf")) {
		struct ring_reader *rd = kzalloc(sizeof(*rd));
		rb->slots = kzalloc(RING_SLOTS * sizeof(struct ring_entry));
		rd->entries = rb->slots;
		rb->cache = kmalloc(sizeof(*rd));   /* keeps the reader's slab in use */
		kfree(rd);                          /* release() ran first */
		pr_info("xringbuf: read after release\n");
		ringbuf_consume(rd, 100 + ringbuf_slot);
	}
	return 0;
}

static void __exit xringbuf_exit(void)
{
	del_timer(&ringbuf_flush_timer);
}

module_init(xringbuf_init);
module_exit(xringbuf_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kpanic_lab");
MODULE_DESCRIPTION("character-device ring buffer with a bug chosen by xringbuf.bug=");
