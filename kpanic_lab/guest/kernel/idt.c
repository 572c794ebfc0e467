/*
 * idt.c - the interrupt descriptor table: for each of the 256 vectors, which
 * entry stub of entry.S the CPU jumps to.
 *
 * One table serves every CPU (as in Linux).  All gates are interrupt gates:
 * the CPU clears IF on the way in, so no handler is interrupted before it
 * has saved its registers.  int3 and overflow are reachable from ring 3
 * (DPL 3), everything else only from the hardware.  NMI and double fault
 * name an IST stack (cpu.c).  Vectors without a named entry go to their stub
 * in irq_entries_start, which hands the vector to common_interrupt().
 */
#include "types.h"
#include "hw.h"
#include "x86.h"
#include "defs.h"

struct idt_gate {
	u16 offset_low;
	u16 segment;
	u16 bits;               /* ist:3, zero:5, type:4, zero:1, dpl:2, p:1 */
	u16 offset_middle;
	u32 offset_high;
	u32 reserved;
} __attribute__((packed));

#define GATE_INTERRUPT  0xe

struct idt_gate idt_table[256] __aligned(4096);

/* entry.S */
extern char irq_entries_start[];
void asm_exc_divide_error(void), asm_exc_debug(void), asm_exc_nmi(void), asm_exc_int3(void);
void asm_exc_overflow(void), asm_exc_bounds(void), asm_exc_invalid_op(void);
void asm_exc_device_not_available(void), asm_exc_double_fault(void);
void asm_exc_coproc_segment_overrun(void), asm_exc_invalid_tss(void);
void asm_exc_segment_not_present(void), asm_exc_stack_segment(void);
void asm_exc_general_protection(void), asm_exc_page_fault(void);
void asm_exc_spurious_interrupt_bug(void), asm_exc_coprocessor_error(void);
void asm_exc_alignment_check(void), asm_exc_machine_check(void);
void asm_exc_simd_coprocessor_error(void), asm_exc_control_protection(void);
void asm_sysvec_apic_timer_interrupt(void), asm_sysvec_reschedule_ipi(void);
void asm_sysvec_call_function(void), asm_sysvec_reboot(void);
void asm_sysvec_spurious_apic_interrupt(void);

static void set_gate(int vector, void (*handler)(void), int ist, int dpl)
{
	unsigned long a = (unsigned long)handler;
	struct idt_gate *g = &idt_table[vector];

	g->offset_low = a & 0xffff;
	g->segment = KERNEL_CS;
	g->bits = (ist & 7) | (GATE_INTERRUPT << 8) | ((dpl & 3) << 13) | (1 << 15);
	g->offset_middle = (a >> 16) & 0xffff;
	g->offset_high = a >> 32;
	g->reserved = 0;
}

void idt_setup(void)
{
	int v;

	for (v = 0; v < 256; v++)
		set_gate(v, (void (*)(void))(irq_entries_start + 16 * v), 0, 0);

	set_gate(X86_TRAP_DE, asm_exc_divide_error, 0, 0);
	set_gate(X86_TRAP_DB, asm_exc_debug, 0, 0);
	set_gate(X86_TRAP_NMI, asm_exc_nmi, IST_INDEX_NMI + 1, 0);
	set_gate(X86_TRAP_BP, asm_exc_int3, 0, 3);
	set_gate(X86_TRAP_OF, asm_exc_overflow, 0, 3);
	set_gate(X86_TRAP_BR, asm_exc_bounds, 0, 0);
	set_gate(X86_TRAP_UD, asm_exc_invalid_op, 0, 0);
	set_gate(X86_TRAP_NM, asm_exc_device_not_available, 0, 0);
	set_gate(X86_TRAP_DF, asm_exc_double_fault, IST_INDEX_DF + 1, 0);
	set_gate(X86_TRAP_OLD_MF, asm_exc_coproc_segment_overrun, 0, 0);
	set_gate(X86_TRAP_TS, asm_exc_invalid_tss, 0, 0);
	set_gate(X86_TRAP_NP, asm_exc_segment_not_present, 0, 0);
	set_gate(X86_TRAP_SS, asm_exc_stack_segment, 0, 0);
	set_gate(X86_TRAP_GP, asm_exc_general_protection, 0, 0);
	set_gate(X86_TRAP_PF, asm_exc_page_fault, 0, 0);
	set_gate(X86_TRAP_SPURIOUS, asm_exc_spurious_interrupt_bug, 0, 0);
	set_gate(X86_TRAP_MF, asm_exc_coprocessor_error, 0, 0);
	set_gate(X86_TRAP_AC, asm_exc_alignment_check, 0, 0);
	set_gate(X86_TRAP_MC, asm_exc_machine_check, 0, 0);
	set_gate(X86_TRAP_XF, asm_exc_simd_coprocessor_error, 0, 0);
	set_gate(X86_TRAP_CP, asm_exc_control_protection, 0, 0);

	set_gate(LOCAL_TIMER_VECTOR, asm_sysvec_apic_timer_interrupt, 0, 0);
	set_gate(RESCHEDULE_VECTOR, asm_sysvec_reschedule_ipi, 0, 0);
	set_gate(CALL_FUNCTION_VECTOR, asm_sysvec_call_function, 0, 0);
	set_gate(REBOOT_VECTOR, asm_sysvec_reboot, 0, 0);
	set_gate(SPURIOUS_APIC_VECTOR, asm_sysvec_spurious_apic_interrupt, 0, 0);
}

void load_idt(void)
{
	struct { u16 size; u64 address; } __attribute__((packed)) d = {
		.size = sizeof(idt_table) - 1, .address = (u64)idt_table,
	};
	asm volatile("lidt %0" :: "m"(d));
}
