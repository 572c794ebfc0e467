/*
 * memblock.c - the boot-time memory allocator (mm/memblock.c).
 *
 * Before the page allocator exists, memory is two lists of physical ranges:
 *   memblock.memory    all RAM (the e820 "usable" ranges)
 *   memblock.reserved  what is in use: page 0 and the low 1 MiB, the kernel
 *                      image, the loader's page tables, mem_map, and later
 *                      the crashkernel= region
 * memblock_alloc() carves new allocations from the top of RAM down (as
 * Linux's default) and records them as reserved.  When the page allocator
 * starts (mem_init), every page of memory that is not reserved is handed
 * to it, and the reserved ones stay PG_reserved forever.
 */
#include "types.h"
#include "defs.h"
#include "memlayout.h"
#include "memblock.h"

struct memblock memblock = {
	.memory = { .name = "memory" },
	.reserved = { .name = "reserved" },
};

/* Insert [base, base+size) into a sorted region list, merging overlaps and neighbours. */
static void memblock_insert(struct memblock_type *type, u64 base, u64 size)
{
	u64 end = base + size;
	unsigned long i, j;

	if (!size)
		return;
	/* swallow every region that overlaps or touches the new one */
	for (i = 0; i < type->cnt;) {
		struct memblock_region *r = &type->regions[i];
		if (r->base <= end && base <= r->base + r->size) {
			if (r->base < base)
				base = r->base;
			if (r->base + r->size > end)
				end = r->base + r->size;
			for (j = i; j + 1 < type->cnt; j++)
				type->regions[j] = type->regions[j + 1];
			type->cnt--;
			continue;
		}
		i++;
	}
	if (type->cnt == MEMBLOCK_MAX_REGIONS)
		panic("memblock: too many %s regions", type->name);
	for (i = 0; i < type->cnt && type->regions[i].base < base; i++)
		;
	for (j = type->cnt; j > i; j--)
		type->regions[j] = type->regions[j - 1];
	type->regions[i].base = base;
	type->regions[i].size = end - base;
	type->cnt++;
}

void memblock_add(u64 base, u64 size)
{
	memblock_insert(&memblock.memory, base, size);
}

void memblock_reserve(u64 base, u64 size)
{
	memblock_insert(&memblock.reserved, base, size);
}

bool memblock_is_reserved(u64 addr)
{
	for (unsigned long i = 0; i < memblock.reserved.cnt; i++) {
		struct memblock_region *r = &memblock.reserved.regions[i];
		if (addr >= r->base && addr < r->base + r->size)
			return true;
	}
	return false;
}

u64 memblock_phys_mem_size(void)
{
	u64 total = 0;
	for (unsigned long i = 0; i < memblock.memory.cnt; i++)
		total += memblock.memory.regions[i].size;
	return total;
}

u64 memblock_end_of_DRAM(void)
{
	if (!memblock.memory.cnt)
		return 0;
	struct memblock_region *r = &memblock.memory.regions[memblock.memory.cnt - 1];
	return r->base + r->size;
}

/*
 * Call fn(start, end) for each free range: memory minus reserved, in
 * ascending order (for_each_free_mem_range).
 */
void memblock_for_each_free_range(void (*fn)(u64 start, u64 end, void *arg), void *arg)
{
	for (unsigned long i = 0; i < memblock.memory.cnt; i++) {
		u64 start = memblock.memory.regions[i].base;
		u64 end = start + memblock.memory.regions[i].size;
		for (unsigned long j = 0; j < memblock.reserved.cnt && start < end; j++) {
			u64 rs = memblock.reserved.regions[j].base;
			u64 re = rs + memblock.reserved.regions[j].size;
			if (re <= start || rs >= end)
				continue;
			if (rs > start)
				fn(start, rs, arg);
			start = re;
		}
		if (start < end)
			fn(start, end, arg);
	}
}

/*
 * The highest free, aligned range of `size` bytes inside [start, end)
 * (0: anywhere).  Returns its physical address, or 0 if there is none.
 */
u64 memblock_phys_alloc_range(u64 size, u64 align, u64 start, u64 end)
{
	if (!align)
		align = PAGE_SIZE;
	if (!end)
		end = memblock_end_of_DRAM();
	for (long i = (long)memblock.memory.cnt - 1; i >= 0; i--) {
		u64 rbase = memblock.memory.regions[i].base;
		u64 rend = rbase + memblock.memory.regions[i].size;
		if (rend > end)
			rend = end;
		/* try the top of this region, then just below each reserved range in it */
		u64 cand = (rend >= size) ? ((rend - size) & ~(align - 1)) : 0;
		while (cand >= rbase && cand >= start && cand + size <= rend) {
			u64 conflict_base = 0;
			bool conflict = false;
			for (unsigned long j = 0; j < memblock.reserved.cnt; j++) {
				u64 rs = memblock.reserved.regions[j].base;
				u64 re = rs + memblock.reserved.regions[j].size;
				if (rs < cand + size && cand < re) {
					conflict = true;
					conflict_base = rs;
					break;
				}
			}
			if (!conflict) {
				memblock_reserve(cand, size);
				return cand;
			}
			if (conflict_base < size)
				break;
			cand = (conflict_base - size) & ~(align - 1);
		}
	}
	return 0;
}

/* Boot memory, zeroed, in the direct map.  Running out this early is fatal. */
void *memblock_alloc(unsigned long size, unsigned long align)
{
	u64 pa = memblock_phys_alloc_range(ALIGN(size, PAGE_SIZE), align, 0x100000, 0);
	if (!pa)
		panic("%s: Failed to allocate %lu bytes align=0x%lx\n", __func__, size, align);
	void *va = __va(pa);
	memset(va, 0, size);
	return va;
}
