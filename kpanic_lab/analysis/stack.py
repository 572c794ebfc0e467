"""Stack unwinding by frame pointers, through the kernel's entry frames (crash's ``bt``).

The guest is built with frame pointers: once a function has run ``push %rbp; mov
%rsp,%rbp``, ``[rbp]`` is the caller's RBP and ``[rbp+8]`` the return address into the
caller.  A walk starts from saved registers (a CPU's, or those ``__switch_to_asm`` left
on a sleeping task's stack) and follows that chain.  Where the PC stops before the
``mov %rsp,%rbp`` (a prologue, an interrupted instruction), the pushes made so far are
replayed from the function's first instruction to find the return address.

Every kernel entry (entry.S) saves a ``struct pt_regs`` and, just below it, a frame
record holding the interrupted RBP and RIP; so when a return address lies in the entry
text, the caller's frame pointer is that record and the registers sit 16 bytes above
it.  The walk shows them (crash's exception frame), stops there for a user-mode
context, and otherwise goes on in the interrupted kernel code, on its own stack when
the entry ran on another one (an NMI stack): ``--- <NMI exception stack> ---``.

>>> trace = backtrace(prog, find_task(prog, 3))          # doctest: +SKIP
>>> [f.function for f in trace.frames][:3]               # doctest: +SKIP
['mdelay', 'panic', 'sysrq_handle_crash']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from kpanic_lab.analysis.disasm import decode
from kpanic_lab.analysis.errors import ReadError
from kpanic_lab.analysis.regs import PT_REGS_SIZE, RegisterSet
from kpanic_lab.analysis.tasks import Task, active_tasks
from kpanic_lab.guest.headers import THREAD_SIZE

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

MAX_FRAMES = 256
_PLAUSIBLE_CS = (0x10, 0x23, 0x33)


@dataclass(frozen=True)
class ExceptionFrame:
    """The registers an entry saved (``struct pt_regs`` at ``address``)."""

    address: int
    regs: RegisterSet


@dataclass(frozen=True)
class Frame:
    """One line of ``bt``: ``#level [sp] function at pc``.

    ``sp`` is the stack slot the PC was found in (the saved RSP for frame 0, or for the
    first frame on a stack the walk switched to).  ``exception`` is set on the entry
    frame whose saved registers follow it; ``stack_switch`` names the stack the walk
    left just before this frame (crash prints ``--- <NMI exception stack> ---``)."""

    level: int
    sp: int
    pc: int
    function: Optional[str]
    offset: int
    module: Optional[str] = None
    exception: Optional[ExceptionFrame] = None
    stack_switch: Optional[str] = None


@dataclass
class Backtrace:
    """A task's stack: where the walk started, its frames, and why it stopped early (if so)."""

    task: Task
    cpu: Optional[int]                      # the CPU it was running on (None: not running)
    start: Optional[RegisterSet]            # the registers the walk began from
    frames: List[Frame] = field(default_factory=list)
    user_regs: Optional[RegisterSet] = None   # a CPU caught in user mode: no kernel stack to walk
    error: Optional[str] = None

    @property
    def functions(self) -> List[Optional[str]]:
        return [f.function for f in self.frames]


@dataclass(frozen=True)
class StackRegion:
    low: int
    high: int
    name: str          # "process", "NMI", "DOUBLEFAULT"


