"""crash's output forms for what the analysis helpers return: ``bt``, ``ps``, ``sys``,
``set``, ``mod``, ``kmem -i``, ``log``.  Public, so the code ``--py`` prints can call them.

>>> regs_lines(RegisterSet(rip=0x401343, rsp=0x7fffffffec28, rflags=0x246, cs=0x33, ss=0x2b))[0]
'    RIP: 0000000000401343  RSP: 00007fffffffec28  RFLAGS: 00000246'
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable, List, Optional

from kpanic_lab.analysis.errors import ReadError
from kpanic_lab.analysis.kmem import MemoryInfo, pages_to_size
from kpanic_lab.analysis.modules import Module
from kpanic_lab.analysis.printk import LogRecord
from kpanic_lab.analysis.regs import RegisterSet
from kpanic_lab.analysis.stack import Backtrace, Frame, stack_regions, stack_words, text_on_stack
from kpanic_lab.analysis.system import SystemInfo, format_memory, format_uptime
from kpanic_lab.analysis.tasks import PsRow, Task

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

STATE_NAMES = {"RU": "TASK_RUNNING", "IN": "TASK_INTERRUPTIBLE", "UN": "TASK_UNINTERRUPTIBLE",
               "ZO": "EXIT_ZOMBIE", "DE": "EXIT_DEAD", "ST": "TASK_STOPPED", "TR": "TASK_TRACED",
               "ID": "TASK_IDLE", "PA": "TASK_PARKED", "WA": "TASK_WAKING", "NE": "TASK_NEW"}


# ---------------------------------------------------------------------------- bt
def bt_header(task: Task, cpu: Optional[int]) -> str:
    """``PID: 1        TASK: ffff...  CPU: 0    COMMAND: "init"`` (crash's format exactly)."""
    c = str(cpu if cpu is not None else task.cpu)
    return f'PID: {task.pid:<7d}  TASK: {task.address:016x}  CPU: {c:<3s}  COMMAND: "{task.comm}"'


def regs_lines(r: RegisterSet) -> List[str]:
    """The register block of an exception frame, as crash prints it."""
    return [
        f"    RIP: {r.rip:016x}  RSP: {r.rsp:016x}  RFLAGS: {r.rflags:08x}",
        f"    RAX: {r.rax:016x}  RBX: {r.rbx:016x}  RCX: {r.rcx:016x}",
        f"    RDX: {r.rdx:016x}  RSI: {r.rsi:016x}  RDI: {r.rdi:016x}",
        f"    RBP: {r.rbp:016x}   R8: {r.r8:016x}   R9: {r.r9:016x}",
        f"    R10: {r.r10:016x}  R11: {r.r11:016x}  R12: {r.r12:016x}",
        f"    R13: {r.r13:016x}  R14: {r.r14:016x}  R15: {r.r15:016x}",
        f"    ORIG_RAX: {r.orig_rax:016x}  CS: {r.cs:04x}  SS: {r.ss:04x}",
    ]


def _frame_line(f: Frame) -> str:
    name = f.function or f"{f.pc:x}"
    mod = f" [{f.module}]" if f.module else ""
    return f"{'#' + str(f.level):>3} [{f.sp:016x}] {name} at {f.pc:016x}{mod}"


def _exception_lines(prog: "Program", f: Frame) -> List[str]:
    assert f.exception is not None
    r = f.exception.regs
    out = []
    if not r.user_mode:
        out.append(f"    [exception RIP: {prog.symbols.near(r.rip) or hex(r.rip)}]")
    return out + regs_lines(r)


def _words(prog: "Program", lo: int, hi: int) -> List[str]:
    try:
        words = stack_words(prog, lo, hi)
    except ReadError:
        return []
    out = []
    for i in range(0, len(words), 2):
        pair = words[i:i + 2]
        out.append(f"    {pair[0][0]:016x}: " + " ".join(f"{v:016x}" for _, v in pair))
    return out


def render_backtrace(prog: "Program", bt: Backtrace, full: bool = False, lines: bool = False) -> str:
    """crash's ``bt`` (``full``: ``-f``, the stack words of each frame; ``lines``: ``-l``,
    each frame's source line)."""
    out = [bt_header(bt.task, bt.cpu)]
    if bt.user_regs is not None:
        out += regs_lines(bt.user_regs)
        return "\n".join(out)
    regions = stack_regions(prog, bt.task)

    def region(a: int) -> Optional[object]:
        return next((r for r in regions if r.low <= a < r.high), None)

    for i, f in enumerate(bt.frames):
        if f.stack_switch:
            out.append(f"--- <{f.stack_switch}> ---")
        out.append(_frame_line(f))
        if lines:
            src = prog.line_for(f.pc if i == 0 or f.stack_switch else f.pc - 1)
            if src is not None:
                out.append(f"    {src}")
        nxt = bt.frames[i + 1] if i + 1 < len(bt.frames) else None
        if full:
            end = None
            if f.exception is not None:
                end = f.exception.address
            elif nxt is not None and not nxt.stack_switch and region(nxt.sp) is region(f.sp) and nxt.sp > f.sp:
                end = nxt.sp + 8
            if end is not None:
                out += _words(prog, f.sp + 8, end)
        if f.exception is not None:
            out += _exception_lines(prog, f)
    if bt.error:
        out.append(f"bt: {bt.error}")
    return "\n".join(out)


def render_text_symbols(prog: "Program", bt: Backtrace) -> str:
    """crash's ``bt -t``: every text address on the stack from where the walk started."""
    out = [bt_header(bt.task, bt.cpu)]
    if not bt.frames:
        return "\n".join(out)
    f0 = bt.frames[0]
    out.append(f"{'START:':>20} {f0.function} at {f0.pc:x}")
    for slot, value in text_on_stack(prog, bt.task, f0.sp):
        loc = prog.symbols.lookup(value)
        name = loc.symbol.name if loc else f"{value:x}"
        out.append(f"  [{slot:016x}] {name} at {value:x}")
    return "\n".join(out)


# ---------------------------------------------------------------------------- ps, set
PS_HEADER = "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM"


def ps_line(r: PsRow) -> str:
    t = r.task
    comm = f"[{t.comm}]" if t.is_kernel_thread else t.comm
    mark = "> " if r.active else "  "
    return (f"{mark}{t.pid:>7d} {t.ppid:>7d} {t.cpu:>3d}  {t.address:016x}  {r.state}  {r.mem_percent:>4.1f} "
            f"{r.vsz_kb:>8d} {r.rss_kb:>8d}  {comm}")


def render_ps(rows: Iterable[PsRow]) -> str:
    return "\n".join([PS_HEADER] + [ps_line(r) for r in rows])


def render_context(task: Task, cpu: Optional[int], panic: bool) -> str:
    """``set`` with no argument: the current context."""
    state = STATE_NAMES.get(task.state_code, task.state_code)
    if panic:
        state += " (PANIC)"
    elif cpu is not None:
        state += " (ACTIVE)"
    return "\n".join([f"    PID: {task.pid}", f'COMMAND: "{task.comm}"',
                      f"   TASK: {task.address:016x}  [THREAD_INFO: {task.address:016x}]",
                      f"    CPU: {cpu if cpu is not None else task.cpu}", f"  STATE: {state}"])


# ---------------------------------------------------------------------------- sys, log
def render_sys(info: SystemInfo) -> str:
    date = time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime(info.date)) if info.date else \
        "(unknown: the lab machine has no real-time clock)"
    rows = [
        ("KERNEL", info.kernel),
        ("DUMPFILE", info.dumpfile + ("  [PARTIAL DUMP]" if info.partial else "")
         + "".join(f"  [{label}]" for label in info.labels)),
        ("CPUS", str(info.cpus)),
        ("DATE", date),
        ("UPTIME", format_uptime(info.uptime_seconds) if info.uptime_seconds is not None else "(unknown)"),
        ("LOAD AVERAGE", ", ".join(info.load_average) if info.load_average else "(not kept by this kernel)"),
        ("TASKS", str(info.tasks)),
        ("NODENAME", info.nodename),
        ("RELEASE", info.release),
        ("VERSION", info.version),
        ("MACHINE", info.machine + (f"  ({info.mhz} Mhz)" if info.mhz else "")),
        ("MEMORY", format_memory(info.memory_bytes)),
    ]
    if info.panic:
        rows.append(("PANIC", f'"{info.panic}"'))
    return "\n".join(f"{k:>12}: {v}" for k, v in rows)


