/*
 * bootparam.h - what the boot loader hands the kernel (the lab's "zero page").
 *
 * The Python loader (kpanic_lab/machine/loader.py) fills this in guest memory
 * and starts the boot CPU at the ELF entry point (startup_64) with
 * RSI = the physical address of this structure, paging on (boot page tables:
 * the direct map at PAGE_OFFSET and the kernel map at __START_KERNEL_map),
 * interrupts off, CPL 0.  Every field is 64 bits so the layout is the same
 * whatever the compiler; a test checks it against the kernel's DWARF.
 */
#ifndef KPANIC_BOOTPARAM_H
#define KPANIC_BOOTPARAM_H

#define BOOT_PARAMS_MAGIC   0x6b70616e69636c62ULL   /* "blcinapk" */
#define E820_MAX_ENTRIES    32
#define COMMAND_LINE_SIZE   2048

#define E820_TYPE_RAM       1
#define E820_TYPE_RESERVED  2

struct boot_e820_entry {
	unsigned long long addr;
	unsigned long long size;
	unsigned long long type;
};

struct boot_params {
	unsigned long long magic;           /* BOOT_PARAMS_MAGIC */
	unsigned long long phys_base;       /* physical address the kernel was loaded at minus LOAD_PHYSICAL_ADDR */
	unsigned long long kernel_start;    /* physical range of the loaded image ... */
	unsigned long long kernel_end;      /* ... [kernel_start, kernel_end) including bss */
	unsigned long long boot_pgt_start;  /* physical range holding the loader's page tables and GDT */
	unsigned long long boot_pgt_end;
	unsigned long long nr_cpus;         /* CPUs the machine has (nr_cpus= on the command line may lower it) */
	unsigned long long e820_entries;
	struct boot_e820_entry e820[E820_MAX_ENTRIES];
	char cmdline[COMMAND_LINE_SIZE];    /* NUL-terminated kernel command line */
};

#endif
