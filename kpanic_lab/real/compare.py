"""Two kernels' consoles side by side: the lab's and real Linux 6.1's, matching lines aligned.

The two consoles say the same things in different numbers: time stamps, addresses (KASLR moves the
real kernel's every boot), sizes, PIDs, function offsets.  :func:`line_key` reduces a line to what
it says (pure): the time stamp goes, every number becomes ``#``, a few messages whose words differ
between the kernels on purpose get a name of their own (``CPU: # PID: # Comm: ...`` is ``cpu-line``
whatever the task; a backtrace frame is its function, ``.cold`` parts folded into the function).
:func:`align` lines the two key lists up with :mod:`difflib` and returns rows, each with the lab's
line, the real line and whether they match.

:func:`stage_lines` puts the lab's panic stages beside the real console: for each stage the message
it prints (``MESSAGE``: ``Kernel panic - not syncing: ...``), found in both consoles, or what shows
it when it prints nothing of its own (``KEXEC``: the capture kernel's ``Linux version`` line).

>>> line_key("[    7.822029] Kernel panic - not syncing: sysrq triggered crash")
'Kernel panic - not syncing: sysrq triggered crash'
>>> line_key("[    0.020250]  panic+0x17d/0x427") == line_key("[    7.823864]  panic+0x118/0x2f4")
True
>>> line_key("[    7.824109]  __handle_sysrq.cold+0x44/0x11c")
'frame: __handle_sysrq'
>>> line_key("[    0.020250] CPU: 1 PID: 4 Comm: sh Kdump: loaded Not tainted 6.1.0-kpanic #1")
'cpu-line'
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\] ?")
LAB_PREFIX = re.compile(r"^LAB: \[[\d.]+\] ")           # the real run's init script (initramfs.py)
# a backtrace frame: "  panic+0x118/0x2f4", "  ? _printk+0x68/0x83", " __handle_sysrq.cold+0x44/0x11c [mod]"
FRAME = re.compile(r"^\s*(\? )?([A-Za-z_][\w]*)(?:\.(?:cold|isra|constprop|part)(?:\.\d+)?)*\+0x[0-9a-f]+/0x[0-9a-f]+")
NUMBER = re.compile(r"\b(?:0x)?[0-9a-f]*\d[0-9a-f]*\b|\d+")
# messages that say the same thing in words that differ between the two kernels: (regex, key)
NAMED: Tuple[Tuple[str, str], ...] = (
    (r"^CPU: \d+ PID: \d+ Comm: ", "cpu-line"),
    (r"^Hardware name: ", "hardware"),
    (r"^Linux version ", "linux-version"),
    (r"^Command line: ", "command-line"),
    (r"^Kernel command line: ", "kernel-command-line"),
    (r"^Memory: \d+K/\d+K available", "memory"),
    (r"^Reserving \d+MB of memory at \d+MB for crashkernel", "crashkernel-reserved"),
    (r"^smp: Brought up ", "smp-up"),
    (r"(^# |^triggering: )echo c > /proc/sysrq-trigger", "echo-c"),
    (r"(^# |^)kexec -p", "kexec-p"),
    (r"^RIP: ", "rip"), (r"^Code: ", "code"), (r"^RSP: ", "rsp"),
    (r"^RAX: ", "rax"), (r"^RDX: ", "rdx"), (r"^RBP: ", "rbp"), (r"^R10: ", "r10"), (r"^R13: ", "r13"),
    (r"^Kernel Offset: ", "kernel-offset"),
    (r"^---\[ end Kernel panic - not syncing: ", "end-kernel-panic"),
    (r"^The dumpfile is saved to ", "dumpfile-saved"),
)
_NAMED = tuple((re.compile(p), k) for p, k in NAMED)


def strip_timestamp(line: str) -> str:
    """The line without its ``[    7.822029] `` printk time stamp (or the real init's ``LAB: [5.08] ``)."""
    return LAB_PREFIX.sub("", TIMESTAMP.sub("", line))


def line_key(line: str) -> str:
    """What a console line says, with what differs between two kernels and two boots taken out (pure).

    Unreliable frames (``? name+off/size``: a return address found on the stack that the unwinder
    did not pass through) get a key of their own, so they never match a real frame.
    """
    text = strip_timestamp(line.rstrip())
    frame = FRAME.match(text)
    if frame:
        return ("unreliable frame: " if frame.group(1) else "frame: ") + frame.group(2)
    text = text.strip()
    for pattern, key in _NAMED:
        if pattern.search(text):
            return key
    return re.sub(r"\s+", " ", NUMBER.sub("#", text))


@dataclass(frozen=True)
class Row:
    """One row of the side-by-side view: a lab line, a real line (either may be None), matched or not."""

    lab: Optional[str]
    real: Optional[str]
    matched: bool


def align(lab: Sequence[str], real: Sequence[str]) -> List[Row]:
    """The two consoles' lines in one list of rows, lines that say the same thing on one row (pure).

    >>> rows = align(["[ 0.1] sysrq: Trigger a crash", "[ 0.2] lab only"],
    ...              ["[ 7.8] real only", "[ 7.9] sysrq: Trigger a crash"])
    >>> [(r.lab, r.real, r.matched) for r in rows]      # doctest: +NORMALIZE_WHITESPACE
    [(None, '[ 7.8] real only', False), ('[ 0.1] sysrq: Trigger a crash', '[ 7.9] sysrq: Trigger a crash', True),
     ('[ 0.2] lab only', None, False)]
    """
    a = [line_key(x) for x in lab]
    b = [line_key(x) for x in real]
    rows: List[Row] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(Row(lab[i], real[j], True) for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        # a line on one side only: the real one first (it is usually boot detail the lab has not got)
        rows.extend(Row(None, real[j], False) for j in range(j1, j2))
        rows.extend(Row(lab[i], None, False) for i in range(i1, i2))
    return rows


def align_consoles(lab: str, real: str) -> List[Row]:
    """:func:`align` on two console texts (empty lines left out)."""
    return align([x for x in lab.splitlines() if x.strip()], [x for x in real.splitlines() if x.strip()])


def match_count(rows: Sequence[Row]) -> Tuple[int, int, int]:
    """(matched rows, lab lines, real lines)."""
    return (sum(r.matched for r in rows), sum(r.lab is not None for r in rows),
            sum(r.real is not None for r in rows))


def from_line(rows: Sequence[Row], key: str) -> List[Row]:
    """The rows from the first whose lab or real line has ``key`` in it (to show the panic, not the boot).

    >>> [r.real for r in from_line([Row("a", "a", True), Row(None, "b sysrq", False)], "sysrq")]
    ['b sysrq']
    """
    for n, r in enumerate(rows):
        if key in (r.lab or "") or key in (r.real or ""):
            return list(rows[n:])
    return []


# ----------------------------------------------------------------------------- stages
# Each stage of the lab's panic path, and the console line that shows it: (stage key, which console,
# a regex for the line).  None: the stage prints nothing on Linux 6.1 either.
STAGE_LINES: Tuple[Tuple[str, Optional[str], Optional[str]], ...] = (
    ("TRIGGER", "first", r"sysrq: Trigger a crash"),
    ("ENTRY", None, None),                  # panic() entered: nothing printed yet
    ("IRQS_OFF", None, None),               # local_irq_disable(): silent
    ("CPU_CLAIMED", None, None),            # atomic_try_cmpxchg(&panic_cpu, ...): silent
    ("MESSAGE", "first", r"Kernel panic - not syncing: "),
    ("STACK_DUMPED", "first", r"CPU: \d+ PID: \d+ Comm: "),
    ("KGDB", None, None),                   # kgdb_panic(): no debugger attached, nothing
    ("CRASH_KEXEC", None, None),            # __crash_kexec(): machine_crash_shutdown() prints nothing
    ("CPU_STOPPED", None, None),            # crash NMI: crash_nmi_callback() saves registers silently
    ("KEXEC", "capture", r"Linux version "),   # the capture kernel's first line
    ("CPUS_STOPPED", "first", r"Shutting down cpus with NMI"),
    ("KMSG_DUMP", None, None),
    ("NOTIFIERS_DONE", "first", r"Kernel Offset: "),   # x86's dump_kernel_offset is a panic notifier
    ("END", "first", r"---\[ end Kernel panic"),
)
_STAGE_LINES = {k: (c, re.compile(p) if p else None) for k, c, p in STAGE_LINES}


@dataclass(frozen=True)
class StageLine:
    """One lab stage beside the real console: the line each kernel printed for it (None: nothing)."""

    index: int
    key: str
    lab: Optional[str]
    real: Optional[str]
    silent: bool           # the stage prints nothing of its own, on either kernel


def _first(console: str, pattern: "re.Pattern[str]") -> Optional[str]:
    for line in console.splitlines():
        if pattern.search(line):
            return line
    return None


def stage_lines(stage_keys: Sequence[str], lab: Tuple[str, str], real: Tuple[str, str]) -> List[StageLine]:
    """For each lab stage (in order), the line of the lab's and of the real console that shows it (pure).

    ``lab`` and ``real`` are (first kernel's console, capture kernel's console).

    >>> [(s.key, s.lab, s.real) for s in stage_lines(["TRIGGER", "ENTRY"],
    ...     ("[ 0.02] sysrq: Trigger a crash", ""), ("[ 7.82] sysrq: Trigger a crash", ""))]
    [('TRIGGER', '[ 0.02] sysrq: Trigger a crash', '[ 7.82] sysrq: Trigger a crash'), ('ENTRY', None, None)]
    """
    out: List[StageLine] = []
    for n, key in enumerate(stage_keys):
        which, pattern = _STAGE_LINES.get(key, (None, None))
        if which is None or pattern is None:
            out.append(StageLine(n, key, None, None, True))
            continue
        side = 0 if which == "first" else 1
        out.append(StageLine(n, key, _first(lab[side], pattern), _first(real[side], pattern), False))
    return out
