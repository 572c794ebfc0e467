/* x86.h - the instructions the kernel needs that C cannot say, and the lab port. */
#ifndef KPANIC_X86_H
#define KPANIC_X86_H
#include "types.h"
#include "hw.h"

/* RFLAGS bits (X86_EFLAGS_IF is in ptrace.h) */
#define X86_EFLAGS_TF       0x00000100
#define X86_EFLAGS_DF       0x00000400
#define X86_EFLAGS_IOPL     0x00003000
#define X86_EFLAGS_NT       0x00004000
#define X86_EFLAGS_AC       0x00040000
#define EFER_SCE            0x00000001      /* MSR_EFER: syscall/sysret enabled */

/* exception vectors, as Linux's arch/x86/include/asm/trapnr.h */
#define X86_TRAP_DE          0      /* divide error */
#define X86_TRAP_DB          1      /* debug */
#define X86_TRAP_NMI         2      /* non-maskable interrupt */
#define X86_TRAP_BP          3      /* breakpoint (int3) */
#define X86_TRAP_OF          4      /* overflow */
#define X86_TRAP_BR          5      /* bound range exceeded */
#define X86_TRAP_UD          6      /* invalid opcode (ud2: BUG) */
#define X86_TRAP_NM          7      /* device not available */
#define X86_TRAP_DF          8      /* double fault */
#define X86_TRAP_OLD_MF      9      /* coprocessor segment overrun */
#define X86_TRAP_TS         10      /* invalid TSS */
#define X86_TRAP_NP         11      /* segment not present */
#define X86_TRAP_SS         12      /* stack segment fault */
#define X86_TRAP_GP         13      /* general protection fault */
#define X86_TRAP_PF         14      /* page fault */
#define X86_TRAP_SPURIOUS   15      /* spurious interrupt */
#define X86_TRAP_MF         16      /* x87 floating point exception */
#define X86_TRAP_AC         17      /* alignment check */
#define X86_TRAP_MC         18      /* machine check */
#define X86_TRAP_XF         19      /* SIMD floating point exception */
#define X86_TRAP_CP         21      /* control protection fault */

static inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline unsigned long native_save_fl(void)
{
	unsigned long f;
	asm volatile("pushf; pop %0" : "=rm"(f) :: "memory");
	return f;
}
static inline void native_irq_disable(void) { asm volatile("cli" ::: "memory"); }
static inline void native_irq_enable(void) { asm volatile("sti" ::: "memory"); }
static inline bool irqs_disabled(void) { return !(native_save_fl() & 0x200); }
#define local_irq_disable()       native_irq_disable()
#define local_irq_enable()        native_irq_enable()
#define local_irq_save(f)         do { (f) = native_save_fl(); native_irq_disable(); } while (0)
#define local_irq_restore(f)      do { if ((f) & 0x200) native_irq_enable(); } while (0)
static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }

static inline unsigned long read_cr2(void) { unsigned long v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline unsigned long read_cr3(void) { unsigned long v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr3(unsigned long v) { asm volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline unsigned long read_cr0(void) { unsigned long v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline unsigned long read_cr4(void) { unsigned long v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

/* Report an event to the lab (hw.h: LAB_PORT).  Costs one port write. */
static inline void lab_op(u32 op, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3)
{
	register unsigned long r8 asm("r8") = a3;
	asm volatile("outl %%eax, %%dx" :: "a"(op), "d"(LAB_PORT), "D"(a0), "S"(a1), "c"(a2), "r"(r8) : "memory");
}
static inline void lab_event(unsigned long ev, unsigned long a1, unsigned long a2, unsigned long a3)
{
	lab_op(LAB_OP_EVENT, ev, a1, a2, a3);
}

/*
 * cpu_relax() in a loop that only an interrupt (an NMI, with IF=0) can end:
 * the machine is told so it can fast-forward instead of emulating pauses.
 */
static inline void cpu_relax_until_nmi(void)
{
	lab_op(LAB_OP_DELAY_UNTIL, ~0UL, 0, 0, 0);
}

/* virtual clock in nanoseconds, from the machine (hw.h) */
static inline u64 read_clock_ns(void)
{
	u32 lo = inl(APIC_CLOCK_LO);
	u32 hi = inl(APIC_CLOCK_HI);
	return ((u64)hi << 32) | lo;
}

#endif
