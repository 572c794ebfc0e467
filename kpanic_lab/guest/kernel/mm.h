/*
 * mm.h - struct page and its flags.
 *
 * One struct page per physical page frame in mem_map[], as Linux's flat
 * memory model (CONFIG_FLATMEM).  The flags and fields are the ones
 * makedumpfile reads to decide what a page is, at Linux 6.1's bit numbers
 * (include/linux/page-flags.h), exported in VMCOREINFO by a later issue:
 *   free page:         PageBuddy  (page_type / _mapcount == PAGE_BUDDY_MAPCOUNT_VALUE), order in private
 *   user (anonymous):  mapping has PAGE_MAPPING_ANON set
 *   page cache:        PG_lru set, mapping is a file's address_space; with PG_private = has private data
 *   kernel:            anything else (PG_slab, PG_reserved, page tables, stacks, ...)
 */
#ifndef KPANIC_MM_H
#define KPANIC_MM_H
#include "types.h"
#include "list.h"
#include "memlayout.h"

enum pageflags {
	PG_locked = 0, PG_referenced = 1, PG_uptodate = 2, PG_dirty = 3, PG_lru = 4,
	PG_active = 5, PG_workingset = 6, PG_waiters = 7, PG_error = 8, PG_slab = 9,
	PG_owner_priv_1 = 10, PG_arch_1 = 11, PG_reserved = 12, PG_private = 13,
	PG_private_2 = 14, PG_writeback = 15, PG_head = 16, PG_mappedtodisk = 17,
	PG_reclaim = 18, PG_swapbacked = 19, PG_unevictable = 20, PG_mlocked = 21,
	PG_swapcache = PG_owner_priv_1,
};

#define PAGE_MAPPING_ANON            0x1UL
#define PAGE_BUDDY_MAPCOUNT_VALUE    (-128)   /* page_type PG_buddy: 0xffffff80 */

struct address_space;

struct page {
	unsigned long flags;
	struct list_head lru;              /* free list, LRU list, or slab list */
	struct address_space *mapping;     /* file mapping, or anon_vma | PAGE_MAPPING_ANON */
	unsigned long index;               /* offset in the mapping, in pages */
	unsigned long private;             /* buddy order when free; buffer heads when PG_private */
	int _mapcount;                     /* page_type for PageBuddy; mapcount - 1 otherwise */
	int _refcount;
};

extern struct page *mem_map;           /* mem_map[pfn] for pfn in [0, max_pfn) */
extern unsigned long max_pfn;

#define pfn_to_page(pfn)   (mem_map + (pfn))
#define page_to_pfn(pg)    ((unsigned long)((pg) - mem_map))
#define page_address(pg)   __va(page_to_pfn(pg) << PAGE_SHIFT)
#define virt_to_page(v)    pfn_to_page(__pa(v) >> PAGE_SHIFT)

static inline void SetPageFlag(struct page *p, int bit) { p->flags |= 1UL << bit; }
static inline void ClearPageFlag(struct page *p, int bit) { p->flags &= ~(1UL << bit); }
static inline int TestPageFlag(const struct page *p, int bit) { return (p->flags >> bit) & 1; }
static inline int PageBuddy(const struct page *p) { return p->_mapcount == PAGE_BUDDY_MAPCOUNT_VALUE; }
static inline int PageAnon(const struct page *p) { return ((unsigned long)p->mapping & PAGE_MAPPING_ANON) != 0; }

/* page table entry bits */
#define _PAGE_PRESENT   0x001UL
#define _PAGE_RW        0x002UL
#define _PAGE_USER      0x004UL
#define _PAGE_PSE       0x080UL
#define _PAGE_NX        (1UL << 63)
#define PTE_ADDR_MASK   0x000ffffffffff000UL
#define PTRS_PER_PGD    512

/* the kernel's page table root (head64.c); Linux 6.1 calls it both names */
extern unsigned long init_top_pgt[PTRS_PER_PGD];
#define swapper_pg_dir  init_top_pgt

#endif
