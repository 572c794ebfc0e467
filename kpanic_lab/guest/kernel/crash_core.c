/*
 * crash_core.c - what the crashed kernel leaves for the capture kernel to find
 * (kernel/crash_core.c, kernel/kexec_core.c's crash_save_cpu in Linux 6.1).
 *
 *   VMCOREINFO   a text note ("OSRELEASE=...", "SYMBOL(mem_map)=...",
 *                "OFFSET(page.flags)=...") telling dump tools where things are
 *                without the vmlinux: makedumpfile filters pages with it.
 *                /sys/kernel/vmcoreinfo gives its physical address and size.
 *   crash_notes  per CPU, an ELF NT_PRSTATUS note filled at crash time with the
 *                CPU's registers (crash_save_cpu); kexec-tools points the
 *                ELF core header's PT_NOTEs at them (/sys/devices/system/cpu/
 *                cpuN/crash_notes).
 * Both are ELF notes in memory: { namesz, descsz, type, name (4-aligned), desc }.
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "sched.h"
#include "mm.h"
#include "x86.h"
#include "crash_core.h"
#include "utsname.h"
#include "memlayout.h"

extern char __start_notes[], __stop_notes[], _stext[];
extern struct mm_struct init_mm;

static char vmcoreinfo_data[VMCOREINFO_BYTES];
static size_t vmcoreinfo_size;
u32 vmcoreinfo_note[VMCOREINFO_NOTE_SIZE / 4] __aligned(8);
struct crash_note_buf crash_notes[NR_CPUS] __aligned(8);

static u32 *append_elf_note(u32 *buf, const char *name, unsigned int type, const void *data, size_t len)
{
	struct elf_note { u32 n_namesz, n_descsz, n_type; } *note = (void *)buf;

	note->n_namesz = strlen(name) + 1;
	note->n_descsz = len;
	note->n_type = type;
	buf += sizeof(*note) / 4;
	memcpy(buf, name, note->n_namesz);
	buf += ALIGN(note->n_namesz, 4) / 4;
	memcpy(buf, data, len);
	buf += ALIGN(len, 4) / 4;
	return buf;
}

static void final_note(u32 *buf)
{
	memset(buf, 0, 12);
}

void vmcoreinfo_append_str(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vmcoreinfo_size += vsnprintf(vmcoreinfo_data + vmcoreinfo_size,
				     VMCOREINFO_BYTES - vmcoreinfo_size, fmt, args);
	va_end(args);
	if (vmcoreinfo_size > VMCOREINFO_BYTES)
		vmcoreinfo_size = VMCOREINFO_BYTES;
}

static void update_vmcoreinfo_note(void)
{
	u32 *buf = append_elf_note(vmcoreinfo_note, VMCOREINFO_NOTE_NAME, 0, vmcoreinfo_data, vmcoreinfo_size);
	final_note(buf);
}

/* The kernel's own build-id, from its .note.gnu.build-id (what crash checks against the vmlinux). */
static void append_build_id(void)
{
	char *p = __start_notes;

	while (p + 12 <= __stop_notes) {
		u32 namesz = ((u32 *)p)[0], descsz = ((u32 *)p)[1], type = ((u32 *)p)[2];
		const u8 *desc = (const u8 *)p + 12 + ALIGN(namesz, 4);

		if (type == 3 && namesz == 4 && !memcmp(p + 12, "GNU", 4)) {
			vmcoreinfo_append_str("BUILD-ID=");
			for (u32 i = 0; i < descsz; i++)
				vmcoreinfo_append_str("%02x", desc[i]);
			vmcoreinfo_append_str("\n");
			return;
		}
		p += 12 + ALIGN(namesz, 4) + ALIGN(descsz, 4);
	}
}

#define VMCOREINFO_SYMBOL_ARRAY(name)  vmcoreinfo_append_str("SYMBOL(%s)=%lx\n", #name, (unsigned long)name)
#define VMCOREINFO_SIZE(name)          vmcoreinfo_append_str("SIZE(%s)=%lu\n", #name, (unsigned long)sizeof(name))
#define VMCOREINFO_NUMBER(name)        vmcoreinfo_append_str("NUMBER(%s)=%ld\n", #name, (long)(name))

/*
 * at boot (crash_save_vmcoreinfo_init): everything but the crash time.  Linux 6.1's entries
 * in its order and formats, each one the guest has the structure for (it has no NUMA nodes,
 * zones, vmalloc areas, SPARSEMEM, compound pages or compressed kallsyms, so no entries for
 * them); then the lab's own few, which Linux does not export and the lab's tools read.
 */
