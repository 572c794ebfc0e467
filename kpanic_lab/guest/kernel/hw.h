/*
 * hw.h - the emulated machine's hardware interface, as the guest sees it.
 *
 * This header is the contract between the guest kernel (C) and the machine
 * (kpanic_lab/machine, Python over Unicorn).  The Python side parses the
 * #defines below at import time, so every number here is written once.
 * Keep each definition on one line: `#define NAME value  comment`.
 *
 * Real PCs have a 16550 UART, a local APIC with an MMIO register page and
 * ACPI tables.  The lab machine keeps the same ideas with fewer moving parts:
 * the UART is at its real ports, the local APIC is reached through a handful
 * of I/O ports (one set per CPU: each CPU sees its own APIC), and the lab
 * itself listens on one port for events the guest reports (stage markers of
 * the panic path, "shell waiting for input", ...).
 *
 * Virtual time: every CPU retires one instruction per nanosecond (a 1 GHz
 * machine with IPC 1).  The machine runs CPUs round-robin in quanta, so
 * guest clocks advance in steps of one quantum.
 */
#ifndef KPANIC_HW_H
#define KPANIC_HW_H

/* ---- 16550 UART (COM1) ---------------------------------------------- */
#define COM1_BASE          0x3f8   /* data register: out = transmit, in = receive */
#define COM1_IER           0x3f9   /* bit 0: raise IRQ 4 when a byte arrives */
#define COM1_LSR           0x3fd   /* line status: bit 0 data ready, bit 5 THR empty */
#define LSR_DATA_READY     0x01
#define LSR_THR_EMPTY      0x20

/* ---- local APIC, one per CPU, through ports ------------------------- */
#define APIC_ID_PORT       0x700   /* in 32: this CPU's APIC id (= cpu number) */
#define APIC_EOI_PORT      0x704   /* out 32: end of interrupt (any value) */
#define APIC_TIMER_PORT    0x708   /* out 32: periodic timer period in microseconds, 0 = off */
#define APIC_ICR_PORT      0x70c   /* out 32: send an IPI, see ICR_* below */
#define APIC_CLOCK_LO      0x710   /* in 32: virtual clock (ns) low half; latches the high half */
#define APIC_CLOCK_HI      0x714   /* in 32: virtual clock (ns) high half, as latched */
#define APIC_NCPUS_PORT    0x718   /* in 32: number of CPUs the machine has */

/* ICR value: vector | mode << 8 | dest << 24.  dest ICR_ALL_BUT_SELF = shorthand */
#define ICR_MODE_FIXED     0       /* deliver `vector` as a maskable interrupt */
#define ICR_MODE_NMI       4       /* deliver an NMI (vector 2), ignores IF */
#define ICR_MODE_INIT      5       /* park the target CPU (it stops running) */
#define ICR_MODE_STARTUP   6       /* start a parked CPU: RIP = rdi, RSP = rsi, rdi/rsi of the sender */
#define ICR_DEST_SHIFT     24
#define ICR_ALL_BUT_SELF   0xff

/* ---- reset and power ------------------------------------------------ */
#define RESET_PORT         0xcf9   /* out 8: 0x06 or 0x0e = hard reset (as on a PC) */
#define RESET_VALUE        0x0e
#define POWEROFF_PORT      0x604   /* out 16: 0x2000 = power off (as QEMU's ACPI PM) */
#define POWEROFF_VALUE     0x2000

/* ---- pvpanic (QEMU's ISA pvpanic device) --------------------------- */
#define PVPANIC_PORT       0x505   /* in 8: capability bits; out 8: event (1 panicked, 2 crash kernel loaded) */
#define PVPANIC_CAPABILITY 0x03    /* what the lab machine's device answers */

/* ---- the lab port --------------------------------------------------- */
/* out 32 of an op code to LAB_PORT; arguments in rdi, rsi, rcx, r8 */
#define LAB_PORT           0x500
#define LAB_OP_EVENT       1       /* rdi = event code (LAB_EV_*), rsi/rcx/r8 = event arguments */
#define LAB_OP_DELAY_UNTIL 2       /* rdi = virtual ns: sleep until then (like TPAUSE); an interrupt wakes it if IF=1 */
#define LAB_OP_PYCALL      3       /* rdi = slot, rsi/rcx/r8 = arguments: call the Python function bound to the slot; */
                                   /* its int result is then read with `in` from LAB_PORT (a student's notifier) */
#define LAB_OP_TOOL        4       /* rdi/rsi = request (user address, length), rcx/r8 = reply buffer (address, size): */
                                   /* run a host tool (kexec-tools, the kdump collector) for a guest program; */
                                   /* `in` from LAB_PORT then gives the reply's length or -errno */

/* events: the machine records each with the CPU, RIP and virtual time */
#define LAB_EV_BOOTED      1       /* start_kernel reached the end of boot */
#define LAB_EV_TTY_WAIT    2       /* a reader blocks on the console with no input queued */
#define LAB_EV_CPU_ONLINE  3       /* rsi = cpu that came online */
#define LAB_EV_PANIC_LOOP  4       /* the CPU entered panic()'s final loop (irqs on, forever) */
#define LAB_EV_CPU_STOPPED 5       /* the CPU stopped itself: rsi = cpu, rcx = 0 stop NMI, 1 panic_smp_self_stop, 2 crash NMI, 3 REBOOT_VECTOR IPI */
#define LAB_EV_STAGE       6       /* rsi = stage number (panic state machine), rcx/r8 = arguments */
#define LAB_EV_TASK_EXIT   7       /* rsi = pid, rcx = exit code */

/* ---- interrupt vectors (numbers as in Linux 6.1, arch/x86/include/asm/irq_vectors.h) */
#define NMI_VECTOR             0x02
#define SERIAL_VECTOR          0x34    /* ISA IRQ 4 = ISA_IRQ_VECTOR(4) */
#define LOCAL_TIMER_VECTOR     0xec
#define REBOOT_VECTOR          0xf8
#define CALL_FUNCTION_VECTOR   0xfc
#define RESCHEDULE_VECTOR      0xfd
#define SPURIOUS_APIC_VECTOR   0xff

/* ---- segment selectors (as Linux: __KERNEL_CS, __KERNEL_DS, __USER_DS, __USER_CS) */
#define GDT_ENTRY_KERNEL_CS    2
#define KERNEL_CS              0x10
#define KERNEL_DS              0x18
#define USER32_CS              0x23
#define USER_DS                0x2b
#define USER_CS                0x33
#define TSS_SELECTOR           0x40    /* GDT entries 8-9: the 16-byte TSS descriptor */

/* ---- MSRs ----------------------------------------------------------- */
#define MSR_EFER               0xc0000080
#define MSR_STAR               0xc0000081
#define MSR_LSTAR              0xc0000082
#define MSR_SYSCALL_MASK       0xc0000084
#define MSR_FS_BASE            0xc0000100
#define MSR_GS_BASE            0xc0000101
#define MSR_KERNEL_GS_BASE     0xc0000102

#endif
