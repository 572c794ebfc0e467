"""Linux's own structures, where the lab's guest keeps its own (a :class:`LinuxProgram`).

The guest keeps per-CPU data in one ``pcpu_data[]`` array and walks its stacks by frame
pointers; a real x86-64 kernel has ``__per_cpu_offset[]`` and ``runqueues``, and Debian's
is built without frame pointers, so its stacks are unwound with the ORC tables (drgn's
unwinder, the kernel's own ``unwind_orc.c`` rules).  Each helper here answers the same
question as its namesake in :mod:`~kpanic_lab.analysis.tasks`, :mod:`~kpanic_lab.analysis.stack`
and :mod:`~kpanic_lab.analysis.system` (which call it when ``prog.linux`` is set), returning
the same objects, so the shell's commands and their output forms are the same for both.

>>> [f.function for f in backtrace(prog, task_on_cpu(prog, 1)).frames][:3]   # doctest: +SKIP
['__crash_kexec', 'panic', 'sysrq_handle_crash']
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar

from kpanic_lab.analysis.errors import ReadError
from kpanic_lab.analysis.regs import PT_REGS_SIZE, RegisterSet

if TYPE_CHECKING:
    from kpanic_lab.analysis.drgn_backend import LinuxProgram
    from kpanic_lab.analysis.stack import Backtrace
    from kpanic_lab.analysis.tasks import PsRow, Task

THREAD_SIZE = 16 << 10          # x86-64: 4 pages of kernel stack (KASAN off)
CPU_ENTRY_AREA = (0xFFFFFE0000000000, 0xFFFFFE8000000000)   # the per-CPU exception (NMI, #DF) stacks
PAGE_SIZE = 4096
T = TypeVar("T")


def _faults(fn: Callable[..., T]) -> Callable[..., T]:
    """drgn's FaultError out of a drgn helper becomes the lab's ReadError (one line in the shell)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        import drgn

        from kpanic_lab.analysis.drgn_backend import fault_to_read_error

        try:
            return fn(*args, **kwargs)
        except drgn.FaultError as e:
            raise fault_to_read_error(e) from None
    return wrapper


def _cpus(prog: "LinuxProgram") -> List[int]:
    from drgn.helpers.linux.cpumask import for_each_possible_cpu

    n = prog.target.cpu_count
    return [c for c in for_each_possible_cpu(prog.drgn)][:max(n, 1)]


# ---------------------------------------------------------------------------- tasks
@_faults
def idle_tasks(prog: "LinuxProgram") -> List["Task"]:
    """Each CPU's idle task (``runqueues[cpu].idle``: swapper/N)."""
    from drgn.helpers.linux.sched import idle_task

    from kpanic_lab.analysis.tasks import read_task

    return [read_task(prog, idle_task(prog.drgn, c).value_()) for c in _cpus(prog)]


@_faults
def active_tasks(prog: "LinuxProgram") -> Dict[int, int]:
    """CPU -> the task it was running (``runqueues[cpu].curr``)."""
    from drgn.helpers.linux.sched import cpu_curr

    if "linux_active" not in prog.cache:
        prog.cache["linux_active"] = {c: cpu_curr(prog.drgn, c).value_() for c in _cpus(prog)}
    return prog.cache["linux_active"]


