/* memblock.h - the boot-time memory map (include/linux/memblock.h). */
#ifndef KPANIC_MEMBLOCK_H
#define KPANIC_MEMBLOCK_H
#include "types.h"

#define MEMBLOCK_MAX_REGIONS 64

struct memblock_region {
	u64 base;
	u64 size;
};

struct memblock_type {
	unsigned long cnt;
	struct memblock_region regions[MEMBLOCK_MAX_REGIONS];
	const char *name;
};

struct memblock {
	struct memblock_type memory;
	struct memblock_type reserved;
};

extern struct memblock memblock;

void memblock_add(u64 base, u64 size);
void memblock_reserve(u64 base, u64 size);
bool memblock_is_reserved(u64 addr);
u64 memblock_phys_mem_size(void);
u64 memblock_end_of_DRAM(void);
u64 memblock_phys_alloc_range(u64 size, u64 align, u64 start, u64 end);
void memblock_for_each_free_range(void (*fn)(u64 start, u64 end, void *arg), void *arg);

#endif
