"""A panic, one stage at a time: the lab's panic state machine.

A session boots the guest, sets up a scenario, types its trigger, and then
runs the machine until the guest's next stage event (``panic_stages.h``), a CPU
exception, a CPU stopping, or the end.  Each stop is recorded with every CPU's
state, as data (``trace.py``: the words are ``describe.py``'s), and a snapshot (a
delta against the state just before the trigger) is kept, so a student can step
back and jump to any stage.  A scenario's setup lines are checked by the exit
status the guest reports for each (``machine/command.py``).

Every run of a session stops at every stage, so the CPUs interleave the same
way however the student moves: stepping back and forward again gives the same
registers and the same memory.

>>> s = PanicSession("sysrq-c").start()          # doctest: +SKIP
>>> s.step().key, s.step().key                   # doctest: +SKIP
('TRIGGER', 'ENTRY')
>>> s.run_to_end().end                           # doctest: +SKIP
'hang'
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple, Union

from kpanic_lab.errors import LabError
from kpanic_lab.guest import DEFAULT_CMDLINE
from kpanic_lab.guest.headers import ERROR_CODE_VECTORS, NR_CPUS, header
from kpanic_lab.machine import LabEvent, Machine, MachineConfig, Snapshot
from kpanic_lab.machine.command import run_line
from kpanic_lab.panic.notifiers import NotifierContext, NotifierError, PythonNotifiers
from kpanic_lab.panic.scenarios import Scenario, get_scenario, panic_settings
from kpanic_lab.panic.stages import (STOPPED_BY_CRASH_NMI, STOPPED_BY_IPI, STOPPED_BY_NMI, STOPPED_SELF, signed,
                                     stage_keys, stage_name)
from kpanic_lab.panic.trace import CpuState, NotifierCall, StageRecord, Trace

STOP_KINDS = ("stage", "exception", "cpu_stopped", "task_exit")
END_NAMES = {"panic-loop": "hang", "reset": "restart", "halted": "halted", "poweroff": "poweroff"}


class ScenarioError(LabError):
    """A scenario could not be set up (the guest did not boot, a setup line failed)."""


class PanicSession:
    """Drive one scenario forward and backward, stage by stage."""

    def __init__(self, scenario: Union[str, Scenario], *, cpus: int = 2, memory: Union[str, int] = "256M",
                 cmdline: Optional[str] = None, vmlinux=None, max_seconds: float = 60.0,
                 max_instructions: int = 2_000_000_000) -> None:
        self.scenario = get_scenario(scenario)
        if cpus < self.scenario.min_cpus:
            raise ScenarioError(f"scenario {self.scenario.name} needs at least {self.scenario.min_cpus} CPUs")
        # a command line given replaces the default one (as kpanic-lab boot --cmdline, and a boot
        # loader's); the scenario's own options go before it, so the caller's words win
        base = DEFAULT_CMDLINE if cmdline is None else ""
        self._cmdline = " ".join(x for x in (base, self.scenario.cmdline, cmdline or "") if x)
        self.config = MachineConfig.create(cpus=cpus, memory=memory, cmdline=self._cmdline, vmlinux=vmlinux)
        self.machine = Machine(self.config)
        self.notifiers = PythonNotifiers()
        # contradictory panic settings are legal (the last wins, as Linux reads left to right): say so
        self.warnings: List[str] = panic_settings(self._cmdline)[1]
        self.max_seconds = max_seconds
        self.max_instructions = max_instructions
        self.settle_ns = 500_000_000      # 0.5 s of virtual time at the prompt with nothing happening = the end
        self.records: List[StageRecord] = []
        self._snaps: List[Optional[Snapshot]] = []
        self._console = b""             # the console as far as any run got (stages index into it)
        self.position = -1              # -1: at the prompt, before the trigger
        self.end: Optional[str] = None  # set when the last stage is reached
        self._base: Optional[Snapshot] = None
        self._pcpu: Optional[Tuple[int, int, int]] = None     # pcpu_data, its stride, preempt_count
        self._stepping = False
        self.machine.event_listeners.append(self._on_event)

    # ------------------------------------------------------------------ setup
    def add_notifier(self, fn: Callable[[NotifierContext], int], priority: int = 0,
                     name: Optional[str] = None) -> int:
        """Register a Python function on panic_notifier_list (before ``start``).

        The guest registers it at boot with ``priority``, among its own notifiers; when
        panic() walks the chain it calls ``fn(ctx)`` and uses the int it returns.
        """
        if self._base is not None:
            raise NotifierError("add notifiers before start(): the guest registers them at boot")
        return self.notifiers.add(fn, priority, name)

    def start(self, snapshot: Optional[Snapshot] = None) -> "PanicSession":
        """Boot, type the scenario's setup lines, and stop just before the trigger.

        With ``snapshot`` (a full snapshot of a machine with this session's configuration, taken
        at the prompt after the setup lines), start from it instead of booting: the machine is
        deterministic, so this is the state a boot would reach, and the run after it the same."""
        if snapshot is not None:
            if self.notifiers.slots or snapshot.base is not None or snapshot.boot_info is None:
                raise ScenarioError("start(snapshot): a full snapshot of a booted machine, and no Python notifiers")
            self.machine.restore(snapshot)
            self._base = snapshot
            self._set_pcpu()
            return self
        if self.notifiers.slots:
            line = f"{self._cmdline} {self.notifiers.cmdline()}"
            self.config = self.config.with_cmdline(line)
            self.machine = Machine(self.config)
            self.machine.event_listeners.append(self._on_event)
            self.machine.pycall_handler = self.notifiers
        m = self.machine
        r = m.boot(max_instructions=self.max_instructions, max_seconds=self.max_seconds)
        if r.reason != "prompt":
            raise ScenarioError(f"the guest did not reach the shell ({r.reason}); last console lines:\n"
                                + "\n".join(m.console_lines[-10:]))
        for line in self.scenario.setup:
            # the guest's own word on the line: the exit status of the process the shell ran it in.
            # Killed by a signal is not a failure: an oops in a setup line is what oops-limit sets up.
            done = run_line(m, line, max_instructions=self.max_instructions, max_seconds=self.max_seconds)
            if done.status is None or (done.exit_code or 0) != 0:
                how = (f"exit status {done.exit_code}" if done.status is not None else
                       f"it did not finish: {done.reason}")
                raise ScenarioError(f"setup line {line!r} failed ({how}): {done.output.strip()}")
        self._base = m.snapshot()
        self._set_pcpu()
        return self

    def _set_pcpu(self) -> None:
        m = self.machine
        try:
            # offsets the guest's own sched.h fixes (entry.S relies on them; sched.c asserts them),
            # so no DWARF parse is needed on the way to the first stage
            pcpu = m.image.symbol("pcpu_data")
            self._pcpu = (pcpu.address, pcpu.size // NR_CPUS, header("sched.h")["PCPU_PREEMPT_COUNT"])
        except (KeyError, ZeroDivisionError):
            self._pcpu = None

    @property
    def started(self) -> bool:
        return self._base is not None

    @property
    def finished(self) -> bool:
        return self.end is not None and self.position == len(self.records) - 1

    @property
    def current(self) -> Optional[StageRecord]:
        return self.records[self.position] if self.position >= 0 else None

    # ------------------------------------------------------------------ moving
    def _on_event(self, machine: Machine, ev: LabEvent) -> None:
        if self._stepping and _is_stop(ev):
            machine.request_stop()

    def step(self) -> Optional[StageRecord]:
        """Forward one stage; None when the run has ended."""
        self._require_started()
        if self.position + 1 < len(self.records):
            return self.goto(self.position + 1)
        return self._advance(snapshot=True)

    def step_to(self, key: str) -> Optional[StageRecord]:
        """Forward to the next stage named ``key`` (``"CRASH_KEXEC"``), through the ones before it;
        None when the run ends first."""
        if key not in stage_keys():
            raise KeyError(f"no stage {key!r}; the stages are: {', '.join(stage_keys())}")
        while True:
            rec = self.step()
            if rec is None or rec.key == key:
                return rec

    def _run_to_next_stop(self):
        m = self.machine
        self._stepping = True
        try:
            r = m.run("prompt", max_instructions=self.max_instructions, max_seconds=self.max_seconds)
            if r.reason == "prompt":
                # The shell is back.  Something may still come (a timer that oopses, a watchdog):
                # watch the idle machine a while before calling it the end.
                settle = m.clock_ns + self.settle_ns
                r = m.run(lambda mm: mm.clock_ns >= settle, max_instructions=self.max_instructions,
                          max_seconds=self.max_seconds)
                if r.reason == "until":
                    r.reason = "prompt"
        finally:
            self._stepping = False
        return r

    def _advance(self, snapshot: bool) -> Optional[StageRecord]:
        """Run from the last recorded stage to a new one and record it."""
        if self.end is not None:
            return None
        m = self.machine
        if self.position == -1:
            # what the student typed since start() belongs to the state before the trigger
            self._base = m.snapshot()
            m.send(self.scenario.trigger + "\n")
        before = len(m.events)
        r = self._run_to_next_stop()
        if r.reason == "stopped":
            ev = next(e for e in reversed(m.events[before:]) if _is_stop(e))
            rec = self._record(ev)
            if rec.key == "KEXEC":
                self.end = "kexec"      # the crashed kernel is gone: the capture kernel's turn (kdump layer)
        else:
            self.end = END_NAMES.get(r.reason) or self._end_at_prompt()
            rec = self._record_end(r.reason)
        self.records.append(rec)
        self._snaps.append(m.snapshot(base=self._base) if snapshot else None)
        if len(m.serial.output) > len(self._console):
            self._console = bytes(m.serial.output)
        self.position = len(self.records) - 1
        return rec

    def back(self) -> Optional[StageRecord]:
        """Back one stage (to the prompt before the trigger from the first stage)."""
        self._require_started()
        return self.goto(self.position - 1)

    def goto(self, index: int) -> Optional[StageRecord]:
        """Jump to a recorded stage (-1: before the trigger); further ones are run to.

        A stage without a snapshot of its own (run_to_end keeps none) is reached by
        restoring the nearest earlier snapshot and running forward again, stopping at
        the same stages: execution is deterministic, so it is the same state.
        """
        self._require_started()
        if index < -1:
            raise IndexError(f"no stage {index}")
        while index >= len(self.records) and self.end is None:
            if self.position != len(self.records) - 1:
                self.goto(len(self.records) - 1)
            self._advance(snapshot=index == len(self.records))
        if index >= len(self.records):
            raise IndexError(f"the run ended at stage {len(self.records) - 1}; there is no stage {index}")
        if index == self.position:
            return self.current
        if index == -1:
            self.machine.restore(self._base)  # type: ignore[arg-type]
            self.position = -1
            return None
        j = index
        while j >= 0 and self._snaps[j] is None:
            j -= 1
        if not (self.position < index and self.position >= j):   # else: run on from where we are
            self.machine.restore(self._base if j < 0 else self._snaps[j])  # type: ignore[arg-type]
            self.position = j
        while self.position < index:
            if self.position == -1:
                self.machine.send(self.scenario.trigger + "\n")
            self._run_to_next_stop()
            self.position += 1
        if self._snaps[index] is None:
            self._snaps[index] = self.machine.snapshot(base=self._base)
        return self.current

    def run_to_end(self) -> Trace:
        """Run on until the end, recording every stage (snapshots are taken later, if a
        student steps back); the whole trace."""
        self._require_started()
        if self.position != len(self.records) - 1:
            self.goto(len(self.records) - 1)
        while self._advance(snapshot=False) is not None:
            pass
        return self.trace()

    def _require_started(self) -> None:
        if self._base is None:
            self.start()

    # ------------------------------------------------------------------ recording
    def _end_at_prompt(self) -> str:
        kinds = [r.key for r in self.records]
        if "TASK_EXIT" in kinds:
            return "task-killed"
        return "continued"

    def _preempt_count(self, cpu: int) -> Optional[int]:
        if self._pcpu is None:
            return None
        base, stride, off = self._pcpu
        addr = base + cpu * stride + off
        return int.from_bytes(self.machine.read(addr, 4), "little", signed=True)

    def cpu_states(self) -> List[CpuState]:
        """Every CPU now: what it is doing, RIP, IF, preempt count (also before the trigger)."""
        m = self.machine
        stopped = {}
        for e in m.events:
            if e.kind == "cpu_stopped":
                stopped[e.args[0]] = e.args[1]
        out = []
        for v in m.cpu_views():
            name = v.symbol.split("+")[0]
            how = stopped.get(v.index)
            if v.state == "parked":
                doing = "offline"
            elif how == STOPPED_BY_CRASH_NMI or name == "crash_nmi_callback":
                doing = "crash-nmi"
            elif how == STOPPED_SELF or name == "panic_smp_self_stop":
                doing = "self-stop"
            elif how == STOPPED_BY_IPI:
                doing = "stopped-ipi"
            elif how == STOPPED_BY_NMI:
                doing = "stopped-nmi"
            elif v.state == "halted":
                doing = "idle"
            elif v.state == "stopped":
                doing = "halted"
            elif v.state == "sleeping":
                doing = "mdelay"
            else:
                doing = "user" if v.cpl == 3 else "running"
            out.append(CpuState(v.index, doing, v.rip, v.symbol, v.interrupts_enabled,
                                self._preempt_count(v.index)))
        return out

    def _at_fault(self, states: List[CpuState], ev: LabEvent) -> List[CpuState]:
        """The CPUs as they were when ``ev``'s exception happened: the faulting CPU at the faulting
        instruction, with the IF flag of the code that faulted (read from the exception frame the
        delivery just pushed), not at the handler's first instruction with IF cleared by the gate."""
        m = self.machine
        cpu = m.cpus[ev.cpu]
        frame = cpu.reg("rsp") + (8 if ev.args[0] in ERROR_CODE_VECTORS else 0)
        try:
            rflags = int.from_bytes(m.read(frame + 16, 8, cpu=ev.cpu), "little")
        except LabError:
            return states
        out = list(states)
        c = out[ev.cpu]
        out[ev.cpu] = CpuState(c.cpu, "running", ev.rip, m.symbolize(ev.rip), bool(rflags & 0x200),
                               c.preempt_count)
        return out

    def _record(self, ev: LabEvent) -> StageRecord:
        """The record of a stop: the guest's numbers, and what only the machine can resolve (names)."""
        m = self.machine
        notifier, caller = None, None
        if ev.kind == "stage":
            key = stage_name(ev.args[0])
            a, b = ev.args[1], ev.args[2]
            if key == "NOTIFIER_CALL":
                notifier = NotifierCall(self._notifier_name(a), signed(b))
            elif key == "NOTIFIER_RET":
                notifier = self._notifier_returned(a, signed(b, 32))
            elif key == "ENTRY":
                caller = self._return_address(a)
            args = [a, b]
        else:
            key = {"exception": "EXCEPTION", "cpu_stopped": "CPU_STOPPED"}.get(ev.kind, "TASK_EXIT")
            args = list(ev.args) if ev.kind == "exception" else [ev.args[0], ev.args[1]]
        states = self.cpu_states()
        if ev.kind == "exception":
            states = self._at_fault(states, ev)
        return StageRecord(len(self.records), key, ev.cpu, ev.time_ns, ev.rip, m.symbolize(ev.rip), args, states,
                           len(m.serial.output), notifier, caller)

    def _python_slot(self, fn: int) -> Optional[int]:
        name = self.machine.symbolize(fn).split("+")[0]
        if name.startswith("lab_python_notifier_"):
            slot = int(name.rsplit("_", 1)[1])
            return slot if slot < len(self.notifiers.slots) else None
        return None

    def _notifier_name(self, fn: int) -> str:
        slot = self._python_slot(fn)
        if slot is not None:
            return f"python:{self.notifiers.slots[slot].name}"
        return self.machine.symbolize(fn).split("+")[0]

    def _last_priority(self, fn: int) -> int:
        for r in reversed(self.records):
            if r.key == "NOTIFIER_CALL" and r.args[0] == fn:
                return signed(r.args[1])
        return 0

    def _return_address(self, addr: int) -> str:
        """A return address as Linux's %pS prints one in a backtrace: looked up at addr - 1 (a
        noreturn call may be a function's last instruction), offset + 1, module named."""
        name = self.machine.symbolize(addr - 1)
        head, sep, tail = name.partition("+0x")
        if not sep:
            return self.machine.symbolize(addr)
        off, slash, rest = tail.partition("/")
        return f"{head}+0x{int(off, 16) + 1:x}{slash}{rest}"

    def _notifier_returned(self, fn: int, ret: int) -> NotifierCall:
        """A notifier's return, with what a silent built-in one did (Linux prints nothing for these)
        and why a Python one's answer was replaced."""
        m = self.machine
        name = self._notifier_name(fn)
        event = brightness = error = None
        if name == "pvpanic_panic_notify":
            ev = next((e for e in reversed(m.events) if e.kind == "pvpanic"), None)
            event = ev.args[0] if ev is not None else None
        elif name == "led_trigger_panic_notifier":
            try:
                brightness = int.from_bytes(m.read_symbol("ledtrig_panic_brightness", 4), "little")
            except (KeyError, LabError):
                pass
        slot = self._python_slot(fn)
        if slot is not None:
            last = [o for o in self.notifiers.outcomes if o.name == self.notifiers.slots[slot].name]
            error = last[-1].error if last else None
        return NotifierCall(name, self._last_priority(fn), ret, event, brightness, error)

    def _end_cpu(self) -> int:
        """The CPU that ended the run: the one in panic()'s final loop, else the last stage's."""
        m = self.machine
        loop = next((e for e in reversed(m.events) if e.kind == "panic_loop"), None)
        if loop is not None:
            return loop.cpu
        return self.records[-1].cpu if self.records else 0

    def _record_end(self, reason: str) -> StageRecord:
        m = self.machine
        cpu = self._end_cpu()
        c = m.cpus[cpu]
        return StageRecord(len(self.records), "END", cpu, m.clock_ns, c.rip, m.symbolize(c.rip), [],
                           self.cpu_states(), len(m.serial.output), end=self.end or reason)

    # ------------------------------------------------------------------ results
    def trace(self) -> Trace:
        """The stages recorded so far (the whole run after run_to_end)."""
        cfg = {"cpus": self.config.cpus, "memory": self.config.memory, "cmdline": self.config.cmdline,
               "trigger": self.scenario.trigger, "setup": list(self.scenario.setup)}
        last = self.records[-1].console_offset if self.records else 0
        return Trace(self.scenario.name, cfg, list(self.records), self.end, self._text(last))

    def _text(self, upto: int) -> str:
        return self._console[:upto].decode("utf-8", "replace").replace("\r", "")

    def console_at(self, index: Optional[int] = None) -> str:
        """The console as it was at a stage (the current one by default)."""
        i = self.position if index is None else index
        if i < 0:
            return self._base.serial[0].decode("utf-8", "replace").replace("\r", "") if self._base else ""
        return self._text(self.records[i].console_offset)


def _is_stop(ev: LabEvent) -> bool:
    """Events that are stages: guest stage reports, CPU exceptions, CPUs stopping, and a task
    dying of a signal (or pid 1 exiting) -- not every child the shell reaps."""
    if ev.kind == "task_exit":
        pid, code = ev.args[0], ev.args[1]
        return pid == 1 or (code & 0x7F) != 0
    return ev.kind in STOP_KINDS
