/*
 * memlayout.h - where things live, physically and virtually.
 *
 * Virtual address space (4-level paging, 48-bit), as in Linux 6.1 without KASLR:
 *
 *   0xffffffffffffffff +-----------------------------+
 *                      | kernel image                |  __START_KERNEL_map + 16 MiB =
 *   0xffffffff81000000 |   .text .rodata .data .bss  |  _text, linked here
 *   0xffffffff80000000 +-----------------------------+  __START_KERNEL_map -> phys_base
 *                      |          ...                |
 *   0xffff888000000000 +-----------------------------+  PAGE_OFFSET: the direct map,
 *                      | all of physical memory      |  phys 0 .. end of RAM
 *                      +-----------------------------+
 *                      |   (non-canonical hole)      |
 *   0x00007ffffffff000 +-----------------------------+  USER_STACK_TOP
 *                      | user stack (grows down)     |
 *                      |          ...                |
 *                      | user heap (brk, grows up)   |
 *   0x0000000000400000 | user text, data, bss        |  USER_TEXT_START
 *   0x0000000000000000 +-----------------------------+  page 0 is never mapped: NULL faults
 *
 * Physical memory, as the lab machine's boot loader lays it out:
 *
 *   0x0000000  page 0 (reserved, never allocated)
 *   0x0008000  struct boot_params (BOOT_PARAMS_PHYS)
 *   0x009fc00  ... 0x100000: reserved (EBDA, VGA, BIOS), as on a PC
 *   0x1000000  the kernel image (LOAD_PHYSICAL_ADDR), then the boot page tables
 *   ...        free memory for the page allocator
 *   crashkernel= region, when reserved (a capture kernel is loaded there and
 *              boots there, with phys_base moved accordingly)
 *   top-128K   reserved (as QEMU's e820 does)
 */
#ifndef KPANIC_MEMLAYOUT_H
#define KPANIC_MEMLAYOUT_H

#define PAGE_SHIFT          12
#define PAGE_SIZE           (1UL << PAGE_SHIFT)
#define PAGE_MASK           (~(PAGE_SIZE - 1))

#define PAGE_OFFSET         0xffff888000000000UL
#define __START_KERNEL_map  0xffffffff80000000UL
#define LOAD_PHYSICAL_ADDR  0x1000000UL
#define __START_KERNEL      (__START_KERNEL_map + LOAD_PHYSICAL_ADDR)
#define KERNEL_IMAGE_SIZE   (512 * 1024 * 1024)    /* Linux without KASLR (the loader maps 1 GiB) */

#define BOOT_PARAMS_PHYS    0x8000UL

#define USER_TEXT_START     0x400000UL
#define USER_STACK_TOP      0x00007ffffffff000UL
#define USER_STACK_PAGES    8
#define TASK_SIZE_MAX       0x00007ffffffff000UL

#ifndef __ASSEMBLER__
extern unsigned long phys_base;     /* load address - LOAD_PHYSICAL_ADDR (head64.c) */

/* physical <-> virtual for the direct map, and for kernel-image symbols */
#define __va(pa)            ((void *)((unsigned long)(pa) + PAGE_OFFSET))
static inline unsigned long __pa(const void *va)
{
	unsigned long x = (unsigned long)va;
	if (x >= __START_KERNEL_map)
		return x - __START_KERNEL_map + phys_base;
	return x - PAGE_OFFSET;
}
#endif

#endif
