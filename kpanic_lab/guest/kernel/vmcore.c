/*
 * vmcore.c - /proc/vmcore: the old kernel's memory, seen from the capture
 * kernel (fs/proc/vmcore.c, kernel/crash_dump.c in Linux 6.1).
 *
 * The capture kernel boots with elfcorehdr=ADDR: the physical address of an
 * ELF core header kexec-tools built before the crash.  It has one PT_NOTE
 * per CPU, pointing at that CPU's crash_notes buffer in the old kernel's
 * memory, one PT_NOTE for VMCOREINFO, and one PT_LOAD per range of the old
 * kernel's System RAM (the crashkernel= range itself left out).
 *
 * At boot the capture kernel reserves that header, then builds the file:
 *
 *   offset 0        ELF header and program headers (the PT_NOTEs merged into one)
 *   next page       the notes, copied out of old memory (each CPU's NT_PRSTATUS, VMCOREINFO)
 *   next page ...   each PT_LOAD's bytes, read from old memory when read() asks
 *
 * Old memory is read through the direct map, which the capture kernel's page
 * tables cover in full; its own allocator only ever hands out pages of the
 * crashkernel= range, so nothing it does overwrites what it is dumping.
 */
#include "types.h"
#include "defs.h"
#include "errno.h"
#include "fs.h"
#include "proc_fs.h"
#include "memblock.h"
#include "memlayout.h"
#include "elf.h"

#define MAX_PHDRS 32

static unsigned long long elfcorehdr_addr;     /* 0: not a capture kernel */
static struct {
	struct elf64_hdr ehdr;
	struct elf64_phdr phdr[MAX_PHDRS];
} vmcore_hdr;
static char *vmcore_notes;
static u64 vmcore_notes_size, vmcore_notes_off, vmcore_size;

int is_kdump_kernel(void)
{
	return elfcorehdr_addr != 0;
}

/* setup_arch(): elfcorehdr=[size@]offset; keep the header out of the allocator */
void reserve_elfcorehdr(void)
{
	const char *v = cmdline_get("elfcorehdr");
	char *end;
	struct elf64_hdr *eh;

	if (!v || !*v)
		return;
	elfcorehdr_addr = memparse(v, &end);
	if (*end == '@')
		elfcorehdr_addr = memparse(end + 1, &end);
	eh = __va(elfcorehdr_addr);
	if (memcmp(eh->e_ident, "\177ELF", 4) || eh->e_phnum > MAX_PHDRS) {
		pr_warn("Kdump: vmcore not initialized: bad ELF header at 0x%llx\n", elfcorehdr_addr);
		elfcorehdr_addr = 0;
		return;
	}
	memblock_reserve(elfcorehdr_addr & PAGE_MASK,
			 ALIGN(eh->e_phoff + (u64)eh->e_phnum * sizeof(struct elf64_phdr), PAGE_SIZE));
}

/* a note buffer's real size: notes until the empty final note */
static u64 notes_size(const u8 *p, u64 max)
{
	u64 off = 0;

	while (off + 12 <= max) {
		const u32 *n = (const u32 *)(p + off);
		if (n[0] == 0)
			break;
		u64 sz = 12 + ALIGN(n[0], 4) + ALIGN(n[1], 4);
		if (off + sz > max)
			break;
		off += sz;
	}
	return off;
}

