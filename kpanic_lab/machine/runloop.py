"""The run loop: CPUs in turn, a quantum each, on one virtual clock, until a reason to stop.

CPUs run round-robin from one thread, ``quantum`` instructions at a time (Unicorn's
``count=``), which keeps guest atomics atomic and makes every run reproducible.  A round gives
every CPU one quantum, in index order, then the clock advances one quantum (1 ns per
instruction) and the local APIC timers fire; when no CPU could run, the clock jumps to the next
timer or deadline.  Between quanta ``interrupts.py`` delivers what is pending.

A run ends when the guest reaches what the caller waits for (the shell's prompt, a
predicate), or stops by itself (a reset, a power-off, every CPU halted, a panic loop), or a
listener asks (``Machine.request_stop``).  Every run is bounded by an instruction budget and a
wall-clock budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, Optional, Set, Union

from unicorn import UcError

from kpanic_lab.machine.cpu import Cpu, CpuState
from kpanic_lab.machine.errors import BudgetExceeded, GuestError, MachineError
from kpanic_lab.machine.labport import LabEvent

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import Machine

NEVER = 1 << 63                  # an `until` address no CPU can reach (non-canonical)
IDLE_QUANTUM = 1_000             # the budget charged for a quantum that ends with the CPU idle

Until = Union[str, Callable[["Machine"], bool]]


@dataclass
class RunResult:
    """Why a run stopped, and what it cost."""

    reason: str                   # prompt, panic-loop, halted, reset, poweroff, stopped
    clock_ns: int
    instructions: int             # instruction budget consumed by this run (quanta x quantum)
    wall_seconds: float
    events: List[LabEvent] = field(default_factory=list)


class RunLoop:
    """The scheduler of one machine, and what the current run has seen."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self.hlt_sites = set(machine.image.instruction_sites("hlt"))
        self.stop_requested = False     # a listener asked: end the quantum and the run
        self.seen: Set[str] = set()     # the event kinds of this run: _stop_reason asks every turn

    def run(self, until: Until, max_instructions: int, max_seconds: float) -> RunResult:
        """Run the CPUs until ``until`` ("prompt", "halt", or a predicate) or the guest stops."""
        m = self.machine
        if m.boot_info is None:
            raise MachineError("the machine is off: call boot() or power_on() first")
        t0 = time.perf_counter()
        start_events = len(m.events)
        used = 0
        q = m.config.quantum
        self.stop_requested = False
        self.seen = set()
        m.run_state.reset = m.run_state.poweroff = False
        n = len(m.cpus)
        service = m.interrupts.service
        while True:
            # One CPU's turn.  A round gives every CPU one quantum, in index order, then the
            # clock advances; a run that stops mid-round resumes with the next CPU, so
            # stopping (at a panic stage, say) never reorders the CPUs.
            i = m.run_state.rr
            cpu = m.cpus[i]
            if service(cpu):
                # a quantum that ends with the CPU going idle (mdelay's sleep, hlt) ran only
                # the few instructions up to it: the budget counts guest work, not waiting,
                # so panic=7200's reboot wait costs virtual time, not the instruction budget
                used += q if self._run_quantum(cpu, q) else IDLE_QUANTUM
                m.run_state.ran = True
            m.run_state.rr = (i + 1) % n
            if i + 1 == n:
                m.clock_ns += q
                if not m.run_state.ran:
                    self._fast_forward()
                m.run_state.ran = False
                m.interrupts.fire_timers()
            reason = self._stop_reason(until)
            if reason:
                break
            if used > max_instructions:
                raise BudgetExceeded("instruction", f"{max_instructions:,}", self._where())
            if time.perf_counter() - t0 > max_seconds:
                raise BudgetExceeded("wall-clock", f"{max_seconds:g} s", self._where())
        m.total_instructions += used
        return RunResult(reason, m.clock_ns, used, time.perf_counter() - t0, m.events[start_events:])

    def _stop_reason(self, until: Until) -> Optional[str]:
        m = self.machine
        if self.stop_requested:
            return "stopped"
        if m.run_state.reset:
            return "reset"
        if m.run_state.poweroff:
            return "poweroff"
        live = [c for c in m.cpus if c.rt.state != CpuState.PARKED]
        seen = self.seen
        if "panic_loop" in seen:
            others = [c for c in live if c.rt.state not in (CpuState.STOPPED, CpuState.SLEEPING)]
            if not others or all(self._looping(c) for c in live):
                return "panic-loop"
        if all(c.rt.state == CpuState.STOPPED for c in live) and not any(c.rt.nmi_pending for c in live):
            return "halted"
        if until == "prompt":
            if not m.serial.input and "tty_wait" in seen:
                if not any(c.rt.irr or c.rt.nmi_pending for c in live):
                    return "prompt"
        elif callable(until) and until(m):
            return "until"
        return None

    def _looping(self, cpu: Cpu) -> bool:
        return any(e.kind == "panic_loop" and e.cpu == cpu.index for e in self.machine.events) or \
            cpu.rt.state in (CpuState.STOPPED, CpuState.PARKED)

    def _run_quantum(self, cpu: Cpu, q: int) -> bool:
        """Run ``cpu`` for up to ``q`` instructions; False when it went idle (sleep, hlt)."""
        cpu.pending = None
        rip = cpu.rip
        try:
            cpu.uc.emu_start(rip, NEVER, 0, q)
        except UcError as e:
            where = self.machine.symbolize(cpu.rip)
            raise GuestError(cpu.index, cpu.rip, where, str(e),
                             "an access outside guest RAM or an instruction Unicorn cannot run") from None
        p = cpu.pending
        if p is None:
            rip = cpu.rip
            if rip - 1 in self.hlt_sites:
                # Unicorn ends emu_start right after `hlt`.  RIP just past one of the
                # kernel's hlt instructions means the CPU halted: those instructions are
                # only ever followed by code reached through them.
                cpu.rt.state = CpuState.HALTED if cpu.interrupts_enabled else CpuState.STOPPED
                return False
            return True
        cpu.pending = None
        if p.kind == "exception":
            self.machine.interrupts.exception(cpu, p.vector)
        elif p.kind == "syscall":
            cpu.enter_syscall(cpu.rip)
        elif p.kind == "sleep":
            if self.machine.clock_ns + q < cpu.rt.sleep_until:
                cpu.rt.state = CpuState.SLEEPING
                return False
        return True

    def _fast_forward(self) -> None:
        """No CPU could run: jump the clock to the next thing that can wake one."""
        m = self.machine
        wake = []
        for cpu in m.cpus:
            rt = cpu.rt
            if rt.state == CpuState.PARKED:
                continue
            if rt.state == CpuState.SLEEPING:
                wake.append(rt.sleep_until)
            if rt.timer_period and rt.state in (CpuState.HALTED, CpuState.SLEEPING):
                if rt.state == CpuState.HALTED or cpu.interrupts_enabled:
                    wake.append(rt.timer_next)
        if wake:
            q = m.config.quantum
            target = min(wake)
            if target > m.clock_ns:
                m.clock_ns += ((target - m.clock_ns + q - 1) // q) * q

    def _where(self) -> List[str]:
        """Where each CPU is, for a budget error."""
        m = self.machine
        out = []
        for c in m.cpus:
            if c.rt.state == CpuState.PARKED:
                out.append(f"CPU {c.index} parked")
            else:
                out.append(f"CPU {c.index} {c.rt.state.value} at {m.symbolize(c.rip)} "
                           f"(IF={int(c.interrupts_enabled)})")
        return out
