"""Plain-text views of a panic run, so a notebook cell can stay one line.

Every function here returns a string (or a small dict) and never prints.  Most
take the library's own objects (``StageRecord``, ``Trace``); the few that need a
machine or a session are one-line wrappers over a pure half that takes text or
numbers, so the pure half is tested on literals.

>>> describe_preempt_count(0x110000)
'0x110000 (NMI, hardirq 1)'
>>> print(describe_taint(0x1000))
tainted = 4096
  O  an out-of-tree module was loaded
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

from kpanic_lab.formats.printk import panic_message
from kpanic_lab.guest.taint import set_flags
from kpanic_lab.i18n import _, display_width
from kpanic_lab.panic.describe import (cpu_doing, notifier_effect, notify_name, stage_detail, stage_explanation,
                                       stage_title)
from kpanic_lab.panic.trace import CpuState, StageRecord, Trace
from kpanic_lab.text import table

if TYPE_CHECKING:
    from kpanic_lab.machine import Machine
    from kpanic_lab.panic.notifiers import NotifierOutcome
    from kpanic_lab.panic.scenarios import Scenario
    from kpanic_lab.panic.session import PanicSession

# ---------------------------------------------------------------------------- numbers the kernel keeps
# include/linux/preempt.h: the preempt count is four counters in one int.
_PREEMPT_FIELDS = (("NMI", 20, 0xF), ("hardirq", 16, 0xF), ("softirq", 8, 0xFF), ("preempt", 0, 0xFF))


def describe_preempt_count(pc: Optional[int]) -> str:
    """A preempt count in Linux's terms: which of its counters are non-zero.

    >>> describe_preempt_count(0)
    '0 (preemptible)'
    >>> describe_preempt_count(1)
    '0x1 (preempt 1)'
    """
    if pc is None:
        return "?"
    if pc == 0:
        return "0 (preemptible)"
    parts = []
    for name, shift, mask in _PREEMPT_FIELDS:
        n = (pc >> shift) & mask
        if n:
            parts.append(name if name == "NMI" else f"{name} {n}")
    return f"0x{pc:x} ({', '.join(parts)})"


def describe_taint(value: int) -> str:
    """``/proc/sys/kernel/tainted`` in words, one flag a line (letters from :mod:`kpanic_lab.guest.taint`).

    >>> print(describe_taint(0x80))
    tainted = 128
      D  the kernel died: an oops or BUG happened
    """
    lines = [f"tainted = {value}" + ("  (not tainted)" if value == 0 else "")]
    lines += [f"  {f.letter}  {f.meaning}" for f in set_flags(value)]
    return "\n".join(lines)


def scenario_table(scenarios: Dict[str, "Scenario"]) -> str:
    """The scenarios, one line each: name, what it does, what Linux does with it.

    >>> from kpanic_lab.panic.scenarios import Scenario
    >>> print(scenario_table({"x": Scenario("x", "does x", "echo x", expect="warn")}))
    scenario  what it does  expect
    --------  ------------  ------
    x         does x        warn
    """
    return table([[s.name, s.summary, s.expect] for s in scenarios.values()], ["scenario", "what it does", "expect"])


# ---------------------------------------------------------------------------- sysctls
PANIC_SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "kernel.panic_on_warn")


def parse_sysctl(text: str) -> Dict[str, str]:
    """``name = value`` lines (sysctl's output) as a dict.

    >>> parse_sysctl("kernel.panic = 0\\nkernel.panic_on_oops = 1")
    {'kernel.panic': '0', 'kernel.panic_on_oops': '1'}
    """
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\S+) = (.*)$", text, re.MULTILINE)}


def sysctl_meaning(name: str, value: str) -> str:
    """What one panic sysctl's value makes the kernel do."""
    try:
        v = int(value)
    except ValueError:
        return ""
    if name == "kernel.panic":
        return ("after a panic: wait forever" if v == 0 else "after a panic: restart at once" if v < 0
                else f"after a panic: restart after {v} s")
    if name == "kernel.panic_on_oops":
        return "an oops panics ('Fatal exception')" if v else "an oops kills the task, the kernel goes on"
    if name == "kernel.panic_on_warn":
        return "a WARN() panics" if v else "a WARN() prints and the kernel goes on"
    return ""


def sysctl_table(values: Dict[str, str]) -> str:
    """The sysctls with what each value means.

    >>> print(sysctl_table({"kernel.panic": "5"}))
    kernel.panic = 5   after a panic: restart after 5 s
    """
    width = max((len(f"{k} = {v}") for k, v in values.items()), default=0)
    return "\n".join(f"{f'{k} = {v}':<{width}}   {sysctl_meaning(k, v)}".rstrip() for k, v in values.items())


def read_sysctls(machine: "Machine", names: Sequence[str] = PANIC_SYSCTLS) -> str:
    """Ask the guest's shell (``sysctl NAME...``) and explain the answer (machine at its prompt)."""
    return sysctl_table(parse_sysctl(machine.run_command("sysctl " + " ".join(names))))


def read_ulong(machine: "Machine", name: str) -> int:
    """A kernel ``unsigned long`` variable by name (``nr_dirty_pages``, ``jiffies``)."""
    return int.from_bytes(machine.read_symbol(name, 8), "little")


# ---------------------------------------------------------------------------- console
# A printk timestamp, and whatever the line had before it (a shell prompt that did not end its line).
_TIMESTAMP = re.compile(r"^.*?\[\s*\d+\.\d+\] ")
# The lines that say what happened, in the formats Linux prints (oops, BUG, WARN, panic, the end).
KEY_LINES = re.compile(
    r"(BUG: |#PF: |Oops: |invalid opcode: |kernel BUG at |WARNING: |------------\[ cut here \]|"
    r"CPU: \d+ PID: |^RIP: 0010:|Modules linked in:|---\[ end trace|Kernel panic - not syncing|"
    r"---\[ end Kernel panic|Rebooting in|^Killed$|^Segmentation fault$|<IRQ>|sysrq: )")


def pick_lines(text: str, pattern: "re.Pattern[str]" = KEY_LINES, *, drop_time: bool = True) -> str:
    """The lines of a console log that match ``pattern`` (the key oops/panic lines by default).

    >>> print(pick_lines("[ 0.1] a\\n# [ 0.2] Oops: 0002 [#1] PREEMPT SMP NOPTI\\nKilled\\n"))
    Oops: 0002 [#1] PREEMPT SMP NOPTI
    Killed
    """
    out = []
    for line in text.replace("\r", "").splitlines():
        bare = _TIMESTAMP.sub("", line)
        if pattern.search(bare):
            out.append(bare if drop_time else line)
    return "\n".join(out)


def since_trigger(before: str, now: str, trigger: str) -> str:
    """The part of console ``now`` from the line where ``trigger`` was typed (pure).

    ``before`` is the console when the session stopped before the trigger; lines typed after that
    (a ``sysctl`` read, say) are left out too.

    >>> since_trigger("boot\\n# ", "boot\\n# sysctl x\\nx = 0\\n# echo c\\npanic\\n", "echo c")
    '# echo c\\npanic\\n'
    """
    tail = now[len(before):] if now.startswith(before) else now
    at = tail.rfind(trigger)
    if at < 0:
        return tail
    line_start = tail.rfind("\n", 0, at) + 1
    if line_start == 0 and now.startswith(before):
        # the trigger is on the prompt line that ``before`` ends with
        return before[before.rfind("\n") + 1:] + tail
    return tail[line_start:]


def console_since_trigger(session: "PanicSession", index: Optional[int] = None) -> str:
    """What the console printed from the trigger up to a stage (the current one by default)."""
    return since_trigger(session.console_at(-1), session.console_at(index), session.scenario.trigger)


# ---------------------------------------------------------------------------- stages
def _sym(symbol: str) -> str:
    return symbol.split("/")[0]


def cpu_line(c: CpuState) -> str:
    """One CPU at one stage: IF, preempt count, what it does, where.

    >>> cpu_line(CpuState(0, "stopped-nmi", 0, "stop_this_cpu+0x61/0x70", False, 0x110000))
    'CPU 0  IF=0  preempt 0x110000 (NMI, hardirq 1)  stopped by NMI  at stop_this_cpu+0x61'
    """
    return (f"CPU {c.cpu}  IF={int(c.interrupts_enabled)}  preempt {describe_preempt_count(c.preempt_count)}"
            f"  {cpu_doing(c.doing)}  at {_sym(c.symbol)}")


def stage_card(rec: Optional[StageRecord]) -> str:
    """One stage for a student: what happened, why Linux does it, and every CPU's state."""
    if rec is None:
        return _("(before the trigger: the shell is waiting at its prompt)")
    stage = _("stage {index}").format(index=rec.index)
    lines = [f"{stage}: {rec.key} - {stage_title(rec)}   (CPU {rec.cpu}, at {_sym(rec.symbol)})"]
    labels = (_("what:"), _("why:"))
    width = max(display_width(label) for label in labels) + 2
    for label, words in zip(labels, (stage_detail(rec), stage_explanation(rec))):
        if words:
            lines.append(f"  {label}{' ' * (width - display_width(label))}{words}")
    lines += [f"  {cpu_line(c)}" for c in rec.cpus]
    return "\n".join(lines)


def stage_cards(records: Iterable[StageRecord]) -> str:
    return "\n\n".join(stage_card(r) for r in records)




def stage_table(records: Iterable[StageRecord]) -> str:
    """One line per stage: where it happened and, per CPU, IF, preempt count and what it does.

    >>> r = StageRecord(0, "IRQS_OFF", 1, 0, 0, "panic+0x85/0x32f", [],
    ...                 [CpuState(0, "idle", 0, "default_idle", True, 0),
    ...                  CpuState(1, "running", 0, "panic+0x86/0x32f", False, 1)], 0)
    >>> print(stage_table([r]))
    #  stage     on  at          CPU 0 IF  preempt  doing       CPU 1 IF  preempt  doing
    -  --------  --  ----------  --------  -------  ----------  --------  -------  -------
    0  IRQS_OFF  1   panic+0x85  1         0        idle (hlt)  0         0x1      running
    """
    records = list(records)
    ncpu = max((len(r.cpus) for r in records), default=0)
    header = ["#", "stage", "on", "at"]
    for i in range(ncpu):
        header += [f"CPU {i} IF", "preempt", "doing"]
    rows = []
    for r in records:
        row = [str(r.index), r.key, str(r.cpu), _sym(r.symbol)]
        for c in r.cpus:
            pc = "?" if c.preempt_count is None else ("0" if c.preempt_count == 0 else f"0x{c.preempt_count:x}")
            row += [str(int(c.interrupts_enabled)), pc, cpu_doing(c.doing, short=True)]
        rows.append(row)
    return table(rows, header)


def if_timeline(records: Iterable[StageRecord]) -> str:
    """Each CPU's IF flag across the stages, one character per stage.

    >>> mk = lambda i, f: StageRecord(i, "X", 0, 0, 0, "", [], [CpuState(0, "", 0, "", f, 0)], 0)
    >>> print(if_timeline([mk(0, True), mk(1, False), mk(2, True)]))
    stage   012
    CPU 0   101
    """
    records = list(records)
    ncpu = max((len(r.cpus) for r in records), default=0)
    lines = ["stage   " + "".join(str(r.index % 10) for r in records)]
    for i in range(ncpu):
        lines.append(f"CPU {i}   " + "".join(str(int(r.cpus[i].interrupts_enabled)) if i < len(r.cpus) else " "
                                             for r in records))
    return "\n".join(lines)


def find_stage(trace: Trace, key: str) -> Optional[StageRecord]:
    """The first stage with this key, or None."""
    return next((s for s in trace.stages if s.key == key), None)


# ---------------------------------------------------------------------------- outcomes
# how a run ends when the kernel goes on: an oops killed the task, or a WARN() printed and returned
_WENT_ON = ("task-killed", "continued")


def outcome(trace: Trace) -> Dict[str, str]:
    """What a run came to: how it began, the panic message (as crash's ``sys`` shows it; none when
    the kernel went on), how it ended."""
    first = trace.stages[0] if trace.stages else None
    what = stage_detail(first) if first else ""
    msg = None if trace.end in _WENT_ON else panic_message(trace.console)
    return {"scenario": trace.scenario,
            "began with": f"{first.key} ({what})" if first and what else (first.key if first else "-"),
            "panic message": msg if msg is not None else "(no panic)",
            "end": trace.end or "(not finished)"}


def outcomes_table(traces: Iterable[Trace]) -> str:
    """One line per run: the scenario, its first stage, its panic message and its end."""
    rows = [list(outcome(t).values()) for t in traces]
    return table(rows, ["scenario", "began with", "panic message", "end"])


def notifier_output(session: "PanicSession") -> str:
    """What each notifier printed on the console while it ran (between its call and its return), and
    what a silent one did (pvpanic's port write, the panic LED)."""
    out = []
    for r in session.records:
        if r.key == "NOTIFIER_RET" and r.notifier:
            start = next((c for c in reversed(session.records[:r.index]) if c.key == "NOTIFIER_CALL"), None)
            if start is None:
                continue
            text = session.console_at(r.index)[len(session.console_at(start.index)):]
            printed = pick_lines(text, re.compile(r"\S")) or "(nothing printed)"
            out.append(f"{r.notifier.name}:\n" + "\n".join(f"    {line}" for line in printed.splitlines()))
            did = notifier_effect(r.notifier)
            if did:
                out.append(f"    did: {did}")
    return "\n".join(out)


def notifier_table(trace: Trace, outcomes: Sequence["NotifierOutcome"] = ()) -> str:
    """The notifier chain as it ran: order, name, priority, return value, and what a Python
    notifier printed or why its answer was replaced."""
    notes: Dict[str, List[str]] = {}
    for o in outcomes:
        text = o.error or o.output.strip()
        notes.setdefault(f"python:{o.name}", []).append(text)
    rows = []
    for i, c in enumerate(trace.notifier_calls()):
        note = notes.get(c.name, [""]).pop(0) if notes.get(c.name) else ""
        rows.append([str(i + 1), c.name, str(c.priority), notify_name(c.ret), note])
    return table(rows, ["#", "notifier", "priority", "returned", "note"])


# ---------------------------------------------------------------------------- panic() in outline
# Stages of panic() itself (the trigger, oops and end are not panic()'s steps).
_PANIC_KEYS = ("IRQS_OFF", "CPU_CLAIMED", "MESSAGE", "STACK_DUMPED", "KGDB", "CRASH_KEXEC", "STOP_IPI", "STOP_NMI",
               "CPUS_STOPPED", "NOTIFIERS_DONE", "SYS_INFO", "KMSG_DUMP", "CONSOLE_UNBLANK", "DEBUG_LOCKS_OFF",
               "CONSOLE_FLUSH", "TIMEOUT", "RESTART", "LOOP")


def panic_outline(trace: Trace, notifiers: bool = False) -> List[str]:
    """The steps panic() took, in the order observed; the notifier calls folded into one line,
    or with ``notifiers=True`` one line each with what it returned.

    >>> t = Trace("x", {}, [StageRecord(i, k, 0, 0, 0, "", [], [], 0) for i, k in
    ...     enumerate(["ENTRY", "IRQS_OFF", "NOTIFIER_CALL", "NOTIFIER_RET", "NOTIFIERS_DONE", "LOOP"])])
    >>> panic_outline(t)
    ['IRQS_OFF', 'notifiers (1 called)', 'LOOP']
    """
    out = []
    for s in trace.stages:
        if s.key == "NOTIFIER_RET" and notifiers and s.notifier:
            out.append(f"  {s.notifier.name} -> {notify_name(s.notifier.ret)}")
        elif s.key == "NOTIFIERS_DONE":
            n = len([c for c in trace.stages if c.key == "NOTIFIER_CALL"])
            out.append("notifier chain done" if notifiers else f"notifiers ({n} called)")
        elif s.key in _PANIC_KEYS:
            out.append(s.key)
    return out


def side_by_side(left: Sequence[str], right: Sequence[str], titles: Tuple[str, str] = ("", "")) -> str:
    """Two lists in two columns, marking the rows where they differ with ``<>``.

    >>> print(side_by_side(["a", "b"], ["a", "c"], ("x", "y")))
       x  y
       a  a
    <> b  c
    """
    width = max([len(titles[0])] + [len(x) for x in left])
    lines = [f"   {titles[0]:<{width}}  {titles[1]}".rstrip()]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append(f"{'  ' if a == b else '<>'} {a:<{width}}  {b}".rstrip())
    return "\n".join(lines)


# The lecture's summary table of panic() (section 2.2), in its order.
LECTURE_STEPS: Tuple[Tuple[str, str], ...] = (
    ("禁用中断和抢占", "disable interrupts and preemption"),
    ("打印恐慌消息和调用栈", "print the panic message and the call trace"),
    ("尽力同步文件系统(可选)", "sync file systems, best effort"),
    ("调用注册的Panic Notifiers", "call the registered panic notifiers"),
    ("触发 crash_kexec() (如果配置了 kdump)", "crash_kexec() into the capture kernel, if kdump is set up"),
    ("最终行为(无限循环或重启)", "the end: loop forever, or reboot after panic_timeout"),
)


def _at(trace: Trace, key: str) -> str:
    s = find_stage(trace, key)
    return f"#{s.index}" if s else "none"


def lecture_vs_linux(trace: Trace, dirty_before: Optional[int] = None,
                     dirty_after: Optional[int] = None) -> str:
    """The lecture's six steps of panic() set against what this run did, step by step.

    Stage numbers come from ``trace``; ``dirty_before``/``dirty_after`` (the kernel's count of
    dirty page-cache pages before the trigger and at the end) show that nothing was synced.
    """
    post = "crash_kexec_post_notifiers" in str(trace.config.get("cmdline", ""))
    kexec, notif = find_stage(trace, "CRASH_KEXEC"), find_stage(trace, "NOTIFIERS_DONE")
    kexec_first = bool(kexec and notif and kexec.index < notif.index)
    msg = find_stage(trace, "MESSAGE")
    end = find_stage(trace, "LOOP") or find_stage(trace, "RESTART")
    timeout = find_stage(trace, "TIMEOUT")
    dirty = ("" if dirty_before is None or dirty_after is None else
             f" Dirty page-cache pages: {dirty_before} before the trigger, {dirty_after} at the end.")
    said_and_seen = [
        f"same: IRQS_OFF at {_at(trace, 'IRQS_OFF')} is panic()'s first step, before anything is printed "
        "(the lecture's numbered list prints first; its table has the right order). Then panic_cpu is claimed "
        f"({_at(trace, 'CPU_CLAIMED')}), which the lecture leaves out.",
        f"same: MESSAGE at {_at(trace, 'MESSAGE')}, STACK_DUMPED at {_at(trace, 'STACK_DUMPED')}. The line reads "
        "'Kernel panic - not syncing: ...'; dump_stack() is skipped when an oops has just printed one."
        if msg else "no panic message in this run",
        "differs: there is no such step. panic() never syncs file systems: writing to disk needs locks, "
        "interrupts and a working block layer, none of which a panicking kernel can trust; 'not syncing' "
        "says so." + dirty,
        f"differs: NOTIFIERS_DONE at {_at(trace, 'NOTIFIERS_DONE')}, after the other CPUs were stopped "
        f"(CPUS_STOPPED at {_at(trace, 'CPUS_STOPPED')}: a REBOOT_VECTOR IPI, an NMI only for a CPU that "
        "ignored it), which the lecture does not mention.",
        (f"differs: CRASH_KEXEC at {_at(trace, 'CRASH_KEXEC')} comes BEFORE the notifiers (Linux's default), "
         "so a broken notifier cannot spoil the dump." if kexec_first else
         f"as the lecture: CRASH_KEXEC at {_at(trace, 'CRASH_KEXEC')} comes after the notifiers, because "
         "this run was booted with crash_kexec_post_notifiers" if post else
         f"CRASH_KEXEC at {_at(trace, 'CRASH_KEXEC')}"),
        (f"mostly the same: TIMEOUT at {_at(trace, 'TIMEOUT')} ({stage_detail(timeout) if timeout else ''}), then "
         f"{end.key if end else 'nothing'} at {f'#{end.index}' if end else '-'}. Linux also restarts at once "
         "when panic_timeout < 0; before that come kmsg_dump "
         f"({_at(trace, 'KMSG_DUMP')}) and the console flush ({_at(trace, 'CONSOLE_FLUSH')}); in the final "
         "loop interrupts are back on."),
    ]
    lines = []
    for n, ((zh, en), seen) in enumerate(zip(LECTURE_STEPS, said_and_seen), 1):
        lines.append(f"{n}. lecture: {en}  ({zh})")
        lines.append(f"   Linux:   {seen}")
    return "\n".join(lines)
