"""Exercises 1-3: predict a panic's outcome, find who stopped the other CPU, write a notifier.

Every truth here is observed: the check runs the lab with the student's settings and
compares what happened with what the student said, so it follows the guest kernel as
it is, not a table typed twice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from kpanic_lab.exercises.feedback import ExerciseFailed, Feedback, require
from kpanic_lab.i18n import _
from kpanic_lab.panic import PanicSession, Trace
from kpanic_lab.panic.describe import stage_detail
from kpanic_lab.panic.stages import STOPPED_BY_IPI, signed
from kpanic_lab.panic.notifiers import NOTIFY_DONE, NotifierContext

# ------------------------------------------------------------------ exercise 1
OUTCOMES = ("hang", "reboot after N s", "capture kernel", "oops and go on")


@dataclass(frozen=True)
class Setting:
    """One row of exercise 1's table: a trigger and the settings it runs under."""

    scenario: str
    cmdline: str
    capture_kernel: bool        # kexec -p done before the trigger

    def describe(self) -> str:
        k = _("capture kernel loaded") if self.capture_kernel else _("no capture kernel")
        return f"{self.scenario}: {self.cmdline or '(defaults)'}, {k}"


#: exercise 1's table, in the lecture's order
SETTINGS: Dict[str, Setting] = {
    "A": Setting("sysrq-c", "panic=0", False),
    "B": Setting("sysrq-c", "panic=5", False),
    "C": Setting("oops", "", False),
    "D": Setting("oops", "oops=panic crashkernel=64M", True),
    "E": Setting("oops-in-irq", "panic=10", False),
}


@dataclass(frozen=True)
class Observed:
    outcome: str                # one of OUTCOMES, with N filled in
    if0_cpus: Tuple[int, ...]   # the CPUs whose RFLAGS.IF is 0 at the last stage
    trace: Trace


def run_setting(s: Setting, cpus: int = 2) -> Observed:
    """Run one row and say what happened, in exercise 1's words."""
    if s.capture_kernel:
        from kpanic_lab.kdump import service

        session = PanicSession(s.scenario, cpus=cpus, cmdline=s.cmdline).start()
        service.install(session.machine)
        session.machine.run_command("kexec -p")
    else:
        session = PanicSession(s.scenario, cpus=cpus, cmdline=s.cmdline)
    trace = session.run_to_end()
    end = trace.end
    if end == "kexec":
        outcome = "capture kernel"
    elif end == "restart":
        timeout = next((signed(r.args[0]) for r in trace.stages if r.key == "TIMEOUT"), 0)
        outcome = f"reboot after {max(timeout, 0)} s"
    elif end in ("task-killed", "continued"):
        outcome = "oops and go on"
    else:
        outcome = "hang"
    stages = [r for r in trace.stages if r.key != "END"] or trace.stages
    last = stages[-1]
    return Observed(outcome, tuple(c.cpu for c in last.cpus if not c.interrupts_enabled), trace)


def _norm_outcome(text: str) -> str:
    t = " ".join(str(text).lower().replace("seconds", "s").replace("sec", "s").split())
    m = re.match(r"reboot(?:s)?(?: after)? (\d+) ?s$", t)
    if m:
        return f"reboot after {int(m.group(1))} s"
    return t


def check_predictions(predictions: Dict[str, Tuple[str, Sequence[int]]], cpus: int = 2) -> Feedback:
    """Exercise 1: ``{"A": ("hang", [0]), ...}``: the outcome and the CPUs whose IF is 0 at the end."""
    ex = _("Exercise 1 (predict, then run)")
    require(ex, predictions=predictions)
    if not isinstance(predictions, dict) or set(predictions) != set(SETTINGS):
        raise ExerciseFailed(ex, [_("predictions must be a dict with one entry for each row: {rows}").format(
            rows=", ".join(SETTINGS))])
    problems, lines = [], []
    for row, s in SETTINGS.items():
        pred = predictions[row]
        require(ex, **{f"row {row}": pred})
        if not (isinstance(pred, (tuple, list)) and len(pred) == 2):
            raise ExerciseFailed(ex, [_("row {row}: give (outcome, [CPUs with IF=0]), e.g. (\"hang\", [0])").format(
                row=row)])
        outcome, if0 = pred
        if _norm_outcome(outcome).split(" after")[0] not in [o.split(" after")[0] for o in OUTCOMES]:
            raise ExerciseFailed(ex, [_("row {row}: {outcome!r} is not one of: {choices}").format(
                row=row, outcome=outcome, choices="; ".join(OUTCOMES))])
        seen = run_setting(s, cpus)
        want = (seen.outcome, sorted(seen.if0_cpus))
        got = (_norm_outcome(outcome), sorted(int(c) for c in if0))
        if got == want:
            lines.append(_("row {row} ({what}): {outcome}, IF=0 on {cpus}, as you said").format(
                row=row, what=s.describe(), outcome=seen.outcome, cpus=list(want[1]) or _("no CPU")))
            continue
        why = []
        if got[0] != want[0]:
            why.append(_("you said {said!r}, the lab did {did!r}").format(said=outcome, did=seen.outcome))
        if got[1] != want[1]:
            why.append(_("IF=0 at the end on CPUs {did}, not {said}").format(did=want[1], said=got[1]))
        problems.append(_("row {row} ({what}): ").format(row=row, what=s.describe()) + "; ".join(why)
                        + _(" (last stage: {stage})").format(stage=stage_detail(seen.trace.stages[-1])
                                                               if seen.trace.stages else seen.trace.end))
    if problems:
        raise ExerciseFailed(ex, problems, [
            _("panic=N > 0 reboots after N seconds, 0 waits forever; an oops only panics with oops=panic, "
              "in an interrupt, or in init"),
            _("with a capture kernel loaded, panic() jumps to it in __crash_kexec(), before the notifiers"),
            _("panic() ends with interrupts back on in its final loop; a CPU stopped by the other has them off")])
    return Feedback(ex, lines)


