/*
 * slab.c - kmalloc/kfree: small objects carved out of whole pages.
 *
 * The page allocator hands out pages; most kernel objects are far smaller.
 * kmalloc rounds a request up to a size class (8, 16, ... 2048 bytes) and
 * takes an object from a "slab": one page of that class's objects, marked
 * PG_slab in its struct page, so a dump tool knows the page is kernel data.
 * A slab's free objects are chained through their first word; the chain's
 * head is kept in page->private, and page->index holds the size class
 * (bits 16+) and the number of objects in use (bits 0-15): no header
 * inside the page, so objects stay naturally aligned.  Requests above 2048
 * bytes get pages of their own (a "compound" block, PG_head, order in
 * page->private), as Linux's kmalloc_large.
 *
 * slub_debug=P on the command line poisons objects as SLUB does (mm/slub.c
 * init_object(), include/linux/poison.h): a free object is POISON_FREE
 * (0x6b) with POISON_END (0xa5) in its last byte, so a pointer read from a
 * freed object is 0x6b6b6b6b6b6b6b6b and using it faults (a non-canonical
 * address: general protection fault).  SLUB keeps the free pointer after
 * the poisoned object; here it stays in the object's first word, which is
 * not poisoned.
 */
#include "types.h"
#include "defs.h"
#include "mm.h"
#include "memlayout.h"
#include "spinlock.h"
#include "bug.h"

#define KMALLOC_MIN_SHIFT 3
#define KMALLOC_MAX_SHIFT 11
#define NR_KMALLOC (KMALLOC_MAX_SHIFT - KMALLOC_MIN_SHIFT + 1)

struct kmem_cache {
	const char *name;
	unsigned int size;
	struct list_head partial;           /* slabs with a free object */
	unsigned long nr_slabs;
	unsigned long nr_objects;           /* objects in use */
	spinlock_t lock;
};

#define POISON_FREE 0x6b            /* include/linux/poison.h */
#define POISON_END  0xa5

static struct kmem_cache kmalloc_caches[NR_KMALLOC];

/* slub_debug=P (or a bare slub_debug, which turns on every check): poison free objects */
static bool slub_poison(void)
{
	const char *v = cmdline_get("slub_debug");
	return v && (!*v || strchr(v, 'P') || strchr(v, 'p'));
}

/* init_object(s, object, SLUB_RED_INACTIVE): all but the free pointer word */
static void poison_object(void *obj, unsigned int size)
{
	memset((char *)obj + sizeof(void *), POISON_FREE, size - sizeof(void *) - 1);
	((unsigned char *)obj)[size - 1] = POISON_END;
}
static const char *const kmalloc_names[NR_KMALLOC] = {
	"kmalloc-8", "kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-128",
	"kmalloc-256", "kmalloc-512", "kmalloc-1k", "kmalloc-2k",
};

static struct kmem_cache *kmalloc_cache(size_t size)
{
	int i = 0;
	while ((1UL << (i + KMALLOC_MIN_SHIFT)) < size)
		i++;
	struct kmem_cache *c = &kmalloc_caches[i];
	if (!c->size) {                     /* first use: set it up */
		c->name = kmalloc_names[i];
		c->size = 1U << (i + KMALLOC_MIN_SHIFT);
		INIT_LIST_HEAD(&c->partial);
		spin_lock_init(&c->lock);
		c->lock.name = c->name;
	}
	return c;
}

/* A new slab: one page, every object on its free chain. */
static struct page *new_slab(struct kmem_cache *c)
{
	struct page *page = alloc_pages(0);
	if (!page)
		return NULL;
	SetPageFlag(page, PG_slab);
	char *base = page_address(page);
	unsigned int n = PAGE_SIZE / c->size;
	bool poison = slub_poison() && c->size > sizeof(void *);
	for (unsigned int i = 0; i < n; i++) {
		if (poison)
			poison_object(base + i * c->size, c->size);
		*(void **)(base + i * c->size) = i + 1 < n ? base + (i + 1) * c->size : NULL;
	}
	page->private = (unsigned long)base;
	page->index = (unsigned long)(c - kmalloc_caches) << 16;   /* class, 0 in use */
	list_add(&page->lru, &c->partial);
	c->nr_slabs++;
	return page;
}

static void *kmalloc_large(size_t size)
{
	unsigned int order = 0;
	while ((PAGE_SIZE << order) < size)
		order++;
	struct page *page = alloc_pages(order);
	if (!page)
		return NULL;
	SetPageFlag(page, PG_head);
	page->private = order;
	return page_address(page);
}

void *kmalloc(size_t size)
{
	unsigned long flags;

	if (!size)
		return NULL;
	if (size > (1UL << KMALLOC_MAX_SHIFT))
		return kmalloc_large(size);

	struct kmem_cache *c = kmalloc_cache(size);
	spin_lock_irqsave(&c->lock, flags);
	struct page *page = list_empty(&c->partial) ? new_slab(c)
						     : list_first_entry(&c->partial, struct page, lru);
	if (!page) {
		spin_unlock_irqrestore(&c->lock, flags);
		return NULL;
	}
	void *obj = (void *)page->private;
	page->private = (unsigned long)*(void **)obj;
	page->index++;
	c->nr_objects++;
	if (!page->private) {               /* full: off the partial list */
		list_del(&page->lru);
		INIT_LIST_HEAD(&page->lru);
	}
	spin_unlock_irqrestore(&c->lock, flags);
	return obj;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *obj)
{
	unsigned long flags;

	if (!obj)
		return;
	struct page *page = virt_to_page(obj);
	if (TestPageFlag(page, PG_head) && !TestPageFlag(page, PG_slab)) {
		unsigned int order = page->private;
		ClearPageFlag(page, PG_head);
		page->private = 0;
		__free_pages(page, order);
		return;
	}
	if (!TestPageFlag(page, PG_slab)) {
		pr_alert("kfree: %px is not a kmalloc object\n", obj);
		return;
	}
	struct kmem_cache *c = &kmalloc_caches[(page->index >> 16) % NR_KMALLOC];
	/*
	 * mm/slub.c set_freepointer(): "naive detection of double free or
	 * corruption" (CONFIG_SLAB_FREELIST_HARDENED): the object being freed is
	 * already first on its slab's free chain.
	 */
	BUG_ON(obj == (void *)page->private);
	spin_lock_irqsave(&c->lock, flags);
	if (c->size > sizeof(void *) && slub_poison())
		poison_object(obj, c->size);
	bool was_full = !page->private;
	*(void **)obj = (void *)page->private;
	page->private = (unsigned long)obj;
	page->index--;
	c->nr_objects--;
	if (was_full)
		list_add(&page->lru, &c->partial);
	if (!(page->index & 0xffff) && c->nr_slabs > 1) {  /* empty: back to the page allocator */
		list_del(&page->lru);
		c->nr_slabs--;
		ClearPageFlag(page, PG_slab);
		page->private = 0;
		spin_unlock_irqrestore(&c->lock, flags);
		__free_pages(page, 0);
		return;
	}
	spin_unlock_irqrestore(&c->lock, flags);
}