def stack_regions(prog: "Program", task: Task) -> List[StackRegion]:
    """The stacks a walk of ``task`` may cross: its own, and each CPU's NMI and #DF stacks."""
    if prog.linux:      # its own stack; the exception stacks are not mapped here
        from kpanic_lab.analysis.linux import THREAD_SIZE as LINUX_THREAD_SIZE

        return [StackRegion(task.stack, task.stack + LINUX_THREAD_SIZE, "process")] if task.stack else []
    key = ("stack_regions",)
    if key not in prog.cache:
        regions = []
        ncpu = prog.type("struct pcpu")        # NR_CPUS from the per-CPU array's length
        nr = max(1, prog.symbols.by_name("pcpu_data").size // max(1, ncpu.byte_size))
        for sym, name in (("nmi_stack", "NMI"), ("df_stack", "DOUBLEFAULT")):
            k = prog.symbols.get(sym)
            if k and k.size:
                per = k.size // nr
                regions += [StackRegion(k.address + c * per, k.address + (c + 1) * per, name) for c in range(nr)]
        prog.cache[key] = regions
    thread_size = prog.symbols.by_name("init_stack").size or THREAD_SIZE
    own = [StackRegion(task.stack, task.stack + thread_size, "process")] if task.stack else []
    return own + prog.cache[key]


def _region(regions: List[StackRegion], addr: int) -> Optional[StackRegion]:
    for r in regions:
        if r.low <= addr < r.high:
            return r
    return None


def _prologue(prog: "Program", func_start: int, pc: int) -> Tuple[bool, int, int]:
    """Replay the function from its start to ``pc``, straight through conditional
    branches (gcc may set the frame up after an early-exit test): (frame set up?, bytes
    pushed, offset of the pushed RBP from the entry RSP or -1)."""
    key = ("prologue", func_start, pc)
    hit = prog.cache.get(key)
    if hit is not None:
        return hit
    try:
        code = prog.read(func_start, min(pc - func_start, 256))
    except ReadError:
        code = b""
    pushed, rbp_at = 0, -1
    result: Optional[Tuple[bool, int, int]] = None
    for ins in decode(code, func_start):
        if ins.address >= pc:
            break
        m, ops = ins.mnemonic, ins.operands
        if m in ("push", "pushf"):
            if ops == "%rbp" and rbp_at < 0:
                rbp_at = pushed
            pushed += 8
        elif m in ("pop", "popf"):
            pushed -= 8
        elif m == "mov" and ops == "%rsp,%rbp":
            result = (True, 0, 0)
            break
        elif m == "sub" and ops.endswith(",%rsp") and ops.startswith("$"):
            pushed += int(ops[1:-5], 16)
        elif m == "add" and ops.endswith(",%rsp") and ops.startswith("$"):
            pushed -= int(ops[1:-5], 16)
        elif m in ("ret", "jmp"):
            # the end of a block that pc does not fall through from: past an early exit
            # the frame is usually set up (shrink-wrapping), so trust the frame pointer
            result = (True, 0, 0)
            break
    if result is None:
        result = (False, pushed, rbp_at)
    prog.cache[key] = result
    return result


def caller_slot(prog: "Program", pc: int, sp: int, bp: int) -> Tuple[int, int]:
    """For a function stopped at ``pc`` with these RSP and RBP: (address of its return
    address, the caller's RBP)."""
    loc = prog.symbols.lookup(pc)
    if loc is None or not prog.symbols.in_text(pc):
        return bp + 8, _u64(prog, bp)
    start = pc - loc.offset
    try:
        at = decode(prog.read(pc, 16), pc, count=1)
    except ReadError:
        at = []
    if at and at[0].is_ret:
        return sp, bp
    framed, pushed, rbp_at = _prologue(prog, start, pc)
    if framed:
        return bp + 8, _u64(prog, bp)
    if rbp_at >= 0:
        return sp + pushed, _u64(prog, sp + pushed - rbp_at - 8)
    return sp + pushed, bp


def _u64(prog: "Program", addr: int) -> int:
    try:
        return prog.read_u64(addr)
    except ReadError:
        return 0


def _entry_text(prog: "Program") -> Tuple[int, int]:
    s, e = prog.symbols.get("__entry_text_start"), prog.symbols.get("__entry_text_end")
    return (s.address, e.address) if s and e else (0, 0)


def read_pt_regs(prog: "Program", addr: int) -> RegisterSet:
    """The ``struct pt_regs`` at ``addr``."""
    return RegisterSet.from_pt_regs_bytes(prog.read(addr, PT_REGS_SIZE))


def _frame(prog: "Program", level: int, sp: int, pc: int, returned: bool = False, **kw) -> Frame:
    """A frame at ``pc``.  A return address is named by the instruction before it (the
    call), as the kernel's %pB does: after a call to a noreturn function it may be the
    first byte of the next function."""
    loc = prog.symbols.lookup(pc - 1 if returned else pc)
    name = loc.symbol.name if loc else None
    off = loc.offset + 1 if loc and returned else loc.offset if loc else 0
    return Frame(level, sp, pc, name, off, prog.image.module_of(pc - 1 if returned else pc), **kw)


def sleeping_start(prog: "Program", task: Task) -> Tuple[int, int, int]:
    """Where a switched-out task stopped: (slot of the return address into the function
    that called ``__switch_to_asm``, that address, the RBP it saved), from
    ``task->thread.sp`` (``struct inactive_task_frame``: r15 r14 r13 r12 bx bp ret)."""
    sp = prog.read_u64(task.address + prog.offsetof("task_struct", "thread.sp"))
    return sp + 48, prog.read_u64(sp + 48), prog.read_u64(sp + 40)


def backtrace(prog: "Program", task: Task, regs: Optional[RegisterSet] = None,
              cpu: Optional[int] = None, crash_start: bool = True) -> Backtrace:
    """``task``'s kernel stack, frame by frame.

    A task that some CPU was running starts from that CPU's registers (or ``regs``);
    a sleeping one from what ``__switch_to_asm`` saved.  On a vmcore, ``crash_start``
    begins where crash 8 does (``machine_kexec`` on the CPU that crashed,
    ``crash_nmi_callback`` on the others: see ``_dump_start``); without it the walk begins at
    the saved NT_PRSTATUS registers, as gdb's does."""
    if prog.linux:      # a real kernel: its ORC tables, through drgn
        from kpanic_lab.analysis import linux

        return linux.backtrace(prog, task, cpu, crash_start)  # type: ignore[arg-type]
    if cpu is None:
        cpu = next((c for c, a in active_tasks(prog).items() if a == task.address), None)
    if regs is None and cpu is not None:
        regs = prog.target.cpu_registers(cpu)
    bt = Backtrace(task, cpu, regs)
    regions = stack_regions(prog, task)
    text_lo, text_hi = _entry_text(prog)
    try:
        if crash_start and regs is not None and cpu is not None and prog.target.kind == "dump" and \
                _dump_start(prog, bt, task, cpu, regions, text_lo, text_hi):
            return bt
        if regs is not None:
            if regs.user_mode:
                bt.user_regs = regs
                return bt
            bt.frames.append(_frame(prog, 0, regs.rsp, regs.rip))
            slot, bp = caller_slot(prog, regs.rip, regs.rsp, regs.rbp)
        else:
            slot0, pc0, bp = sleeping_start(prog, task)
            bt.frames.append(_frame(prog, 0, slot0, pc0, returned=True))
            if not bp:
                return bt
            slot, bp = bp + 8, _u64(prog, bp)
        _walk(prog, bt, slot, bp, regions, text_lo, text_hi)
    except ReadError as e:
        bt.error = str(e)
    return bt


def _called_from(prog: "Program", value: int, function: str) -> bool:
    """Is ``value`` a return address into ``function`` (the call before it lies in it)?"""
    if not prog.symbols.in_text(value):
        return False
    loc = prog.symbols.lookup(value - 1)
    return loc is not None and loc.symbol.name == function


def _dump_start(prog: "Program", bt: Backtrace, task: Task, cpu: int, regions: List[StackRegion],
                text_lo: int, text_hi: int) -> bool:
    """Where crash 8 starts ``bt`` on a kdump vmcore, if it applies; the frames are added to ``bt``.

    The saved NT_PRSTATUS registers are not where crash begins.  For the CPU that crashed it
    scans the task's stack for ``machine_kexec``'s call into purgatory (the jump never
    returned, so the return address is still there) and shows ``#0 machine_kexec``,
    ``#1 __crash_kexec``, ``#2 panic`` (or ``crash_kexec``, ``oops_end`` after an oops).  For
    the others, stopped by the crash NMI, it starts in ``crash_nmi_callback`` on the CPU's
    NMI stack and shows the NMI frames above ``--- <NMI exception stack> ---``.
    """
    own = next((r for r in regions if r.name == "process"), None)
    if own is not None:
        words = stack_words(prog, own.low, own.high)
        kexec = [a for a, v in words if _called_from(prog, v, "machine_kexec")]
        if kexec:
            at = kexec[-1]
            up = next((a for a, v in words if a > at and _called_from(prog, v, "__crash_kexec")), None)
            if up is not None:
                bt.frames.append(_frame(prog, 0, at, prog.read_u64(at), returned=True))
                _walk(prog, bt, up, _u64(prog, up - 8), regions, text_lo, text_hi)
                return True
    nmi = [r for r in regions if r.name == "NMI"]
    if cpu < len(nmi):
        words = stack_words(prog, nmi[cpu].low, nmi[cpu].high)
        hit = [a for a, v in words if _called_from(prog, v, "crash_nmi_callback")]
        if hit:
            at = hit[-1]
            bp = _u64(prog, at - 8)         # the callee's push of crash_nmi_callback's RBP
            if nmi[cpu].low <= bp < nmi[cpu].high:
                bt.frames.append(_frame(prog, 0, at, prog.read_u64(at), returned=True))
                _walk(prog, bt, bp + 8, _u64(prog, bp), regions, text_lo, text_hi)
                return True
    return False


def _walk(prog: "Program", bt: Backtrace, slot: int, bp: int, regions: List[StackRegion],
          text_lo: int, text_hi: int) -> None:
    while len(bt.frames) < MAX_FRAMES:
        here = _region(regions, slot)
        if here is None:
            return
        ret = prog.read_u64(slot)
        if not prog.symbols.in_text(ret):
            return
        if text_lo <= ret < text_hi and bp:
            regs_addr = bp + 16
            try:
                regs = read_pt_regs(prog, regs_addr)
            except ReadError:
                regs = None
            if regs is not None and regs.cs in _PLAUSIBLE_CS:
                bt.frames.append(_frame(prog, len(bt.frames), slot, ret, returned=True,
                                        exception=ExceptionFrame(regs_addr, regs)))
                if regs.user_mode:
                    return
                there = _region(regions, regs.rsp)
                if there is not None and there != here:
                    # the entry ran on its own stack: go on where it interrupted
                    bt.frames.append(_frame(prog, len(bt.frames), regs.rsp, regs.rip,
                                            stack_switch=f"{here.name} exception stack"))
                slot, bp = caller_slot(prog, regs.rip, regs.rsp, regs.rbp)
                continue
        bt.frames.append(_frame(prog, len(bt.frames), slot, ret, returned=True))
        if not bp:
            return
        nxt = bp + 8
        if _region(regions, nxt) == here and nxt <= slot:
            return          # the chain must climb the stack: anything else is garbage
        slot, bp = nxt, _u64(prog, bp)


def text_on_stack(prog: "Program", task: Task, start_sp: int) -> List[Tuple[int, int]]:
    """Every word from ``start_sp`` to the top of its stack that is a kernel text address:
    (slot, address), as crash's ``bt -t`` lists them."""
    regions = stack_regions(prog, task)
    r = _region(regions, start_sp)
    if r is None:
        return []
    data = prog.read(start_sp, r.high - start_sp)
    out = []
    for i in range(0, len(data) - 7, 8):
        v = int.from_bytes(data[i:i + 8], "little")
        if prog.symbols.in_text(v):
            out.append((start_sp + i, v))
    return out


def stack_words(prog: "Program", low: int, high: int) -> List[Tuple[int, int]]:
    """The 8-byte words in [low, high): (address, value) — ``bt -f``'s frame contents."""
    if high <= low:
        return []
    data = prog.read(low, high - low)
    return [(low + i, int.from_bytes(data[i:i + 8], "little")) for i in range(0, len(data) - 7, 8)]


def all_cpu_backtraces(prog: "Program") -> Dict[int, Backtrace]:
    """``bt -a``: the task each CPU was running, walked from that CPU's registers."""
    from kpanic_lab.analysis.tasks import task_on_cpu

    return {cpu: backtrace(prog, task_on_cpu(prog, cpu), cpu=cpu)
            for cpu in range(prog.target.cpu_count)}
