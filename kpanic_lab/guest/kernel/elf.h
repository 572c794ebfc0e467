/* elf.h - the ELF64 headers the kernel reads: programs (exec.c) and core headers (vmcore.c),
 * as include/uapi/linux/elf.h. */
#ifndef KPANIC_ELF_H
#define KPANIC_ELF_H
#include "types.h"

struct elf64_hdr {
	unsigned char e_ident[16];
	u16 e_type, e_machine;
	u32 e_version;
	u64 e_entry, e_phoff, e_shoff;
	u32 e_flags;
	u16 e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct elf64_phdr {
	u32 p_type, p_flags;
	u64 p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};

#define ET_EXEC      2
#define ET_CORE      4
#define EM_X86_64    62
#define PT_LOAD      1
#define PT_NOTE      4

#endif
