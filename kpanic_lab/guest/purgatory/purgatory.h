/*
 * purgatory.h - what kexec-tools tells purgatory (kpanic_lab/kdump/kexec.py
 * fills `purgatory_args` in the purgatory image before loading it).
 */
#ifndef KPANIC_PURGATORY_H
#define KPANIC_PURGATORY_H

#define PURGATORY_MAGIC        0x59524f5441475250ULL   /* "PRGATORY" */
#define PURGATORY_MAX_SEGMENTS 8

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct purgatory_segment {
	u64 mem;                /* physical address */
	u64 len;
	u8 sha256[32];          /* as kexec-tools computed it before the crash */
};

struct purgatory_args {
	u64 magic;
	u64 nr_segments;
	struct purgatory_segment segment[PURGATORY_MAX_SEGMENTS];
	u64 entry;              /* the capture kernel's startup_64 (virtual) */
	u64 cr3;                /* the capture kernel's boot page tables (physical) */
	u64 boot_params;        /* its struct boot_params (physical), passed in RSI */
	u64 page_offset;        /* where physical memory is mapped (the direct map) */
	u16 gdt_limit;          /* a GDT in the crashkernel= range for the jump */
	u64 gdt_base __attribute__((packed));
} __attribute__((packed));

#endif
