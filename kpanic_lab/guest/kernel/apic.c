/*
 * apic.c - the local APIC: each CPU's own interrupt controller, timer, and
 * line to the other CPUs (IPIs).
 *
 * A PC's local APIC is a page of memory-mapped registers; the lab machine
 * offers the same functions through a few I/O ports, one set per CPU (each
 * CPU that reads APIC_ID_PORT gets its own number).  The ICR ("interrupt
 * command register") value says what to send where:
 *   vector | delivery mode << 8 | destination CPU << 24
 */
#include "types.h"
#include "param.h"
#include "hw.h"
#include "x86.h"
#include "defs.h"

static void setup_apic_timer(void)
{
	outl(APIC_TIMER_PORT, 1000000 / HZ);    /* period in microseconds */
}

void apic_init(int cpu)
{
	setup_apic_timer();
}

/* stop this CPU's timer (stop_this_cpu: a stopped CPU takes no interrupts) */
void disable_local_APIC(void)
{
	outl(APIC_TIMER_PORT, 0);
}

/* end of interrupt: the APIC may deliver the next one */
void apic_eoi(void)
{
	outl(APIC_EOI_PORT, 0);
}

static void apic_icr_write(u32 icr)
{
	outl(APIC_ICR_PORT, icr);
}

/* cpu = ICR_ALL_BUT_SELF sends to every other CPU */
void apic_send_ipi(int cpu, int vector)
{
	apic_icr_write(vector | ICR_MODE_FIXED << 8 | (u32)cpu << ICR_DEST_SHIFT);
}

void apic_send_nmi(int cpu)
{
	apic_icr_write(NMI_VECTOR | ICR_MODE_NMI << 8 | (u32)cpu << ICR_DEST_SHIFT);
}

/* INIT: reset the target CPU to its parked state, whatever it was doing */
void apic_send_init(int cpu)
{
	apic_icr_write(ICR_MODE_INIT << 8 | (u32)cpu << ICR_DEST_SHIFT);
}

/*
 * Start a parked CPU at `entry` with RSP = `sp`.  (A real STARTUP IPI gives
 * only a page number in real mode and a trampoline climbs to long mode; the
 * lab machine starts the CPU in long mode with our RDI and RSI.)
 */
void apic_send_startup(int cpu, void (*entry)(void), unsigned long sp)
{
	u32 icr = ICR_MODE_STARTUP << 8 | (u32)cpu << ICR_DEST_SHIFT;

	asm volatile("outl %%eax, %%dx" :: "a"(icr), "d"(APIC_ICR_PORT), "D"(entry), "S"(sp) : "memory");
}