# ------------------------------------------------------------------ exercise 2
VECTORS = {"NMI": 2, "REBOOT_VECTOR": 0xF8}


@dataclass(frozen=True)
class StopFacts:
    stage: str              # the panicking CPU's last stage before CPU 0 stopped
    vector: str             # NMI or REBOOT_VECTOR
    preempt_count: Optional[int]


def observe_stop(scenario: str = "panic-cpu1", cpus: int = 2) -> StopFacts:
    """Run ``scenario`` and find how CPU 0 was stopped."""
    trace = PanicSession(scenario, cpus=cpus).run_to_end()
    for i, r in enumerate(trace.stages):
        if r.key == "CPU_STOPPED" and r.args and r.args[0] == 0:
            before = next((p.key for p in reversed(trace.stages[:i]) if p.key not in ("CPU_STOPPED",)), "TRIGGER")
            vector = "REBOOT_VECTOR" if r.args[1] == STOPPED_BY_IPI else "NMI"
            return StopFacts(before, vector, r.cpus[0].preempt_count)
    raise ExerciseFailed(_("Exercise 2"), [_("CPU 0 was never stopped in {scenario}").format(scenario=scenario)])


def _vector_name(v: Union[str, int]) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return next((k for k, n in VECTORS.items() if n == v), str(v))
    t = str(v).strip().upper().replace(" ", "_")
    if t.startswith("0X"):
        return _vector_name(int(t, 16))
    return "REBOOT_VECTOR" if "REBOOT" in t else "NMI" if "NMI" in t else t


def check_cpu_stop(stage: str, vector: Union[str, int], preempt_count: int,
                   scenario: str = "panic-cpu1") -> Feedback:
    """Exercise 2: at which stage CPU 0 stopped, through which vector, with what preempt count."""
    ex = _("Exercise 2 (who stopped the other CPU)")
    require(ex, stage=stage, vector=vector, preempt_count=preempt_count)
    seen = observe_stop(scenario)
    problems, hints = [], []
    if str(stage).strip().upper() != seen.stage:
        problems.append(_("stage {stage!r} is not the one CPU 1 had reached when CPU 0 stopped").format(stage=stage))
        hints.append(_("step until the record says 'CPU 0 stopped ...' (CPU_STOPPED) and read the stage before it"))
    if _vector_name(vector) != seen.vector:
        problems.append(_("CPU 0 was not stopped through {vector!r}").format(vector=vector))
        hints.append(_("the CPU_STOPPED record's detail names the vector; CPU 0's IF flag just before tells "
                       "you whether an ordinary IPI could get in"))
    if seen.preempt_count is not None and int(preempt_count) != seen.preempt_count:
        problems.append(_("preempt count {n} is not CPU 0's at that stage").format(n=preempt_count))
        hints.append(_("read rec.cpus[0].preempt_count at the CPU_STOPPED record: hard-IRQ and NMI context "
                       "add HARDIRQ_OFFSET (0x10000) or NMI_OFFSET (0x100000)"))
    if problems:
        raise ExerciseFailed(ex, problems, hints)
    return Feedback(ex, [_("CPU 0 stopped after {stage}, through {vector}, preempt count {n:#x}").format(
        stage=seen.stage, vector=seen.vector, n=seen.preempt_count or 0)])


# ------------------------------------------------------------------ exercise 3
PANIC_LINE = "Kernel panic - not syncing"


