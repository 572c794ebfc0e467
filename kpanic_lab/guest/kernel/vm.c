/*
 * vm.c - user address spaces: their page tables, their pages, and the
 * kernel's careful access to them (copy_from_user and friends).
 *
 * Each process has its own PML4 (mm->pgd).  Entries 256-511, the kernel
 * half, are copied from the boot page tables (init_mm), so the kernel is
 * mapped identically in every address space and a system call needs no CR3
 * switch.  Entries 0-255 map the process's own 4 KiB pages: text and data
 * (exec.c), the heap (brk), anonymous mmap regions, and the stack.
 *
 * Every user page is allocated when it is mapped (no demand paging, no
 * copy-on-write), zeroed, and marked in its struct page the way Linux marks
 * anonymous memory, so that makedumpfile's -d 8 ("user data") finds it:
 * page->mapping = the owning mm | PAGE_MAPPING_ANON (Linux puts an anon_vma
 * there; the low bit is what counts), page->_mapcount = 0 (mapped once),
 * page->index = the page's virtual page number.
 *
 *   pgd (PML4) -> PDPT -> PD -> PT -> 4 KiB page        user half only
 */
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "mm.h"
#include "x86.h"
#include "sched.h"
#include "errno.h"
#include "defs.h"

#define PTRS_PER_TABLE      512
#define USER_PTRS_PER_PGD   256         /* PML4 entries 0-255: the lower half */
#define PAGE_TABLE_FLAGS    (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)
#define MMAP_BASE           0x00007ffff7fff000UL   /* anonymous mmaps grow down from here */

#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20

static inline int pgtable_index(unsigned long va, int level)
{
	return (va >> (PAGE_SHIFT + 9 * level)) & (PTRS_PER_TABLE - 1);
}

/* The PTE that maps va in the address space pgd, creating tables on the way if asked. */
static u64 *walk_pte(unsigned long pgd, unsigned long va, bool create)
{
	u64 *table = __va(pgd);
	int level;

	for (level = 3; level > 0; level--) {
		u64 *e = &table[pgtable_index(va, level)];

		if (!(*e & _PAGE_PRESENT)) {
			void *t;

			if (!create)
				return NULL;
			t = get_zeroed_page();
			if (!t)
				return NULL;
			*e = __pa(t) | PAGE_TABLE_FLAGS;
		}
		table = __va(*e & PTE_ADDR_MASK);
	}
	return &table[pgtable_index(va, 0)];
}

/* physical address behind a user virtual address in mm, or 0 if unmapped */
unsigned long user_virt_to_phys(struct mm_struct *mm, unsigned long va)
{
	u64 *pte = walk_pte(mm->pgd, va, false);

	if (!pte || !(*pte & _PAGE_PRESENT))
		return 0;
	return (*pte & PTE_ADDR_MASK) | (va & ~PAGE_MASK);
}

static void free_user_page(u64 pte)
{
	struct page *page = pfn_to_page((pte & PTE_ADDR_MASK) >> PAGE_SHIFT);

	page->mapping = NULL;
	page->index = 0;
	page->_mapcount = -1;
	page->flags &= ~((1UL << PG_swapbacked) | (1UL << PG_uptodate));
	__free_pages(page, 0);
}

