/*
 * maccess.c - reading memory that may not be there (mm/maccess.c).
 *
 * The oops code must read the code bytes around a RIP, a user stack, a
 * frame pointer that might be garbage.  Touching an unmapped address would
 * fault inside the fault handler; instead these helpers walk the current
 * page tables (CR3) first and only copy what is really mapped.  The same
 * walk prints the "PGD ... P4D ... PUD ... PMD ... PTE" line of a page fault.
 */
#include "types.h"
#include "defs.h"
#include "x86.h"
#include "mm.h"
#include "memlayout.h"

#define PTRS_PER_TABLE 512

static unsigned long table_index(unsigned long addr, int level)
{
	return (addr >> (12 + 9 * (level - 1))) & (PTRS_PER_TABLE - 1);
}

/*
 * Walk the 4-level tables for addr.  Fills vals[0..3] with the PGD, PUD, PMD
 * and PTE entries met (fewer when a level is absent or a large page ends the
 * walk) and returns how many levels were read.  *present says whether addr
 * ends in a present mapping; *user whether every level allows user access.
 */
int walk_page_table(unsigned long addr, unsigned long vals[4], bool *present, bool *user)
{
	unsigned long table = read_cr3() & PTE_ADDR_MASK;
	int n = 0;

	*present = false;
	*user = true;
	for (int level = 4; level >= 1; level--) {
		unsigned long *t = __va(table);
		unsigned long e = t[table_index(addr, level)];
		vals[n++] = e;
		if (!(e & _PAGE_PRESENT))
			return n;
		if (!(e & _PAGE_USER))
			*user = false;
		if (level == 1 || ((level == 2 || level == 3) && (e & _PAGE_PSE))) {
			*present = true;
			return n;
		}
		table = e & PTE_ADDR_MASK;
	}
	return n;
}

/* Is every byte of [addr, addr+n) mapped (for the kernel; user too if want_user)? */
bool range_mapped(unsigned long addr, size_t n, bool want_user)
{
	unsigned long vals[4];
	bool present, user;

	if (!n)
		return true;
	if (addr + n < addr)
		return false;
	/* non-canonical addresses would #GP, not #PF */
	if (addr >= 0x0000800000000000UL && addr < 0xffff800000000000UL)
		return false;
	for (unsigned long p = addr & PAGE_MASK; p < addr + n; p += PAGE_SIZE) {
		walk_page_table(p, vals, &present, &user);
		if (!present || (want_user && !user))
			return false;
	}
	return true;
}

/* copy_from_kernel_nofault: 0, or -EFAULT if any of it is not mapped. */
long copy_from_kernel_nofault(void *dst, const void *src, size_t n)
{
	if (!range_mapped((unsigned long)src, n, false))
		return -14;
	memcpy(dst, src, n);
	return 0;
}

/* Read a word of a stack that may be garbage: false if it is not mapped. */
bool read_word_nofault(unsigned long addr, unsigned long *val)
{
	return copy_from_kernel_nofault(val, (void *)addr, sizeof(*val)) == 0;
}

/*
 * User memory, from the kernel.  The kernel shares the user's page tables
 * (no PTI), so a mapped user page can be read directly; an unmapped one
 * gets a chance to be faulted in (handle_mm_fault, the arch code's) and
 * otherwise the copy fails with -EFAULT instead of oopsing.
 */
static bool user_range_ok(unsigned long addr, size_t n, bool write)
{
	if (addr >= TASK_SIZE_MAX || n > TASK_SIZE_MAX - addr)
		return false;
	for (unsigned long p = addr & PAGE_MASK; p < addr + n; p += PAGE_SIZE) {
		if (range_mapped(p, 1, true))
			continue;
		if (handle_mm_fault(p, write ? 0x6 : 0x4) != 0)
			return false;
		if (!range_mapped(p, 1, true))
			return false;
	}
	return true;
}

long copy_from_user(void *dst, const void *usrc, size_t n)
{
	if (!user_range_ok((unsigned long)usrc, n, false))
		return -14;
	memcpy(dst, usrc, n);
	return 0;
}

long copy_to_user(void *udst, const void *src, size_t n)
{
	if (!user_range_ok((unsigned long)udst, n, true))
		return -14;
	memcpy(udst, src, n);
	return 0;
}

/* Copy a NUL-terminated user string of at most n-1 chars; its length or -EFAULT. */
long strncpy_from_user(char *dst, const char *usrc, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (((unsigned long)(usrc + i) & ~PAGE_MASK) == 0 || i == 0)
			if (!user_range_ok((unsigned long)(usrc + i), 1, false))
				return -14;
		dst[i] = usrc[i];
		if (!dst[i])
			return (long)i;
	}
	dst[n - 1] = 0;
	return (long)n - 1;
}