class Pstore:
    """The pstore-like area exercise 3's notifier saves into: a fixed number of bytes, like a
    ramoops record (host-side in the lab; what matters is what the notifier writes, and when)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.data = b""
        self.writes = 0

    def write(self, data: Union[bytes, str]) -> int:
        b = data.encode() if isinstance(data, str) else bytes(data)
        self.data = b[-self.size:]
        self.writes += 1
        return len(self.data)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class NotifierRun:
    post_notifiers: bool
    ran: bool
    before_capture: bool        # the notifier ran before the jump to the capture kernel
    saved: str
    others: List[str]           # what happened to the broken notifiers around it


def _raising(ctx: NotifierContext) -> int:
    raise RuntimeError("a notifier with a bug")


def _looping(ctx: NotifierContext) -> int:
    import time
    while True:
        time.sleep(0.05)


def run_notifier(make: Callable[[Pstore], Callable[[NotifierContext], int]], post_notifiers: bool,
                 scenario: str = "sysrq-c") -> NotifierRun:
    """Register the student's notifier (after one that raises and one that never returns, both
    at a higher priority), load a capture kernel, crash, and see what ran when."""
    from kpanic_lab.kdump import service

    store = Pstore()
    line = "crashkernel=64M" + (" crash_kexec_post_notifiers" if post_notifiers else "")
    s = PanicSession(scenario, cmdline=line)
    s.notifiers.timeout = 0.3
    s.add_notifier(_raising, priority=200, name="raising_notifier")
    s.add_notifier(_looping, priority=100, name="looping_notifier")
    s.add_notifier(make(store), priority=0, name="student_notifier")
    s.start()
    service.install(s.machine)
    s.machine.run_command("kexec -p")
    trace = s.run_to_end()
    ran = any(o.name == "student_notifier" and o.error is None for o in s.notifiers.outcomes)
    before = ran and trace.end == "kexec"       # after the jump nothing of the old kernel runs
    others = [f"{o.name}: {o.error}" for o in s.notifiers.outcomes if o.name != "student_notifier" and o.error]
    return NotifierRun(post_notifiers, ran, before, store.text(), others)


def check_notifier(make: Callable[[Pstore], Callable[[NotifierContext], int]],
                   runs_without_post_notifiers: bool, runs_with_post_notifiers: bool) -> Feedback:
    """Exercise 3: ``make(pstore)`` returns a notifier that saves the last log lines into
    ``pstore``; and the two predictions: does it run, with and without
    ``crash_kexec_post_notifiers``, when a capture kernel is loaded?"""
    ex = _("Exercise 3 (a panic notifier in Python)")
    require(ex, make=make, runs_without_post_notifiers=runs_without_post_notifiers,
            runs_with_post_notifiers=runs_with_post_notifiers)
    if not callable(make):
        raise ExerciseFailed(ex, [_("make must be a function that takes the Pstore and returns your notifier")])
    problems, hints, lines = [], [], []
    for post, said in ((False, runs_without_post_notifiers), (True, runs_with_post_notifiers)):
        r = run_notifier(make, post)
        label = "crash_kexec_post_notifiers" if post else _("default (no crash_kexec_post_notifiers)")
        if bool(said) != r.ran:
            problems.append(_("{label}: you said it {said}, it {did}").format(
                label=label, said=_("runs") if said else _("does not run"), did=_("ran") if r.ran else _("did not run")))
            hints.append(_("panic() calls __crash_kexec() before the notifier chain unless "
                           "crash_kexec_post_notifiers is set; after the jump nothing of the old kernel runs"))
        if r.ran:
            if PANIC_LINE not in r.saved:
                problems.append(_("{label}: your notifier ran but saved {n} bytes without the line "
                                  "'{line}'").format(label=label, n=len(r.saved), line=PANIC_LINE))
                hints.append(_("ctx.machine.console_lines holds the log so far; write its last lines with "
                               "pstore.write(...) and return NOTIFY_DONE"))
            else:
                lines.append(_("{label}: it ran before the capture kernel and saved {n} bytes ending with the "
                               "panic line").format(label=label, n=len(r.saved)))
                lines.append(_("the notifiers before it raised or never returned, and the chain went on: ")
                             + "; ".join(r.others))
        else:
            lines.append(_("{label}: kdump went first, the chain never ran").format(label=label))
    if problems:
        raise ExerciseFailed(ex, problems, hints)
    return Feedback(ex, lines)


__all__ = ["SETTINGS", "OUTCOMES", "Setting", "run_setting", "check_predictions", "observe_stop",
           "check_cpu_stop", "Pstore", "run_notifier", "check_notifier", "NOTIFY_DONE"]