@_faults
def ps_rows(prog: "LinuxProgram", tasks: List["Task"]) -> List["PsRow"]:
    """``ps`` as crash computes it on Linux: RSS from the mm's counters (and the task's
    not yet folded in), VSZ from ``mm->total_vm``, %MEM of ``totalram_pages``."""
    from drgn import Object
    from drgn.helpers.linux.mm import task_rss

    from kpanic_lab.analysis.tasks import PsRow

    active = set(active_tasks(prog).values())
    total = prog.drgn["_totalram_pages"].counter.value_() or 1
    task_t = prog.drgn.type("struct task_struct *")
    rows = []
    for t in tasks:
        rss = vsz = 0
        if t.mm:
            dtask = Object(prog.drgn, task_t, t.address)
            try:
                info = task_rss(dtask)          # get_mm_rss(): file + anon + shmem pages
                rss = info.file + info.anon + info.shmem
                vsz = dtask.mm.total_vm.value_()
            except Exception:      # an unreadable mm: nothing counted, as crash shows 0
                rss = vsz = 0
        rows.append(PsRow(t, t.address in active, t.state_code, round(100.0 * rss / total, 1),
                          vsz * PAGE_SIZE // 1024, rss * PAGE_SIZE // 1024))
    return rows


@dataclass(frozen=True)
class Vma:
    """One ``struct vm_area_struct`` of a task's address space (crash's ``vm`` line)."""

    address: int
    start: int
    end: int
    flags: int
    file: str          # the mapped file's path, "" for anonymous memory


@_faults
def address_space(prog: "LinuxProgram", task: "Task") -> Tuple[int, int, int, List[Vma]]:
    """(virtual address of the PGD, RSS in KiB, total_vm in KiB, the VMAs) of ``task``'s mm, the
    VMAs from 6.1's maple tree (drgn's ``for_each_vma``), each file by ``d_path``."""
    from drgn import Object
    from drgn.helpers.linux.fs import d_path
    from drgn.helpers.linux.mm import for_each_vma, task_rss

    if not task.mm:
        return 0, 0, 0, []
    t = Object(prog.drgn, "struct task_struct *", task.address)
    mm = t.mm
    rss = task_rss(t)
    vmas = []
    for v in for_each_vma(mm):
        path = ""
        if v.vm_file:
            try:
                path = d_path(v.vm_file.f_path).decode(errors="replace")
            except Exception:        # an unreadable dentry: the file is left unnamed
                path = ""
        vmas.append(Vma(v.value_(), v.vm_start.value_(), v.vm_end.value_(), v.vm_flags.value_(), path))
    return (mm.pgd.value_(), (rss.file + rss.anon + rss.shmem) * PAGE_SIZE // 1024,
            mm.total_vm.value_() * PAGE_SIZE // 1024, vmas)


# ---------------------------------------------------------------------------- sys
def uptime(prog: "LinuxProgram") -> Optional[float]:
    """Seconds since boot: the timekeeper's monotonic clock at its last update."""
    try:
        return prog.drgn["tk_core"].timekeeper.tkr_mono.base.value_() / 1e9
    except Exception:
        return None


def memory_bytes(prog: "LinuxProgram") -> int:
    """The memory crash's ``sys`` shows: every node's present pages."""
    from drgn.helpers.linux.nodemask import for_each_online_node

    try:
        nodes = prog.drgn["node_data"]
        pages = sum(nodes[n].node_present_pages.value_() for n in for_each_online_node(prog.drgn))
    except Exception:
        pages = prog.drgn["max_pfn"].value_()
    return pages * PAGE_SIZE


def load_average(prog: "LinuxProgram") -> Optional[Tuple[str, str, str]]:
    """``avenrun[]`` as crash (and /proc/loadavg) prints it: ``0.16`` (fixed point, FSHIFT 11)."""
    try:
        vals = [v.value_() for v in prog.drgn["avenrun"]]
    except Exception:
        return None
    return format_load(vals[0], vals[1], vals[2])


def format_load(*avenrun: int) -> Tuple[str, str, str]:
    """``avenrun[]``'s fixed-point values (FSHIFT 11) as crash prints them, rounded to the
    hundredth as crash and /proc/loadavg round (pure).

    >>> format_load(328, 68, 22)
    ('0.16', '0.03', '0.01')
    """
    out = []
    for v in avenrun[:3]:
        v += (1 << 11) // 200
        out.append(f"{v >> 11}.{((v & 2047) * 100) >> 11:02d}")
    return (out[0], out[1], out[2])


def cpu_mhz(prog: "LinuxProgram") -> Optional[int]:
    try:
        return prog.drgn["cpu_khz"].value_() // 1000
    except Exception:
        return None


# ---------------------------------------------------------------------------- bt
# crash's names of the x86-64 exception stacks (cea_exception_stacks' members, 5.x+)
EXCEPTION_STACKS = {"DF_stack": "DOUBLEFAULT", "NMI_stack": "NMI", "DB_stack": "DEBUG", "MCE_stack": "MCE",
                    "VC_stack": "VC", "VC2_stack": "VC2"}


def _stack_name(prog: "LinuxProgram", sp: int, task: "Task", cpu: Optional[int]) -> Optional[str]:
    """Which stack ``sp`` is on when it is not the task's own, as crash's ``--- <...> ---`` names
    it: one of the CPU's exception stacks (``NMI exception stack``), else its ``IRQ stack``."""
    if task.stack <= sp < task.stack + THREAD_SIZE:
        return None
    if CPU_ENTRY_AREA[0] <= sp < CPU_ENTRY_AREA[1] and cpu is not None:
        import drgn
        from drgn.helpers.linux.percpu import per_cpu

        try:
            stacks = per_cpu(prog.drgn["cea_exception_stacks"], cpu)
            for member, name in EXCEPTION_STACKS.items():
                region = getattr(stacks, member)
                low = region.address_of_().value_()
                if low <= sp < low + drgn.sizeof(region.type_):
                    return f"{name} exception stack"
        except (LookupError, AttributeError, drgn.FaultError):
            pass
        return "exception stack"
    return "IRQ stack"


def _pt_regs(prog: "LinuxProgram", near: int, regs: Dict[str, int]) -> Optional[Tuple[int, RegisterSet]]:
    """The ``struct pt_regs`` an entry saved, found where the entry frame's stack pointer is
    (and a word either side), checked against the registers drgn's ORC unwinder took from it."""
    for addr in (near, near - 8, near + 8):
        try:
            data = prog.read(addr, PT_REGS_SIZE)
        except ReadError:
            continue
        r = RegisterSet.from_pt_regs_bytes(data)
        if r.rip == regs.get("rip") and r.rsp == regs.get("rsp"):
            return addr, r
    return None


def _unwind_from(prog: "LinuxProgram", pc: int, slot: int) -> List[Any]:
    """drgn's ORC unwind from a return address ``pc`` found at stack ``slot`` (no inlined frames)."""
    import drgn

    regs = drgn.Object(prog.drgn, "struct pt_regs", value={"ip": pc, "sp": slot + 8, "cs": 0x10})
    try:
        return [f for f in prog.drgn.stack_trace(regs) if not f.is_inline]
    except (drgn.FaultError, ValueError, LookupError):
        return []


def _scan(prog: "LinuxProgram", high: int, low: int, function: str) -> List[Tuple[int, int]]:
    """(slot, value) of each word in [low, high), from the top down, that points into ``function``."""
    k = prog.symbols.get(function)
    if k is None or not k.size:
        return []
    out = []
    for slot in range(high - 8, low - 8, -8):
        try:
            v = prog.read_u64(slot)
        except ReadError:
            break
        if k.address < v < k.address + k.size:
            out.append((slot, v))
    return out


def _nmi_stack(prog: "LinuxProgram", cpu: int) -> Optional[Tuple[int, int]]:
    """[low, high) of CPU ``cpu``'s NMI stack (``cea_exception_stacks->NMI_stack``)."""
    import drgn
    from drgn.helpers.linux.percpu import per_cpu

    try:
        nmi = per_cpu(prog.drgn["cea_exception_stacks"], cpu).NMI_stack
        low = nmi.address_of_().value_()
        return low, low + drgn.sizeof(nmi.type_)
    except (LookupError, drgn.FaultError, ValueError):
        return None


def _crash_start(prog: "LinuxProgram", frames: List[Any], cpu: int) -> Optional[List[Any]]:
    """Where the CPU really was last, as crash 8 starts its ``bt`` on a kdump.

    The registers in a CPU's NT_PRSTATUS note are not where it stopped.  The panicking CPU saved
    them in ``crash_setup_regs()`` inside ``__crash_kexec()``, which then called ``machine_kexec()``
    and left through a call that never returned; every other CPU saved the registers its NMI
    interrupted (``crash_nmi_callback()`` on the NMI stack) and then halted in that callback.  The
    return address into ``machine_kexec`` (below the saved RSP) or into ``crash_nmi_callback`` (on
    the CPU's NMI stack) is found, drgn's ORC unwinder is started there, and its trace is kept only
    when it comes back to exactly the frames the saved registers give (same PCs, same stack)."""
    if not frames:
        return None
    same = [(f.pc, f.sp) for f in frames]
    if frames[0].name in ("__crash_kexec", "crash_setup_regs"):
        rsp = frames[0].sp
        for slot, v in _scan(prog, rsp, rsp - 0x400, "machine_kexec")[:1]:
            trace = _unwind_from(prog, v, slot)
            if len(trace) > 2 and trace[1].name == "__crash_kexec" and [(f.pc, f.sp) for f in trace[2:]] == same[1:]:
                return trace
        return None
    # an oops that went to kdump from oops_end(): crash_kexec(regs) saved the registers of the fault
    # (the exception RIP), and the CPU went on below them, down to machine_kexec
    rsp = frames[0].sp
    for slot, v in _scan(prog, rsp, rsp - 0x1000, "machine_kexec")[:2]:
        trace = _unwind_from(prog, v, slot)
        if (len(trace) > len(frames) and trace[1].name == "__crash_kexec"
                and [(f.pc, f.sp) for f in trace[-len(frames):]] == same):
            return trace
    region = _nmi_stack(prog, cpu)
    if region is None:
        return None
    for slot, v in _scan(prog, region[1], region[0], "crash_nmi_callback")[:4]:
        trace = _unwind_from(prog, v, slot)
        if len(trace) > len(frames) and [(f.pc, f.sp) for f in trace[-len(frames):]] == same:
            return trace
    return None


@_faults
def backtrace(prog: "LinuxProgram", task: "Task", cpu: Optional[int] = None,
              crash_start: bool = True) -> "Backtrace":
    """``task``'s stack unwound by drgn with the kernel's ORC tables: one :class:`Frame` per
    real frame (inlined functions are folded into the function whose code it is, as crash
    shows them), named by the symbol the PC is in (``__handle_sysrq.cold``); ``sp`` is the
    slot holding the return address, the stack pointer itself for an interrupted frame.
    On a dump each CPU starts where it stopped, as crash 8 starts it: the panicking one in
    ``machine_kexec``, the others in ``crash_nmi_callback`` on their NMI stacks (checked by the
    ORC unwinder, see :func:`_crash_start`); ``crash_start=False`` starts at the saved
    registers, as drgn and gdb do."""
    import drgn

    from kpanic_lab.analysis.stack import Backtrace, ExceptionFrame, Frame

    if cpu is None:
        cpu = next((c for c, a in active_tasks(prog).items() if a == task.address), None)
    bt = Backtrace(task, cpu, prog.target.cpu_registers(cpu) if cpu is not None else None)
    try:
        trace = prog.drgn.stack_trace(drgn.Object(prog.drgn, "struct task_struct *", task.address))
    except (drgn.FaultError, ValueError, LookupError) as e:
        bt.error = f"cannot unwind the stack of pid {task.pid}: {e}"
        return bt
    frames = [f for f in trace if not f.is_inline]
    from_kexec = None
    if crash_start and prog.target.kind == "dump" and cpu is not None:
        from_kexec = _crash_start(prog, frames, cpu)
        frames = from_kexec or frames
    out: List[Any] = []
    switch: Optional[str] = None
    for i, f in enumerate(frames):
        pc, sp = f.pc, f.sp
        if pc < 0xFFFF800000000000:              # user mode: the registers the syscall entry saved
            regs = f.registers()
            prev = out[-1] if out else None
            found = _pt_regs(prog, frames[i - 1].sp, regs) if i else None
            if prev is not None and found is not None:
                out[-1] = Frame(prev.level, prev.sp, prev.pc, prev.function, prev.offset,
                                exception=ExceptionFrame(found[0], found[1]), stack_switch=prev.stack_switch)
            elif found is None:
                bt.error = "the user-mode registers the entry saved were not found on the stack"
            break
        loc = prog.symbols.lookup(pc)
        name, off = (loc.symbol.name, loc.offset) if loc else (None, 0)
        # the slot of the return address; an interrupted frame's own stack pointer (but machine_kexec's
        # frame, started from a return address found on the stack, is a return address too)
        slot = sp if f.interrupted and not (i == 0 and from_kexec) else sp - 8
        if f.interrupted and out:                # the registers an exception saved: shown on the entry frame
            prev = out[-1]
            found = _pt_regs(prog, frames[i - 1].sp, f.registers())
            exc = ExceptionFrame(found[0], found[1]) if found else None
            out[-1] = Frame(prev.level, prev.sp, prev.pc, prev.function, prev.offset, exception=exc,
                            stack_switch=prev.stack_switch)
            here = _stack_name(prog, frames[i - 1].sp, task, cpu)
            there = _stack_name(prog, sp, task, cpu)
            switch = here if here != there else None
            if switch is None and exc is not None:
                continue        # same stack: crash names the function only in [exception RIP: ...]
        out.append(Frame(len(out), slot, pc, name, off, stack_switch=switch))
        switch = None
    bt.frames = out
    return bt