def render_log(records: Iterable[LogRecord], levels: bool = False) -> str:
    """``log`` (``levels``: ``log -m``, each record behind its ``<level>``).  A record of several
    lines prints its time stamp once and indents the others under its text, as crash does (the
    console repeats the stamp instead)."""
    out = []
    for r in records:
        head = (f"<{r.level}>" if levels else "") + r.prefix()
        parts = r.text.decode("utf-8", "replace").split("\n")
        out.append(head + parts[0])
        out += [" " * len(head) + part for part in parts[1:]]
    return "\n".join(out)


# ---------------------------------------------------------------------------- mod, kmem
def render_modules(mods: List[Module]) -> str:
    """``mod``: crash's columns (MODULE and BASE centred, NAME as wide as the longest)."""
    namew = max([len(m.name) for m in mods] + [len("NAME")])
    sizew = max([len(str(m.size)) for m in mods] + [len("SIZE")])
    out = [f"     MODULE       {'NAME':<{namew}}        BASE        {'SIZE':>{sizew}}  OBJECT FILE"]
    for m in mods:
        out.append(f"{m.address:016x}  {m.name:<{namew}}  {m.base:016x}  {m.size:>{sizew}d}  "
                   "(not loaded)  [CONFIG_KALLSYMS]")
    return "\n".join(out)


def render_kmem_info(mi: MemoryInfo) -> str:
    """``kmem -i``: pages, sizes and shares, crash's columns."""
    total = mi.total_pages or 1

    def row(label: str, pages: int, of: str = "TOTAL MEM", base: int = total) -> str:
        pct = f"{pages * 100 // base:3d}% of {of}" if base else f"  0% of {of}"
        return f"{label:>13}  {pages:7d}  {pages_to_size(pages):>11}  {pct}"

    def head(label: str, pages: int) -> str:
        return f"{label:>13}  {pages:7d}  {pages_to_size(pages):>11}         ----"

    return "\n".join([
        "                 PAGES        TOTAL      PERCENTAGE",
        head("TOTAL MEM", mi.total_pages),
        row("FREE", mi.free_pages),
        row("USED", mi.used_pages),
        row("SHARED", mi.shared_pages),
        row("BUFFERS", mi.buffer_pages),
        row("CACHED", mi.cached_pages),
        row("SLAB", mi.slab_pages),
        "",
        head("TOTAL HUGE", 0),
        row("HUGE FREE", 0, "TOTAL HUGE", 0),
        "",
        head("TOTAL SWAP", 0),
        row("SWAP USED", 0, "TOTAL SWAP", 0),
        row("SWAP FREE", 0, "TOTAL SWAP", 0),
    ])
