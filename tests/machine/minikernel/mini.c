/*
 * A minimal kernel that exercises the lab machine's delivery paths, independent of the
 * guest kernel: IDT and TSS, the timer and IF, int3, a page fault with CR2 and error code,
 * ring 3 through iretq, syscall back into ring 0, an NMI by self-IPI, hlt with IF=0.
 * Built by tests/machine/conftest.py; prints one line per check on the serial port.
 */
#include "hw.h"
#include "bootparam.h"
typedef unsigned long u64; typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8;

static inline void outb(u16 p, u8 v) { asm volatile("outb %0,%1" :: "a"(v), "Nd"(p)); }
static inline void outl(u16 p, u32 v) { asm volatile("outl %0,%1" :: "a"(v), "Nd"(p)); }
static inline u32 inl(u16 p) { u32 v; asm volatile("inl %1,%0" : "=a"(v) : "Nd"(p)); return v; }
static void puts(const char *s) { while (*s) outb(COM1_BASE, *s++); }
static void puthex(u64 v) { char b[19] = "0x"; for (int i = 0; i < 16; i++) b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15]; b[18] = 0; puts(b); }
static void lab(u64 ev, u64 a) { asm volatile("outl %%eax,%%dx" :: "a"(LAB_OP_EVENT), "d"(LAB_PORT), "D"(ev), "S"(a), "c"(0UL)); }

struct gate { u16 lo; u16 sel; u8 ist; u8 type; u16 mid; u32 hi; u32 zero; } __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(16)));
static u64 gdt[10] __attribute__((aligned(16)));
static u32 tss[26] __attribute__((aligned(16)));
static u8 kstack[16384] __attribute__((aligned(16)));
static u8 nmistack[4096] __attribute__((aligned(16)));
u8 boot_stack[16384] __attribute__((aligned(16)));
static u8 ustack[4096] __attribute__((aligned(4096)));
static u64 upml4_pdpt[512] __attribute__((aligned(4096)));
static u64 upd[512] __attribute__((aligned(4096)));
static u64 upt[512] __attribute__((aligned(4096)));
static u8 upage[4096] __attribute__((aligned(4096)));
u64 phys_base_v;
volatile u64 ticks, faults, last_cr2, last_err, nmis, syscalls, last_sys_rax, int3s;

struct frame { u64 rip, cs, rflags, rsp, ss; };
#define KERNEL_VMA 0xffffffff80000000UL
static u64 pa(void *p) { return (u64)p - KERNEL_VMA + phys_base_v; }

__attribute__((interrupt)) void timer_isr(struct frame *f) { ticks++; outl(APIC_EOI_PORT, 0); }
__attribute__((interrupt)) void int3_isr(struct frame *f) { int3s++; }
__attribute__((interrupt)) void nmi_isr(struct frame *f) { nmis++; }
__attribute__((interrupt)) void pf_isr(struct frame *f, u64 err) {
	u64 cr2; asm volatile("mov %%cr2,%0" : "=r"(cr2));
	faults++; last_cr2 = cr2; last_err = err;
	f->rip += 12;  /* skip the faulting `movq $imm32, abs32` (12 bytes) */
}
__attribute__((interrupt)) void gp_isr(struct frame *f, u64 err) { puts("unexpected #GP at "); puthex(f->rip); puts("\n"); for (;;) asm volatile("cli; hlt"); }
__attribute__((interrupt)) void df_isr(struct frame *f, u64 err) { puts("double fault\n"); for (;;) asm volatile("cli; hlt"); }
__attribute__((interrupt)) void ud_isr(struct frame *f) { puts("ud2 at "); puthex(f->rip); puts("\n"); f->rip += 2; }

void syscall_entry(void);
void user_code(void);
asm(".text\n.globl syscall_entry\nsyscall_entry:\n"
    "  incq syscalls(%rip)\n  movq %rax, last_sys_rax(%rip)\n"
    "  cmpq $60, %rax\n  je 1f\n"
    "  /* return to user with iretq: rcx = rip, r11 = rflags */\n"
    "  pushq $0x2b\n  pushq %rsp\n  addq $8, (%rsp)\n  pushq %r11\n  pushq $0x33\n  pushq %rcx\n  iretq\n"
    "1: movq $0, %rax\n  jmp back_in_kernel\n"
    ".globl user_code\nuser_code:\n"
    "  movq $39, %rax\n  syscall\n  movq $60, %rax\n  syscall\n2: jmp 2b\n.previous\n");

static void set_gate(int v, void *h, int ist) {
	u64 a = (u64)h; idt[v] = (struct gate){ a & 0xffff, KERNEL_CS, ist, 0x8e, (a >> 16) & 0xffff, a >> 32, 0 };
}
static u64 saved_rsp;
void back_in_kernel(void);

static u8 ap_stack[16384] __attribute__((aligned(16)));
volatile u64 ap_up;
void ap_entry(u64 cpu)
{
	ap_up = cpu;
	puts("mini: cpu"); outb(COM1_BASE, '0' + cpu); puts(" up\n");
	for (;;) asm volatile("cli; hlt");
}

/* a runaway guest: interrupts off, spinning forever (the machine's budget must stop it) */
void __attribute__((noinline)) spin_forever(void)
{
	asm volatile("cli");
	for (;;) asm volatile("" ::: "memory");
}

static int has(const char *s, const char *w)
{
	for (; *s; s++) { const char *a = s, *b = w; while (*b && *a == *b) a++, b++; if (!*b) return 1; }
	return 0;
}

