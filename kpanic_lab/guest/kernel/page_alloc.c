/*
 * page_alloc.c - the page allocator: a buddy system (mm/page_alloc.c).
 *
 * Every page frame has a struct page in mem_map[pfn] (mm.h), which is what
 * a dump tool reads to tell what each page holds.  Free memory is kept in
 * blocks of 2^order pages (order 0..MAX_ORDER-1), one free list per order.
 * Allocating splits a bigger block in halves ("buddies") until the order
 * fits; freeing merges a block with its buddy whenever the buddy is free
 * too, so big blocks come back.  The buddy of the block at pfn, order o,
 * is at pfn ^ (1 << o).
 *
 * A free block's first page is PageBuddy (page_type in _mapcount =
 * PAGE_BUDDY_MAPCOUNT_VALUE) with its order in page->private: makedumpfile
 * -d 16 finds free pages exactly that way.  Pages that never become free
 * (the kernel image, the low 1 MiB, memblock allocations) stay PG_reserved.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "mm.h"
#include "memlayout.h"
#include "memblock.h"
#include "spinlock.h"

#define MAX_ORDER 11

struct free_area {
	struct list_head free_list;
	unsigned long nr_free;
};

/* One zone for all of memory (Linux would split DMA, DMA32, Normal). */
struct zone {
	spinlock_t lock;
	const char *name;
	unsigned long zone_start_pfn;
	unsigned long spanned_pages;
	unsigned long managed_pages;        /* pages the allocator was given */
	struct free_area free_area[MAX_ORDER];
};

struct zone contig_zone = { .lock = __SPIN_LOCK_UNLOCKED(contig_zone.lock), .name = "Normal" };
struct page *mem_map;
unsigned long max_pfn;
unsigned long totalram_pages;

static void set_buddy_order(struct page *page, unsigned int order)
{
	page->private = order;
	page->_mapcount = PAGE_BUDDY_MAPCOUNT_VALUE;    /* __SetPageBuddy */
}

static void clear_buddy(struct page *page)
{
	page->private = 0;
	page->_mapcount = -1;
}

/* Is the page at pfn a free block of exactly this order (so it can merge)? */
static bool page_is_buddy(unsigned long pfn, unsigned int order)
{
	if (pfn >= max_pfn)
		return false;
	struct page *p = pfn_to_page(pfn);
	return PageBuddy(p) && p->private == order;
}

/* Free the block at pfn of this order, merging with its buddies (zone lock held). */
static void __free_one_page(unsigned long pfn, unsigned int order)
{
	struct zone *z = &contig_zone;

	while (order < MAX_ORDER - 1) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);
		if (!page_is_buddy(buddy_pfn, order))
			break;
		struct page *buddy = pfn_to_page(buddy_pfn);
		list_del(&buddy->lru);
		z->free_area[order].nr_free--;
		clear_buddy(buddy);
		pfn &= buddy_pfn;               /* the merged block starts at the lower one */
		order++;
	}
	struct page *page = pfn_to_page(pfn);
	set_buddy_order(page, order);
	list_add(&page->lru, &z->free_area[order].free_list);
	z->free_area[order].nr_free++;
}

/*
 * Every page starts reserved, as Linux's memmap_init; mem_init() frees the
 * ones memblock did not keep.  mem_map itself comes from memblock.
 */
void memmap_init(void)
{
	struct zone *z = &contig_zone;

	mem_map = memblock_alloc(max_pfn * sizeof(struct page), PAGE_SIZE);
	for (unsigned long pfn = 0; pfn < max_pfn; pfn++) {
		struct page *p = &mem_map[pfn];
		p->flags = 1UL << PG_reserved;
		INIT_LIST_HEAD(&p->lru);
		p->_mapcount = -1;
		p->_refcount = 1;
	}
	for (int o = 0; o < MAX_ORDER; o++)
		INIT_LIST_HEAD(&z->free_area[o].free_list);
	z->zone_start_pfn = 0;
	z->spanned_pages = max_pfn;
	pr_info("Initmem setup node 0 [mem 0x0000000000001000-%#018lx]\n", (max_pfn << PAGE_SHIFT) - 1);
}

/* Hand [start, end) to the allocator in the biggest aligned blocks that fit. */
static void free_range(u64 start, u64 end, void *arg)
{
	unsigned long pfn = ALIGN(start, PAGE_SIZE) >> PAGE_SHIFT;
	unsigned long end_pfn = end >> PAGE_SHIFT;

	while (pfn < end_pfn) {
		unsigned int order = 0;
		while (order < MAX_ORDER - 1 && !(pfn & ((2UL << order) - 1)) &&
		       pfn + (2UL << order) <= end_pfn)
			order++;
		for (unsigned long i = 0; i < (1UL << order); i++) {
			struct page *p = pfn_to_page(pfn + i);
			p->flags = 0;
			p->_refcount = 0;
		}
		__free_one_page(pfn, order);
		contig_zone.managed_pages += 1UL << order;
		pfn += 1UL << order;
	}
}

