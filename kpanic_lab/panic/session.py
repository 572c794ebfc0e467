"""A panic, one stage at a time: the lab's panic state machine.

A session boots the guest, sets up a scenario, types its trigger, and then
runs the machine until the guest's next stage event (``panic_stages.h``), a CPU
exception, a CPU stopping, or the end.  Each stop is recorded with every CPU's
state, and a snapshot (a delta against the state just before the trigger) is
kept, so a student can step back and jump to any stage.

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
from kpanic_lab.i18n import N_
from kpanic_lab.machine import LabEvent, Machine, MachineConfig, Snapshot
from kpanic_lab.panic.notifiers import NotifierContext, NotifierError, PythonNotifiers
from kpanic_lab.panic.scenarios import Scenario, get_scenario, panic_settings
from kpanic_lab.panic.stages import STAGE_INFO, stage_name, trigger_names
from kpanic_lab.panic.trace import CpuState, NotifierCall, StageRecord, Trace, notify_name

STOP_KINDS = ("stage", "exception", "cpu_stopped", "task_exit")
VECTOR_NAMES = {0: "divide error", 6: "invalid opcode", 8: "double fault", 13: "general protection fault",
                14: "page fault"}
# LAB_EV_CPU_STOPPED's second argument (hw.h): how the CPU came to stop
STOP_HOW = {0: "stopped by NMI (smp_send_stop's fallback, smp_stop_nmi_callback)",
            1: "spins in panic_smp_self_stop, interrupts off",
            2: "stopped by the crash NMI, registers saved",
            3: "stopped by the REBOOT_VECTOR IPI (sysvec_reboot, hard-IRQ context)"}
PVPANIC_EVENTS = {1: "PVPANIC_PANICKED", 2: "PVPANIC_CRASH_LOADED"}
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
            out = m.run_command(line, max_instructions=self.max_instructions, max_seconds=self.max_seconds)
            if "ERROR" in out or "not found" in out:
                raise ScenarioError(f"setup line {line!r} failed: {out.strip()}")
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
        if key not in STAGE_INFO:
            raise KeyError(f"no stage {key!r}; the stages are: {', '.join(STAGE_INFO)}")
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
                doing = N_("offline")
            elif how == 2 or name == "crash_nmi_callback":
                doing = N_("stopped by the crash NMI (registers saved)")
            elif how == 1 or name == "panic_smp_self_stop":
                doing = N_("spinning in panic_smp_self_stop")
            elif how == 3:
                doing = N_("stopped by IPI")
            elif how == 0:
                doing = N_("stopped by NMI")
            elif v.state == "halted":
                doing = N_("idle (hlt)")
            elif v.state == "stopped":
                doing = N_("halted, interrupts off")
            elif v.state == "sleeping":
                doing = N_("waiting (mdelay)")
            else:
                doing = N_("running in user mode") if v.cpl == 3 else N_("running")
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
        m = self.machine
        notifier = None
        if ev.kind == "stage":
            key = stage_name(ev.args[0])
            a, b = ev.args[1], ev.args[2]
            detail = self._stage_detail(key, a, b)
            if key in ("NOTIFIER_CALL", "NOTIFIER_RET"):
                fn = self._notifier_name(a)
                prio = self._last_priority(a) if key == "NOTIFIER_RET" else _signed(b)
                notifier = NotifierCall(fn, prio, _signed32(b) if key == "NOTIFIER_RET" else None)
            args = [a, b]
        elif ev.kind == "exception":
            key = "EXCEPTION"
            vec, err, cr2 = ev.args
            detail = f"{VECTOR_NAMES.get(vec, f'vector {vec}')} at {m.symbolize(ev.rip)}"
            if vec == 14:
                detail += f", address 0x{cr2:x}, error code 0x{err:x}"
            args = list(ev.args)
        elif ev.kind == "cpu_stopped":
            key = "CPU_STOPPED"
            detail = f"CPU {ev.args[0]} " + STOP_HOW.get(ev.args[1], "stopped")
            args = [ev.args[0], ev.args[1]]
        else:  # task_exit
            key = "TASK_EXIT"
            sig = ev.args[1] & 0x7F
            detail = (f"pid {ev.args[0]} killed by signal {sig}" if sig else
                      f"pid {ev.args[0]} exited, exit code 0x{ev.args[1]:x}")
            args = [ev.args[0], ev.args[1]]
        info = STAGE_INFO.get(key)
        states = self.cpu_states()
        if ev.kind == "exception":
            states = self._at_fault(states, ev)
        return StageRecord(len(self.records), key, info.title if info else key.lower(), detail, ev.cpu,
                           ev.time_ns, ev.rip, m.symbolize(ev.rip), args, states,
                           len(m.serial.output), notifier)

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
                return _signed(r.args[1])
        return 0

    def _stage_detail(self, key: str, a: int, b: int) -> str:
        m = self.machine
        if key == "TRIGGER":
            return f"{trigger_names().get(a, a)}" + (f" (0x{b:x})" if b else "")
        if key == "ENTRY":
            return f"called from {self._return_address(a)}"
        if key == "CPU_CLAIMED":
            return f"panic_cpu = {a} (was {_signed(b)})"
        if key == "SELF_STOP":
            return f"CPU {a} finds CPU {b} already panicking"
        if key == "STACK_DUMPED":
            return "dump_stack()" if a else "skipped: an oops printed the stack"
        if key == "CRASH_KEXEC":
            where = {0: "before the notifiers", 1: "after the notifiers"}.get(b, "from oops_end, before panic()")
            return f"{'capture kernel loaded' if a else 'no capture kernel loaded'} ({where})"
        if key == "CPUS_STOPPED":
            return f"online CPUs now 0x{a:x}"
        if key == "NOTIFIER_CALL":
            return f"{self._notifier_name(a)} (priority {_signed(b)})"
        if key == "NOTIFIER_RET":
            text = f"{self._notifier_name(a)} returned {notify_name(_signed32(b))}"
            did = self._notifier_effect(self._notifier_name(a))
            if did:
                text += f"; {did}"
            slot = self._python_slot(a)
            if slot is not None:
                last = [o for o in self.notifiers.outcomes if o.name == self.notifiers.slots[slot].name]
                if last and last[-1].error:
                    text += f" (Python notifier {last[-1].error})"
            return text
        if key == "NOTIFIERS_DONE":
            return f"{a} notifier(s) called"
        if key == "TIMEOUT":
            t = _signed(a)
            return f"panic_timeout = {t}: " + ("wait forever" if t == 0 else "restart now" if t < 0
                                                  else f"restart in {t} s")
        if key == "KEXEC":
            return f"purgatory at physical 0x{a:x}"
        if key == "OOPS":
            return f"die counter #{a}"
        if key == "OOPS_END":
            first = "crash_kexec() first (kexec_should_crash), then " if b & 2 else ""
            return first + ("oops_end() panics (in interrupt or panic_on_oops)" if b & 1 else
                            "make_task_dead(): kill the task" if a else "carry on")
        if key == "STOP_IPI":
            return f"REBOOT_VECTOR IPI to CPUs {_cpu_list(a)}; up to 1 s for them to stop"
        if key == "STOP_NMI":
            return f"CPUs {_cpu_list(a)} still online after 1 s: 'Shutting down cpus with NMI'"
        if key == "KGDB":
            return "no kernel debugger: nothing to do"
        if key == "SYS_INFO":
            what = "replay the whole log (0x20)" if b else "tasks 0x1, memory 0x2, ftrace 0x10"
            return f"panic_print = 0x{a:x}" + ("" if a else ": nothing to print") + f" ({what})"
        if key == "CONSOLE_UNBLANK":
            return "console_unblank(): a serial console has nothing to redraw"
        if key == "DEBUG_LOCKS_OFF":
            return "debug_locks = 0: locks held by stopped CPUs are not reported"
        if key == "RESTART":
            mode = ("cold", "warm", "hard", "soft", "gpio")[b] if b < 5 else str(b)
            return f"emergency_restart() (panic_timeout = {_signed(a)}, reboot_mode = {mode})"
        if key == "LOOP":
            return "end marker printed; suppress_printk = 1; interrupts on; mdelay + panic_blink forever"
        if key == "KMSG_DUMP":
            return f"{a} dumper(s)"
        return ""

    def _return_address(self, addr: int) -> str:
        """A return address as Linux's %pS prints one in a backtrace: looked up at addr - 1 (a
        noreturn call may be a function's last instruction), offset + 1, module named."""
        name = self.machine.symbolize(addr - 1)
        head, sep, tail = name.partition("+0x")
        if not sep:
            return self.machine.symbolize(addr)
        off, slash, rest = tail.partition("/")
        return f"{head}+0x{int(off, 16) + 1:x}{slash}{rest}"

    def _notifier_effect(self, name: str) -> str:
        """What a silent built-in notifier did, for the stepper (Linux prints nothing for these)."""
        m = self.machine
        if name == "pvpanic_panic_notify":
            ev = next((e for e in reversed(m.events) if e.kind == "pvpanic"), None)
            return (f"wrote {PVPANIC_EVENTS.get(ev.args[0], hex(ev.args[0]))} to the pvpanic port"
                    if ev else "sent nothing")
        if name == "led_trigger_panic_notifier":
            try:
                level = int.from_bytes(m.read_symbol("ledtrig_panic_brightness", 4), "little")
            except (KeyError, LabError):
                return ""
            return f"panic LED brightness {level}"
        return ""

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
        text = {"hang": "the final loop: interrupts on, forever", "restart": "emergency_restart(): reset",
                "task-killed": "the task was killed; the shell prompts again",
                "continued": "the kernel carried on; the shell prompts again",
                "halted": "every CPU halted with interrupts off"}.get(self.end or "", reason)
        return StageRecord(len(self.records), "END", f"end: {self.end}", text, cpu, m.clock_ns, c.rip,
                           m.symbolize(c.rip), [], self.cpu_states(), len(m.serial.output))

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


def _cpu_list(mask: int) -> str:
    """0b101 -> '0,2'"""
    return ",".join(str(i) for i in range(64) if mask >> i & 1) or "none"


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v
