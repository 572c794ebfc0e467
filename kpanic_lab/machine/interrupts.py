"""What enters a CPU through its IDT, and when: exceptions, interrupts, NMIs, IPIs.

Unicorn stops a quantum at an exception or a ``syscall`` and leaves the rest to us
(``cpu.py`` pushes the frame as the hardware does).  Between quanta this module decides what a
CPU takes next, as a local APIC would: an NMI first, unless one is being handled (NMIs stay
blocked until the handler's ``iretq``); otherwise the highest pending vector, if IF=1.  A
delivery that faults becomes a double fault, and one that faults again a triple fault, which
resets a real machine and stops ours with ``TripleFault``.

IPIs come from the interrupt command register (``ports.py``): a fixed vector, an NMI (how a
panicking CPU stops the others), INIT and STARTUP (how the boot CPU starts the others).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from unicorn import UC_HOOK_CODE, Uc
from unicorn import x86_const as X

from kpanic_lab.machine import pagefault
from kpanic_lab.machine.cpu import ERROR_CODE_VECTORS, Cpu, CpuState, PendingEvent
from kpanic_lab.machine.devices import decode_icr
from kpanic_lab.machine.errors import MemoryFault, TripleFault
from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.labport import LabEvent

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import Machine


@dataclass(frozen=True)
class Delivery:
    """One event entering a CPU through its IDT (recorded when ``trace_interrupts`` is on)."""

    time_ns: int
    cpu: int
    vector: int
    rflags: int          # RFLAGS before delivery: IF tells whether the CPU accepted interrupts
    rip: int


class Interrupts:
    """Event delivery for the CPUs of one machine."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self._iret_sites = set(machine.image.instruction_sites("iretq"))
        self._nmi_hooks: Dict[int, list] = {}    # CPU -> its iretq hooks while it handles an NMI

    # ------------------------------------------------------------------ Unicorn's hooks
    def on_intr(self, uc: Uc, intno: int, i: int) -> None:
        self.machine.cpus[i].pending = PendingEvent("exception", intno)
        uc.emu_stop()

    def on_invalid(self, uc: Uc, i: int) -> bool:
        self.machine.cpus[i].pending = PendingEvent("exception", 6)
        uc.emu_stop()
        return True

    def on_syscall(self, uc: Uc, i: int) -> None:
        self.machine.cpus[i].pending = PendingEvent("syscall")
        uc.emu_stop()

    # ------------------------------------------------------------------ between quanta
    def service(self, cpu: Cpu) -> bool:
        """Deliver what is pending to ``cpu``; True when it should run this round."""
        rt = cpu.rt
        if rt.state == CpuState.PARKED:
            return False
        if rt.nmi_pending and not rt.nmi_blocked:
            rt.nmi_pending = False
            rt.nmi_blocked = True
            self.deliver(cpu, 2)
            self._arm_nmi_unblock(cpu)
            rt.state = CpuState.RUNNING
        elif rt.irr and rt.state != CpuState.STOPPED and cpu.interrupts_enabled:
            v = max(rt.irr)
            rt.irr.discard(v)
            self.deliver(cpu, v)
            rt.state = CpuState.RUNNING
        if rt.state == CpuState.SLEEPING and self.machine.clock_ns >= rt.sleep_until:
            rt.state = CpuState.RUNNING
        return rt.state == CpuState.RUNNING

    def exception(self, cpu: Cpu, vector: int) -> None:
        """The CPU raised exception ``vector`` in its quantum: record it and deliver it."""
        m = self.machine
        err = None
        if vector == 14:
            err = pagefault.error_code(cpu, m.image)
        elif vector in ERROR_CODE_VECTORS:
            err = 0
        if vector < 32 and vector not in (3,):
            # observed, not reported by the guest: the CPU raised an exception
            m.emit(LabEvent(m.clock_ns, cpu.index, "exception",
                            (vector, err or 0, cpu.reg("cr2") if vector == 14 else 0), cpu.rip))
        self.deliver(cpu, vector, err)

    def deliver(self, cpu: Cpu, vector: int, error_code: Optional[int] = None,
                return_rip: Optional[int] = None) -> None:
        m = self.machine
        if m.trace_interrupts:
            m.interrupt_log.append(Delivery(m.clock_ns, cpu.index, vector,
                                            cpu.uc.reg_read(X.UC_X86_REG_RFLAGS), cpu.rip))
        try:
            cpu.deliver(vector, error_code, return_rip)
        except MemoryFault as first:
            try:
                cpu.deliver(8, 0, return_rip)
            except MemoryFault:
                raise TripleFault(cpu.index, vector, cpu.rip, m.symbolize(cpu.rip)) from first

    def fire_timers(self) -> None:
        """Each local APIC timer that is due raises its interrupt (after the clock advanced)."""
        now = self.machine.clock_ns
        for cpu in self.machine.cpus:
            rt = cpu.rt
            if rt.timer_period and rt.state != CpuState.PARKED and now >= rt.timer_next:
                rt.irr.add(HW.LOCAL_TIMER_VECTOR)
                while rt.timer_next <= now:
                    rt.timer_next += rt.timer_period

    def ipi(self, sender: Cpu, value: int) -> None:
        """A write to ``sender``'s interrupt command register."""
        cpus = self.machine.cpus
        vector, mode, dest = decode_icr(value)
        targets: List[Cpu] = [c for c in cpus if c is not sender] if dest == HW.ICR_ALL_BUT_SELF else \
            [cpus[dest]] if dest < len(cpus) else []
        for t in targets:
            if mode == HW.ICR_MODE_NMI:
                t.rt.nmi_pending = True
            elif mode == HW.ICR_MODE_FIXED:
                t.rt.irr.add(vector)
            elif mode == HW.ICR_MODE_INIT:
                t.rt.state = CpuState.PARKED
            elif mode == HW.ICR_MODE_STARTUP and t.rt.state == CpuState.PARKED:
                uc = sender.uc
                gdtr = uc.reg_read(X.UC_X86_REG_GDTR)
                t.start(rip=uc.reg_read(X.UC_X86_REG_RDI), rsp=uc.reg_read(X.UC_X86_REG_RSI),
                        cr3=uc.reg_read(X.UC_X86_REG_CR3), gdt=(gdtr[1], gdtr[2]),
                        efer=uc.msr_read(0xC0000080), cr0=uc.reg_read(X.UC_X86_REG_CR0),
                        cr4=uc.reg_read(X.UC_X86_REG_CR4), rdi=t.index)

    # ------------------------------------------------------------------ NMI blocking
    # No code hook stays installed (with count= every code hook is checked on every
    # instruction: 144 -> 52 M instructions/s with two of them): iretq is watched only
    # while an NMI is being handled.
    def _on_iret(self, uc: Uc, address: int, size: int, i: int) -> None:
        """The first iretq after an NMI: NMIs are accepted again (as the hardware does)."""
        cpu = self.machine.cpus[i]
        cpu.rt.nmi_blocked = False
        self._disarm_nmi_unblock(cpu)

    def _arm_nmi_unblock(self, cpu: Cpu) -> None:
        if cpu.index in self._nmi_hooks:
            return
        hooks = []
        for a in self._iret_sites:
            hooks.append(cpu.uc.hook_add(UC_HOOK_CODE, self._on_iret, cpu.index, a, a))
            cpu.uc.ctl_remove_cache(a, a + 2)   # retranslate so the new hook fires
        self._nmi_hooks[cpu.index] = hooks

    def _disarm_nmi_unblock(self, cpu: Cpu) -> None:
        for h in self._nmi_hooks.pop(cpu.index, []):
            cpu.uc.hook_del(h)
        for a in self._iret_sites:
            cpu.uc.ctl_remove_cache(a, a + 2)