extern char _stext[], _etext[], __start_rodata[], __end_rodata[], _sdata[], _edata[];
extern char __bss_start[], __bss_stop[];

/* memblock_free_all(), and the "Memory:" line Linux prints from mm_init(). */
void mem_init(void)
{
	setup_command_line();           /* Linux prints the command line just before */

	memblock_for_each_free_range(free_range, NULL);
	totalram_pages = contig_zone.managed_pages;

	unsigned long physpages = memblock_phys_mem_size() >> PAGE_SHIFT;
	unsigned long codesize = _etext - _stext, datasize = _edata - _sdata;
	unsigned long rosize = __end_rodata - __start_rodata, bss_size = __bss_stop - __bss_start;

	pr_info("Memory: %luK/%luK available (%luK kernel code, %luK rwdata, %luK rodata, "
		"%luK init, %luK bss, %luK reserved, %luK cma-reserved)\n",
		nr_free_pages() << (PAGE_SHIFT - 10), physpages << (PAGE_SHIFT - 10),
		codesize >> 10, datasize >> 10, rosize >> 10, 0UL, bss_size >> 10,
		(physpages - totalram_pages) << (PAGE_SHIFT - 10), 0UL);
}

struct page *alloc_pages(unsigned int order)
{
	struct zone *z = &contig_zone;
	unsigned long flags;
	unsigned int o;

	if (order >= MAX_ORDER)
		return NULL;
	spin_lock_irqsave(&z->lock, flags);
	for (o = order; o < MAX_ORDER; o++)
		if (!list_empty(&z->free_area[o].free_list))
			break;
	if (o == MAX_ORDER) {
		spin_unlock_irqrestore(&z->lock, flags);
		return NULL;
	}
	struct page *page = list_first_entry(&z->free_area[o].free_list, struct page, lru);
	list_del(&page->lru);
	INIT_LIST_HEAD(&page->lru);
	z->free_area[o].nr_free--;
	clear_buddy(page);
	unsigned long pfn = page_to_pfn(page);
	/* split: give the upper halves back until the block is the right size */
	while (o > order) {
		o--;
		__free_one_page(pfn + (1UL << o), o);
	}
	spin_unlock_irqrestore(&z->lock, flags);

	for (unsigned long i = 0; i < (1UL << order); i++) {
		struct page *p = page + i;
		p->flags = 0;
		p->mapping = NULL;
		p->index = 0;
		p->private = 0;
		p->_mapcount = -1;
		p->_refcount = i == 0;
	}
	return page;
}

void __free_pages(struct page *page, unsigned int order)
{
	struct zone *z = &contig_zone;
	unsigned long flags;

	if (TestPageFlag(page, PG_reserved) || PageBuddy(page)) {
		pr_alert("BUG: Bad page state: pfn:%lx flags:%#lx\n", page_to_pfn(page), page->flags);
		return;
	}
	if (page->_refcount > 1) {      /* still in use by someone else */
		page->_refcount--;
		return;
	}
	for (unsigned long i = 0; i < (1UL << order); i++) {
		struct page *p = page + i;
		p->flags = 0;
		p->mapping = NULL;
		p->index = 0;
		p->_refcount = 0;
		clear_buddy(p);
	}
	spin_lock_irqsave(&z->lock, flags);
	__free_one_page(page_to_pfn(page), order);
	spin_unlock_irqrestore(&z->lock, flags);
}

void *get_zeroed_page(void)
{
	struct page *p = alloc_pages(0);
	if (!p)
		return NULL;
	void *va = page_address(p);
	memset(va, 0, PAGE_SIZE);
	return va;
}

void free_page(void *addr)
{
	if (addr)
		__free_pages(virt_to_page(addr), 0);
}

unsigned long nr_free_pages(void)
{
	unsigned long n = 0;
	for (int o = 0; o < MAX_ORDER; o++)
		n += contig_zone.free_area[o].nr_free << o;
	return n;
}

/* Free blocks per order, as /proc/buddyinfo prints them. */
void buddyinfo(unsigned long counts[MAX_ORDER])
{
	for (int o = 0; o < MAX_ORDER; o++)
		counts[o] = contig_zone.free_area[o].nr_free;
}
