"""The I/O ports: what the guest's ``in`` and ``out`` instructions reach.

COM1 (the serial console), each CPU's local APIC as ports (its id, the CPU count, the timer,
the interrupt command register for IPIs, end of interrupt, the clock), the reset and power-off
ports, the pvpanic device, and the lab port (``labport.py``).  Port numbers come from the
guest's ``hw.h``; a port nothing answers reads all ones, as an empty ISA bus does.

Unicorn calls ``on_in`` and ``on_out`` from its instruction hooks, with the CPU's index.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import Uc

from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.labport import LabEvent

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import Machine


class Ports:
    """The port space of one machine."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine

    def on_in(self, uc: Uc, port: int, size: int, i: int) -> int:
        m = self.machine
        if port == HW.COM1_BASE:
            return m.serial.read()
        if port == HW.COM1_LSR:
            return m.serial.lsr()
        if port == HW.COM1_IER:
            return m.serial.ier
        if port == HW.APIC_ID_PORT:
            return i
        if port == HW.APIC_NCPUS_PORT:
            return len(m.cpus)
        if port == HW.PVPANIC_PORT:
            return HW.PVPANIC_CAPABILITY
        if port == HW.LAB_PORT:
            return m.labport.read(i)
        if port == HW.APIC_CLOCK_LO:
            m.run_state.clock_hi[i] = m.clock_ns >> 32
            return m.clock_ns & 0xFFFFFFFF
        if port == HW.APIC_CLOCK_HI:
            return m.run_state.clock_hi.get(i, m.clock_ns >> 32)
        return 0xFFFFFFFF >> (32 - 8 * size)   # an empty ISA bus reads all ones

    def on_out(self, uc: Uc, port: int, size: int, value: int, i: int) -> None:
        m = self.machine
        cpu = m.cpus[i]
        if port == HW.COM1_BASE:
            m.serial.write(value)
        elif port == HW.COM1_IER:
            # the CPU that enables the UART's interrupt gets it (as the OS routing it there
            # through the I/O APIC would): after a kdump jump that is the capture kernel's CPU
            m.serial.ier = value & 0xFF
            m.run_state.serial_cpu = i
            if m.serial.ier & 1 and m.serial.input:
                cpu.rt.irr.add(HW.SERIAL_VECTOR)
        elif port == HW.APIC_EOI_PORT:
            pass   # no in-service tracking: the interrupt gate's IF=0 is the only mask
        elif port == HW.APIC_TIMER_PORT:
            period = value * 1000
            cpu.rt.timer_period = period
            cpu.rt.timer_next = m.clock_ns + period if period else 0
        elif port == HW.APIC_ICR_PORT:
            m.interrupts.ipi(cpu, value)
        elif port == HW.RESET_PORT and value in (0x06, 0x0E):
            m.run_state.reset = True
            uc.emu_stop()
        elif port == HW.POWEROFF_PORT and value == HW.POWEROFF_VALUE:
            m.run_state.poweroff = True
            uc.emu_stop()
        elif port == HW.LAB_PORT:
            m.labport.write(cpu, value)
        elif port == HW.PVPANIC_PORT:
            # the pvpanic device: the guest tells the host it panicked (recorded, not printed)
            m.emit(LabEvent(m.clock_ns, i, "pvpanic", (value & 0xFF, 0, 0), cpu.rip))