/* parse_crash_elf64_headers() + merge_note_headers_elf64() + set_vmcore_list_offsets() */
static int parse_crash_elf_headers(void)
{
	struct elf64_hdr *eh = __va(elfcorehdr_addr);
	struct elf64_phdr *in = (void *)((char *)eh + eh->e_phoff);
	u64 total = 0, off;
	int out = 1;    /* slot 0: the merged PT_NOTE */

	for (int i = 0; i < eh->e_phnum; i++)
		if (in[i].p_type == PT_NOTE)
			total += notes_size(__va(in[i].p_offset), in[i].p_memsz);
	vmcore_notes = kzalloc(total + 12);
	if (!vmcore_notes)
		return -ENOMEM;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (in[i].p_type != PT_NOTE)
			continue;
		u64 n = notes_size(__va(in[i].p_offset), in[i].p_memsz);
		memcpy(vmcore_notes + vmcore_notes_size, __va(in[i].p_offset), n);
		vmcore_notes_size += n;
	}

	vmcore_hdr.ehdr = *eh;
	for (int i = 0; i < eh->e_phnum && out < MAX_PHDRS; i++)
		if (in[i].p_type == PT_LOAD)
			vmcore_hdr.phdr[out++] = in[i];
	vmcore_hdr.ehdr.e_phoff = sizeof(struct elf64_hdr);
	vmcore_hdr.ehdr.e_phnum = out;

	vmcore_notes_off = ALIGN(sizeof(struct elf64_hdr) + out * sizeof(struct elf64_phdr), PAGE_SIZE);
	vmcore_hdr.phdr[0] = (struct elf64_phdr){ .p_type = PT_NOTE, .p_offset = vmcore_notes_off,
						  .p_filesz = vmcore_notes_size, .p_memsz = vmcore_notes_size };
	off = ALIGN(vmcore_notes_off + vmcore_notes_size, PAGE_SIZE);
	for (int i = 1; i < out; i++) {
		vmcore_hdr.phdr[i].p_offset = off;
		off += vmcore_hdr.phdr[i].p_filesz;
	}
	vmcore_size = off;
	return 0;
}

/* read_vmcore(): header, notes, then old memory through the direct map */
static long read_vmcore(struct file *file, char *ubuf, long count, loff_t *ppos)
{
	u64 pos = *ppos, done = 0;

	if (pos >= vmcore_size || count <= 0)
		return 0;
	if ((u64)count > vmcore_size - pos)
		count = vmcore_size - pos;
	while (done < (u64)count) {
		u64 p = pos + done, n = count - done;
		const char *src = NULL;
		static const char zeros[PAGE_SIZE];

		if (p < sizeof(vmcore_hdr.ehdr) + vmcore_hdr.ehdr.e_phnum * sizeof(struct elf64_phdr)) {
			u64 hsz = sizeof(vmcore_hdr.ehdr) + vmcore_hdr.ehdr.e_phnum * sizeof(struct elf64_phdr);
			src = (const char *)&vmcore_hdr + p;
			n = min(n, hsz - p);
		} else if (p >= vmcore_notes_off && p < vmcore_notes_off + vmcore_notes_size) {
			src = vmcore_notes + (p - vmcore_notes_off);
			n = min(n, vmcore_notes_off + vmcore_notes_size - p);
		} else {
			for (int i = 1; i < vmcore_hdr.ehdr.e_phnum; i++) {
				struct elf64_phdr *ph = &vmcore_hdr.phdr[i];
				if (p >= ph->p_offset && p < ph->p_offset + ph->p_filesz) {
					src = __va(ph->p_paddr + (p - ph->p_offset));
					n = min(n, ph->p_offset + ph->p_filesz - p);
					break;
				}
			}
			if (!src) {     /* padding between the parts */
				src = zeros;
				n = min(n, (u64)PAGE_SIZE - (p & (PAGE_SIZE - 1)));
			}
		}
		if (copy_to_user(ubuf + done, src, n))
			return done ? (long)done : -EFAULT;
		done += n;
	}
	*ppos = pos + done;
	return done;
}

static const struct proc_ops vmcore_proc_ops = {
	.proc_read = read_vmcore,
};

/* fs init in a capture kernel: /proc/vmcore appears */
void vmcore_init(void)
{
	if (!is_kdump_kernel())
		return;
	if (parse_crash_elf_headers()) {
		pr_warn("Kdump: vmcore not initialized\n");
		return;
	}
	proc_create("vmcore", 0400, NULL, &vmcore_proc_ops);
}
