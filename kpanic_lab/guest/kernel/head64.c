/*
 * head64.c - the first C code the boot CPU runs (startup_64 calls it on
 * init_task's stack): find out where the loader put us, make the CPU ours,
 * and hand over to start_kernel().
 *
 * When we get here the loader's page tables are live (the direct map at
 * PAGE_OFFSET and the kernel map at __START_KERNEL_map), so __va() works,
 * but .bss may hold anything (a kexec'd capture kernel gets no help), GS
 * points nowhere and there is no IDT: any fault would reset the machine.
 */
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "bootparam.h"
#include "hw.h"
#include "x86.h"
#include "mm.h"
#include "sched.h"
#include "defs.h"

/* load address - LOAD_PHYSICAL_ADDR: 0 normally, the crashkernel= base in a capture kernel */
unsigned long phys_base __section(".data");

/*
 * The kernel's page table root (Linux: init_top_pgt in head_64.S, alias swapper_pg_dir).  The
 * loader's tables are the early ones (early_top_pgt); start-up copies their top level here and
 * loads it, so the root every kernel thread shares is the kernel's own symbol, the one dump
 * tools find in VMCOREINFO.  The lower levels stay the loader's (memblock keeps them).
 */
unsigned long init_top_pgt[PTRS_PER_PGD] __aligned(PAGE_SIZE);

/* our own copy: the loader's page (BOOT_PARAMS_PHYS) is ordinary memory later */
struct boot_params kernel_boot_params __section(".data");

extern char __bss_start[], __bss_stop[];

/* no memset yet: string.c is ordinary code, but this runs before anything (.bss is page aligned) */
static void clear_bss(void)
{
	unsigned long n = (__bss_stop - __bss_start) / 8;
	void *p = __bss_start;

	asm volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0UL) : "memory");
}

/* before the console exists: straight to the UART, for the one thing that can go wrong */
static void early_puts(const char *s)
{
	for (; *s; s++)
		outb(COM1_BASE, *s);
}

void __noreturn x86_64_start_kernel(unsigned long boot_params_phys)
{
	struct boot_params *bp = __va(boot_params_phys);

	clear_bss();
	sched_clock_init();             /* timestamps count from here */
	if (bp->magic != BOOT_PARAMS_MAGIC) {
		early_puts("kpanic: no boot_params at RSI: not started by the lab's loader?\n");
		for (;;)
			asm volatile("cli; hlt");
	}
	kernel_boot_params = *bp;
	phys_base = bp->phys_base;
	memcpy(init_top_pgt, __va(read_cr3() & PTE_ADDR_MASK), sizeof(init_top_pgt));
	write_cr3(__pa(init_top_pgt));
	init_mm.pgd = __pa(init_top_pgt);

	idt_setup();
	cpu_init(0);                    /* GDT, TSS, IDT, GS = &pcpu_data[0], syscall MSRs */
	start_kernel(&kernel_boot_params);
	for (;;)
		asm volatile("cli; hlt");
}