void startup_c(struct boot_params *bp)
{
	phys_base_v = bp->phys_base;
	puts("mini: hello\n");
	lab(LAB_EV_BOOTED, 0);
	if (has(bp->cmdline, "spin"))
		spin_forever();
	if (bp->nr_cpus > 1) {
		asm volatile("outl %%eax,%%dx" :: "a"((ICR_MODE_STARTUP << 8) | (1u << ICR_DEST_SHIFT)), "d"(APIC_ICR_PORT),
		             "D"((u64)ap_entry), "S"((u64)(ap_stack + sizeof(ap_stack))));
		while (!ap_up) asm volatile("pause");
	}
	/* GDT: null, null, kcs, kds, u32cs, uds, ucs, null, tss(2) */
	gdt[2] = 0x00af9a000000ffffUL; gdt[3] = 0x00cf92000000ffffUL; gdt[4] = 0x00cffa000000ffffUL;
	gdt[5] = 0x00cff2000000ffffUL; gdt[6] = 0x00affa000000ffffUL;
	u64 tb = (u64)tss;
	gdt[8] = (sizeof(tss) - 1) | ((tb & 0xffffff) << 16) | (0x89UL << 40) | (((tb >> 24) & 0xff) << 56);
	gdt[9] = tb >> 32;
	*(u64 *)&tss[1] = (u64)(kstack + sizeof(kstack));          /* rsp0 */
	*(u64 *)&tss[9] = (u64)(nmistack + sizeof(nmistack));      /* ist1 */
	struct { u16 l; u64 b; } __attribute__((packed)) gd = { sizeof(gdt) - 1, (u64)gdt }, id = { sizeof(idt) - 1, (u64)idt };
	asm volatile("lgdt %0" :: "m"(gd));
	asm volatile("mov $0x40, %%ax; ltr %%ax" ::: "rax");
	set_gate(LOCAL_TIMER_VECTOR, timer_isr, 0); set_gate(3, int3_isr, 0); set_gate(2, nmi_isr, 1);
	set_gate(14, pf_isr, 0); set_gate(13, gp_isr, 0); set_gate(8, df_isr, 1); set_gate(6, ud_isr, 0);
	asm volatile("lidt %0" :: "m"(id));
	puts("mini: idt loaded\n");

	/* timer: with IF=0 no tick may arrive */
	outl(APIC_TIMER_PORT, 100);   /* 100 us */
	for (volatile int i = 0; i < 2000000; i++) ;
	puts(ticks == 0 ? "mini: no ticks while IF=0\n" : "mini: FAIL ticks while IF=0\n");
	asm volatile("sti");
	while (ticks < 3) asm volatile("hlt");
	asm volatile("cli");
	outl(APIC_TIMER_PORT, 0);
	puts("mini: 3 ticks with IF=1\n");

	asm volatile("int3");
	puts(int3s == 1 ? "mini: int3 ok\n" : "mini: FAIL int3\n");

	asm volatile("movq $1, 0x10" ::: "memory");   /* 48 c7 04 25 10 00 00 00 01 00 00 00 is 12 bytes; see below */
	puts("mini: page fault cr2="); puthex(last_cr2); puts(" err="); puthex(last_err); puts("\n");

	/* self NMI */
	outl(APIC_ICR_PORT, (ICR_MODE_NMI << 8) | ((u32)0 << ICR_DEST_SHIFT) | 2);
	for (volatile int i = 0; i < 200000; i++) ;
	puts(nmis == 1 ? "mini: nmi ok\n" : "mini: FAIL nmi\n");

	/* ring 3: map user_code's page and a stack at 0x400000/0x401000 */
	u64 *pml4; asm volatile("mov %%cr3,%0" : "=r"(pml4));
	pml4 = (u64 *)((u64)pml4 + 0xffff888000000000UL);
	upml4_pdpt[0] = pa(upd) | 7; upd[2] = pa(upt) | 7;
	for (int i = 0; i < 4096; i++) upage[i] = ((u8 *)user_code)[i];
	upt[0] = pa(upage) | 7; upt[1] = pa(ustack) | 7;
	pml4[0] = pa(upml4_pdpt) | 7;
	asm volatile("mov %%cr3,%%rax; mov %%rax,%%cr3" ::: "rax", "memory");
	asm volatile("wrmsr" :: "c"(MSR_LSTAR), "a"((u32)(u64)syscall_entry), "d"((u32)((u64)syscall_entry >> 32)));
	asm volatile("wrmsr" :: "c"(MSR_STAR), "a"(0), "d"((u32)(KERNEL_CS | (0x23 << 16))));
	asm volatile("wrmsr" :: "c"(MSR_SYSCALL_MASK), "a"(0x200), "d"(0));
	asm volatile("mov %%rsp, %0" : "=m"(saved_rsp));
	asm volatile("pushq $0x2b; pushq $0x402000; pushq $0x202; pushq $0x33; pushq $0x400000; iretq\n"
	             ".globl back_in_kernel\nback_in_kernel:\n" ::: "memory");
	asm volatile("mov %0, %%rsp" :: "m"(saved_rsp));
	u64 cs; asm volatile("mov %%cs,%0" : "=r"(cs));
	puts("mini: syscalls="); puthex(syscalls); puts(" cs="); puthex(cs); puts("\n");
	asm volatile("ud2");
	puts("mini: done\n");
	lab(LAB_EV_PANIC_LOOP, 0);
	for (;;) asm volatile("cli; hlt");
}

asm(".section .head.text,\"ax\"\n.globl startup_64\nstartup_64:\n"
    "  leaq boot_stack+16384(%rip), %rsp\n  movq %rsi, %rdi\n  movabsq $0xffff888000000000, %rax\n  addq %rax, %rdi\n"
    "  call startup_c\n1: hlt\n  jmp 1b\n.previous\n");