void crash_save_vmcoreinfo_init(void)
{
	vmcoreinfo_append_str("OSRELEASE=%s\n", init_uts_ns.name.release);
	append_build_id();
	vmcoreinfo_append_str("PAGESIZE=%ld\n", PAGE_SIZE);
	VMCOREINFO_SYMBOL(init_uts_ns);
	VMCOREINFO_OFFSET(uts_namespace, name);
	VMCOREINFO_SYMBOL_ARRAY(swapper_pg_dir);
	VMCOREINFO_SYMBOL_ARRAY(_stext);
	VMCOREINFO_SYMBOL(mem_map);             /* FLATMEM: mem_map[pfn] */
	VMCOREINFO_STRUCT_SIZE(page);
	VMCOREINFO_STRUCT_SIZE(list_head);
	VMCOREINFO_OFFSET(page, flags);
	VMCOREINFO_OFFSET(page, _refcount);
	VMCOREINFO_OFFSET(page, mapping);
	VMCOREINFO_OFFSET(page, lru);
	VMCOREINFO_OFFSET(page, _mapcount);
	VMCOREINFO_OFFSET(page, private);
	VMCOREINFO_OFFSET(list_head, next);
	VMCOREINFO_OFFSET(list_head, prev);
	log_buf_vmcoreinfo_setup();             /* printk.c: where the log is, its record layout */
	VMCOREINFO_NUMBER(PG_lru);
	VMCOREINFO_NUMBER(PG_private);
	VMCOREINFO_NUMBER(PG_swapcache);
	VMCOREINFO_NUMBER(PG_swapbacked);
	VMCOREINFO_NUMBER(PG_slab);
	vmcoreinfo_append_str("NUMBER(PG_head_mask)=%ld\n", 1L << PG_head);
	VMCOREINFO_NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE);
	/* arch_crash_save_vmcoreinfo (x86-64): no KASLR, 4-level paging, no memory encryption */
	VMCOREINFO_NUMBER(phys_base);
	VMCOREINFO_SYMBOL_ARRAY(init_top_pgt);
	vmcoreinfo_append_str("NUMBER(pgtable_l5_enabled)=0\n");
	vmcoreinfo_append_str("KERNELOFFSET=0\n");
	VMCOREINFO_NUMBER(KERNEL_IMAGE_SIZE);
	vmcoreinfo_append_str("NUMBER(sme_mask)=0\n");
	/* the lab's own: not in Linux */
	VMCOREINFO_SYMBOL(init_task);
	VMCOREINFO_SYMBOL(init_mm);
	VMCOREINFO_OFFSET(mm_struct, pgd);
	VMCOREINFO_SYMBOL(max_pfn);
	VMCOREINFO_SYMBOL(pcpu_data);
	VMCOREINFO_SYMBOL(panic_cpu);
	VMCOREINFO_OFFSET(page, index);
	VMCOREINFO_NUMBER(PG_reserved);
	VMCOREINFO_NUMBER(PG_head);
	VMCOREINFO_STRUCT_SIZE(task_struct);
	VMCOREINFO_OFFSET(task_struct, tasks);
	VMCOREINFO_OFFSET(task_struct, pid);
	VMCOREINFO_OFFSET(task_struct, comm);
	update_vmcoreinfo_note();
}

/* at crash time: when it happened (__crash_kexec) */
void crash_save_vmcoreinfo(void)
{
	vmcoreinfo_append_str("CRASHTIME=%lld\n", (long long)(LAB_EPOCH_SECONDS + local_clock() / 1000000000ULL));
	update_vmcoreinfo_note();
}

unsigned long paddr_vmcoreinfo_note(void)
{
	return __pa(vmcoreinfo_note);
}

/*
 * A CPU's registers at the crash, as an NT_PRSTATUS note in its crash_notes
 * buffer (struct elf_prstatus: pr_pid, then pr_reg in user_regs_struct order).
 */
void crash_save_cpu(struct pt_regs *regs, int cpu)
{
	struct elf_prstatus prstatus;
	struct task_struct *t = pcpu_data[cpu].current_task;

	if (cpu < 0 || cpu >= NR_CPUS)
		return;
	memset(&prstatus, 0, sizeof(prstatus));
	prstatus.pr_pid = t ? t->pid : 0;
	unsigned long *r = prstatus.pr_reg;
	r[0] = regs->r15; r[1] = regs->r14; r[2] = regs->r13; r[3] = regs->r12;
	r[4] = regs->bp; r[5] = regs->bx; r[6] = regs->r11; r[7] = regs->r10;
	r[8] = regs->r9; r[9] = regs->r8; r[10] = regs->ax; r[11] = regs->cx;
	r[12] = regs->dx; r[13] = regs->si; r[14] = regs->di; r[15] = regs->orig_ax;
	r[16] = regs->ip; r[17] = regs->cs; r[18] = regs->flags; r[19] = regs->sp;
	r[20] = regs->ss; r[21] = rdmsr(MSR_FS_BASE); r[22] = rdmsr(MSR_GS_BASE);
	u32 *buf = append_elf_note(crash_notes[cpu].words, "CORE", NT_PRSTATUS, &prstatus, sizeof(prstatus));
	final_note(buf);
}

unsigned long paddr_crash_notes(int cpu)
{
	return __pa(&crash_notes[cpu]);
}