/* Map one new zeroed anonymous page at va (page aligned).  0 or -ENOMEM. */
static int map_anon_page(struct mm_struct *mm, unsigned long va)
{
	u64 *pte = walk_pte(mm->pgd, va, true);
	struct page *page;

	if (!pte)
		return -ENOMEM;
	if (*pte & _PAGE_PRESENT)
		return 0;                       /* already there (overlapping segments) */
	page = alloc_pages(0);
	if (!page)
		return -ENOMEM;
	memset(page_address(page), 0, PAGE_SIZE);
	page->mapping = (struct address_space *)((unsigned long)mm | PAGE_MAPPING_ANON);
	page->index = va >> PAGE_SHIFT;
	page->_mapcount = 0;
	SetPageFlag(page, PG_swapbacked);
	SetPageFlag(page, PG_uptodate);
	*pte = (page_to_pfn(page) << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;
	return 0;
}

int map_user_range(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	unsigned long va;
	int err;

	for (va = start & PAGE_MASK; va < start + len; va += PAGE_SIZE) {
		err = map_anon_page(mm, va);
		if (err)
			return err;
	}
	return 0;
}

/* unmap and free the pages of [start, start+len); the page tables stay */
void unmap_user_range(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	unsigned long va;

	for (va = start & PAGE_MASK; va < start + len; va += PAGE_SIZE) {
		u64 *pte = walk_pte(mm->pgd, va, false);

		if (!pte || !(*pte & _PAGE_PRESENT))
			continue;
		free_user_page(*pte);
		*pte = 0;
		if (current->mm == mm)
			asm volatile("invlpg (%0)" :: "r"(va) : "memory");
	}
}

/* A new address space: an empty user half, the kernel half shared with everyone. */
struct mm_struct *mm_alloc(void)
{
	struct mm_struct *mm = kzalloc(sizeof(*mm));
	u64 *pgd, *kernel_pgd = __va(init_mm.pgd);
	int i;

	if (!mm)
		return NULL;
	pgd = get_zeroed_page();
	if (!pgd) {
		kfree(mm);
		return NULL;
	}
	for (i = USER_PTRS_PER_PGD; i < PTRS_PER_TABLE; i++)
		pgd[i] = kernel_pgd[i];
	mm->pgd = __pa(pgd);
	mm->mmap_base = MMAP_BASE;
	return mm;
}

/* Free every user page, every user page table, the PML4 and the mm.  mm must not be live in CR3. */
void mm_free(struct mm_struct *mm)
{
	u64 *pml4 = __va(mm->pgd);
	int i, j, k, l;

	for (i = 0; i < USER_PTRS_PER_PGD; i++) {
		u64 *pdpt;

		if (!(pml4[i] & _PAGE_PRESENT))
			continue;
		pdpt = __va(pml4[i] & PTE_ADDR_MASK);
		for (j = 0; j < PTRS_PER_TABLE; j++) {
			u64 *pd;

			if (!(pdpt[j] & _PAGE_PRESENT))
				continue;
			pd = __va(pdpt[j] & PTE_ADDR_MASK);
			for (k = 0; k < PTRS_PER_TABLE; k++) {
				u64 *pt;

				if (!(pd[k] & _PAGE_PRESENT))
					continue;
				pt = __va(pd[k] & PTE_ADDR_MASK);
				for (l = 0; l < PTRS_PER_TABLE; l++)
					if (pt[l] & _PAGE_PRESENT)
						free_user_page(pt[l]);
				free_page(pt);
			}
			free_page(pd);
		}
		free_page(pdpt);
	}
	free_page(pml4);
	kfree(mm);
}

/* fork: a new address space with a copy of every page of old */
struct mm_struct *dup_mm(struct mm_struct *old)
{
	struct mm_struct *mm = mm_alloc();
	u64 *pml4 = __va(old->pgd);
	int i, j, k, l;

	if (!mm)
		return NULL;
	mm->start_code = old->start_code;
	mm->end_code = old->end_code;
	mm->start_brk = old->start_brk;
	mm->brk = old->brk;
	mm->start_stack = old->start_stack;
	mm->map_count = old->map_count;
	mm->mmap_base = old->mmap_base;

	for (i = 0; i < USER_PTRS_PER_PGD; i++) {
		u64 *pdpt;

		if (!(pml4[i] & _PAGE_PRESENT))
			continue;
		pdpt = __va(pml4[i] & PTE_ADDR_MASK);
		for (j = 0; j < PTRS_PER_TABLE; j++) {
			u64 *pd;

			if (!(pdpt[j] & _PAGE_PRESENT))
				continue;
			pd = __va(pdpt[j] & PTE_ADDR_MASK);
			for (k = 0; k < PTRS_PER_TABLE; k++) {
				u64 *pt;

				if (!(pd[k] & _PAGE_PRESENT))
					continue;
				pt = __va(pd[k] & PTE_ADDR_MASK);
				for (l = 0; l < PTRS_PER_TABLE; l++) {
					unsigned long va = ((unsigned long)i << 39) | ((unsigned long)j << 30) |
							   ((unsigned long)k << 21) | ((unsigned long)l << 12);

					if (!(pt[l] & _PAGE_PRESENT))
						continue;
					if (map_anon_page(mm, va)) {
						mm_free(mm);
						return NULL;
					}
					memcpy(__va(user_virt_to_phys(mm, va)),
					       __va(pt[l] & PTE_ADDR_MASK), PAGE_SIZE);
				}
			}
		}
	}
	return mm;
}

/* Write into an address space that is not (necessarily) the current one: exec builds the new one. */
int copy_to_mm(struct mm_struct *mm, unsigned long dst, const void *src, unsigned long len)
{
	const char *s = src;

	while (len) {
		unsigned long pa = user_virt_to_phys(mm, dst);
		unsigned long n = min(len, PAGE_SIZE - (dst & ~PAGE_MASK));

		if (!pa)
			return -EFAULT;
		memcpy(__va(pa), s, n);
		s += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/* ---- the kernel touching user memory ---------------------------------- */

/*
 * Linux catches a bad user pointer with the exception table: the fault in
 * copy_from_user is fixed up into -EFAULT.  Without that machinery we check
 * first: every page of the range must be mapped in the current process.
 * (Safe because a process has one thread: nothing unmaps behind our back.)
 * copy_from_user() and friends (maccess.c) check the same way.
 */
bool access_ok(const void *uaddr, unsigned long size)
{
	unsigned long a = (unsigned long)uaddr;
	unsigned long va;
	struct mm_struct *mm = current->mm;

	if (!mm || a + size < a || a + size > TASK_SIZE_MAX)
		return false;
	for (va = a & PAGE_MASK; va < a + size; va += PAGE_SIZE)
		if (!user_virt_to_phys(mm, va))
			return false;
	return true;
}

/*
 * The page fault handler (traps.c) asks here whether a fault on a user
 * address can be fixed by mapping something.  Every user page is mapped
 * when it is created (exec, brk, mmap): there is no demand paging, so a
 * fault on a user address is always the program's error.
 */
int handle_mm_fault(unsigned long address, unsigned long error_code)
{
	return -EFAULT;
}

/* ---- brk and mmap ----------------------------------------------------- */

/* brk(addr): move the end of the heap; returns the new end (the old one if addr is refused) */
long sys_brk(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	unsigned long old_end, new_end;

	if (!mm)
		return -ENOMEM;
	if (addr < mm->start_brk || addr >= mm->mmap_base - (1UL << 20))
		return mm->brk;
	old_end = ALIGN(mm->brk, PAGE_SIZE);
	new_end = ALIGN(addr, PAGE_SIZE);
	if (new_end > old_end) {
		if (map_user_range(mm, old_end, new_end - old_end)) {
			unmap_user_range(mm, old_end, new_end - old_end);
			return mm->brk;
		}
	} else if (new_end < old_end) {
		unmap_user_range(mm, new_end, old_end - new_end);
	}
	mm->brk = addr;
	return addr;
}

/* mmap: only private anonymous memory, placed by the kernel below the previous one */
long sys_mmap(unsigned long addr, unsigned long len, unsigned long prot,
	      unsigned long flags, long fd, unsigned long off)
{
	struct mm_struct *mm = current->mm;
	unsigned long start;

	if (!mm || !len)
		return -EINVAL;
	if ((flags & (MAP_PRIVATE | MAP_ANONYMOUS)) != (MAP_PRIVATE | MAP_ANONYMOUS) ||
	    (flags & (MAP_SHARED | MAP_FIXED)))
		return -EINVAL;                 /* no files, no shared memory, no fixed addresses */
	len = ALIGN(len, PAGE_SIZE);
	if (len > (1UL << 30))
		return -ENOMEM;
	start = mm->mmap_base - len;
	if (start < ALIGN(mm->brk, PAGE_SIZE) + (1UL << 20))
		return -ENOMEM;
	if (map_user_range(mm, start, len)) {
		unmap_user_range(mm, start, len);
		return -ENOMEM;
	}
	mm->mmap_base = start;
	mm->map_count++;
	return start;
}

long sys_munmap(unsigned long addr, unsigned long len)
{
	struct mm_struct *mm = current->mm;

	if (!mm || (addr & ~PAGE_MASK) || !len || addr + len > TASK_SIZE_MAX || addr + len < addr)
		return -EINVAL;
	unmap_user_range(mm, addr, ALIGN(len, PAGE_SIZE));
	if (mm->map_count)
		mm->map_count--;
	return 0;
}
