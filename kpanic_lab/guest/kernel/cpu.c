/*
 * cpu.c - make a CPU the kernel's: its GDT and TSS, its per-CPU data (GS),
 * the IDT, and the MSRs that route `syscall` to entry_SYSCALL_64.
 *
 * Every CPU runs cpu_init() once, on its own boot path: the boot CPU from
 * head64.c before start_kernel(), the others from secondary_start_kernel().
 *
 * The GDT holds the segments of hw.h (the same selectors as Linux, so the
 * CS/SS values in an oops read as they do on a PC) and this CPU's TSS.  In
 * 64-bit mode the TSS no longer switches tasks; it only says which stack the
 * CPU loads when an interrupt arrives in ring 3 (sp0: the running task's
 * kernel stack top, updated at every context switch) and which stacks the
 * IST gates use (NMI and double fault get their own: they may arrive when
 * the current stack cannot be trusted).
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "sched.h"
#include "defs.h"

#define GDT_ENTRIES         16
#define EXCEPTION_STKSZ     8192

/* the 64-bit TSS (Intel SDM vol. 3, 8.7), as Linux's struct x86_hw_tss */
struct tss_struct {
	u32 reserved1;
	u64 sp0, sp1, sp2;
	u64 reserved2;
	u64 ist[7];
	u32 reserved3, reserved4;
	u16 reserved5;
	u16 io_bitmap_base;
} __attribute__((packed));

struct desc_ptr {
	u16 size;
	u64 address;
} __attribute__((packed));

struct pcpu pcpu_data[NR_CPUS];
struct tss_struct cpu_tss_rw[NR_CPUS] __aligned(64);
static u64 gdt_page[NR_CPUS][GDT_ENTRIES] __aligned(64);
static char nmi_stack[NR_CPUS][EXCEPTION_STKSZ] __aligned(16);
static char df_stack[NR_CPUS][EXCEPTION_STKSZ] __aligned(16);

/* flat segments; only the L (64-bit), DPL and type bits matter in long mode */
static const u64 gdt_template[GDT_ENTRIES] = {
	[1] = 0x00cf9b000000ffffULL,    /* KERNEL32_CS */
	[2] = 0x00af9b000000ffffULL,    /* KERNEL_CS   0x10: 64-bit code, DPL 0 */
	[3] = 0x00cf93000000ffffULL,    /* KERNEL_DS   0x18 */
	[4] = 0x00cffb000000ffffULL,    /* USER32_CS   0x23 */
	[5] = 0x00cff3000000ffffULL,    /* USER_DS     0x2b: data, DPL 3 */
	[6] = 0x00affb000000ffffULL,    /* USER_CS     0x33: 64-bit code, DPL 3 */
};

/* GDT entries 8-9: a 16-byte system descriptor, type 9 = available 64-bit TSS */
static void set_tss_desc(u64 *gdt, struct tss_struct *tss)
{
	u64 base = (u64)tss;
	u64 limit = sizeof(*tss) - 1;

	gdt[TSS_SELECTOR / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
				(((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[TSS_SELECTOR / 8 + 1] = base >> 32;
}

static void load_gdt_and_segments(u64 *gdt)
{
	struct desc_ptr d = { .size = GDT_ENTRIES * 8 - 1, .address = (u64)gdt };

	asm volatile("lgdt %0" :: "m"(d));
	/* CS can only be reloaded by a far transfer: return to the next line through KERNEL_CS */
	asm volatile("pushq %[cs]\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:" :: [cs] "i"(KERNEL_CS) : "rax", "memory");
	/* data segments are unused in 64-bit mode; SS must be a valid ring-0 selector */
	asm volatile("movl %0, %%ss" :: "r"(KERNEL_DS));
	asm volatile("movl %0, %%ds; movl %0, %%es; movl %0, %%fs; movl %0, %%gs" :: "r"(0));
}

/* the kernel stack the CPU switches to on an interrupt from user mode */
void update_task_stack(struct task_struct *t)
{
	struct pcpu *p = this_pcpu();
	unsigned long top = (unsigned long)t->stack + THREAD_SIZE;

	cpu_tss_rw[p->cpu_number].sp0 = top;
	p->top_of_stack = top;
}

void cpu_init(int cpu)
{
	struct pcpu *p = &pcpu_data[cpu];
	struct tss_struct *tss = &cpu_tss_rw[cpu];
	u64 *gdt = gdt_page[cpu];
	int i;

	p->self = p;
	p->cpu_number = cpu;
	if (!p->current_task)
		p->current_task = &init_task;       /* the boot CPU runs init_task from startup_64 */

	for (i = 0; i < GDT_ENTRIES; i++)
		gdt[i] = gdt_template[i];
	tss->sp0 = (unsigned long)p->current_task->stack + THREAD_SIZE;
	tss->ist[IST_INDEX_DF] = (unsigned long)df_stack[cpu] + EXCEPTION_STKSZ;
	tss->ist[IST_INDEX_NMI] = (unsigned long)nmi_stack[cpu] + EXCEPTION_STKSZ;
	tss->io_bitmap_base = sizeof(*tss);   /* no I/O bitmap: ring 3 may not use ports */
	p->top_of_stack = tss->sp0;
	set_tss_desc(gdt, tss);

	load_gdt_and_segments(gdt);
	/* loading GS above cleared its base: now point it at this CPU's data */
	wrmsr(MSR_GS_BASE, (u64)p);
	wrmsr(MSR_KERNEL_GS_BASE, 0);         /* the user's GS base, until swapgs */
	asm volatile("ltr %w0" :: "r"(TSS_SELECTOR));
	load_idt();

	/* syscall: kernel CS/SS from STAR[47:32], user CS/SS (for sysret) from STAR[63:48] */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, ((u64)USER32_CS << 48) | ((u64)KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (u64)entry_SYSCALL_64);
	/* flags cleared on entry: no interrupts until the stack is switched, no single step, DF=0 */
	wrmsr(MSR_SYSCALL_MASK, X86_EFLAGS_TF | X86_EFLAGS_DF | X86_EFLAGS_IF |
				X86_EFLAGS_IOPL | X86_EFLAGS_AC | X86_EFLAGS_NT);
}
