/* crash_core.h - VMCOREINFO and the per-CPU crash notes (crash_core.c). */
#ifndef KPANIC_CRASH_CORE_H
#define KPANIC_CRASH_CORE_H
#include "types.h"
#include "ptrace.h"
#include "ioport.h"

#define VMCOREINFO_BYTES       4096
#define VMCOREINFO_NOTE_NAME   "VMCOREINFO"
#define VMCOREINFO_NOTE_SIZE   (12 * 2 + 12 + VMCOREINFO_BYTES)   /* note header, name, data, final note */
#define NT_PRSTATUS            1

/* struct elf_prstatus for x86-64 (336 bytes, as readelf -n shows) */
struct elf_prstatus {
	int si_signo, si_code, si_errno;      /* pr_info */
	short pr_cursig;
	unsigned long pr_sigpend, pr_sighold;
	int pr_pid, pr_ppid, pr_pgrp, pr_sid;
	struct { long tv_sec, tv_usec; } pr_utime, pr_stime, pr_cutime, pr_cstime;
	unsigned long pr_reg[27];             /* user_regs_struct: r15 ... gs */
	int pr_fpvalid;
};

/* one CPU's note buffer: its NT_PRSTATUS note and the empty final note */
_Static_assert(sizeof(struct elf_prstatus) == 336, "struct elf_prstatus must be 336 bytes, as on x86-64 Linux");

struct crash_note_buf {
	u32 words[(12 + 8 + sizeof(struct elf_prstatus) + 12) / 4];
};

extern u32 vmcoreinfo_note[];
extern struct crash_note_buf crash_notes[];
void crash_save_vmcoreinfo_init(void);
void vmcoreinfo_append_str(const char *fmt, ...) __printf(1, 2);
void log_buf_vmcoreinfo_setup(void);                 /* printk.c */
#define VMCOREINFO_SYMBOL(name)        vmcoreinfo_append_str("SYMBOL(%s)=%lx\n", #name, (unsigned long)&name)
#define VMCOREINFO_STRUCT_SIZE(name)   vmcoreinfo_append_str("SIZE(%s)=%lu\n", #name, (unsigned long)sizeof(struct name))
#define VMCOREINFO_OFFSET(name, field) vmcoreinfo_append_str("OFFSET(%s.%s)=%lu\n", #name, #field, \
							     (unsigned long)offsetof(struct name, field))
void crash_save_vmcoreinfo(void);
void crash_save_cpu(struct pt_regs *regs, int cpu);
unsigned long paddr_vmcoreinfo_note(void);
unsigned long paddr_crash_notes(int cpu);

/* crash_reserve.c */
extern struct resource crashk_res;
void reserve_crashkernel(void);
unsigned long crash_get_memory_size(void);

#endif
