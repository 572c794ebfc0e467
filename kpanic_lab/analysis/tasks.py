"""Tasks: every ``task_struct``, which ones were running, and crash's ``ps`` facts.

Tasks are found as crash finds them: the list that starts at ``init_task.tasks``, plus
each CPU's idle task (``pcpu_data[cpu].idle``, "swapper/N", pid 0, not on the list).
A task is *active* when it is some CPU's ``current_task``; ``ps`` marks it with ``>``.

>>> [t.comm for t in all_tasks(prog)]                  # doctest: +SKIP
['swapper/0', 'swapper/1', 'init', 'sh', 'sh']
>>> task_state_code(0, 0x20)
'ZO'
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from kpanic_lab.analysis.errors import AnalysisError, MemoryFault, NotFound, ReadError
from kpanic_lab.analysis.mm import user_pages

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE = 0x0, 0x1, 0x2
TASK_STOPPED, TASK_TRACED = 0x4, 0x8
EXIT_DEAD, EXIT_ZOMBIE, TASK_DEAD = 0x10, 0x20, 0x80
TASK_PARKED, TASK_WAKING, TASK_NOLOAD, TASK_NEW = 0x40, 0x200, 0x400, 0x800   # Linux 6.1 (the guest has none)
PF_KTHREAD = 0x00200000
_FIELDS = ("__state", "stack", "flags", "cpu", "mm", "exit_state", "pid", "real_parent", "comm", "tasks")


@dataclass(frozen=True)
class Task:
    """One task_struct, read once: the facts ``ps``, ``bt`` and ``set`` need."""

    address: int
    pid: int
    ppid: int
    cpu: int
    state: int            # __state
    exit_state: int
    flags: int
    comm: str
    stack: int            # base of its THREAD_SIZE kernel stack
    mm: int               # struct mm_struct * (0 for kernel threads)

    @property
    def is_kernel_thread(self) -> bool:
        return bool(self.flags & PF_KTHREAD) or self.mm == 0

    @property
    def state_code(self) -> str:
        return task_state_code(self.state, self.exit_state)


def task_state_code(state: int, exit_state: int) -> str:
    """crash's two-letter state: RU IN UN ID ZO ST TR DE PA WA NE (pure).  ID is TASK_IDLE
    (uninterruptible but not counted in the load: Linux's idle kworkers), as crash 8 prints it.

    >>> task_state_code(0x402, 0), task_state_code(0x2, 0), task_state_code(0x40, 0)
    ('ID', 'UN', 'PA')
    """
    if exit_state & EXIT_ZOMBIE:
        return "ZO"
    if exit_state & EXIT_DEAD or state & TASK_DEAD:
        return "DE"
    if state == TASK_RUNNING:
        return "RU"
    if state & TASK_INTERRUPTIBLE:
        return "IN"
    if state & TASK_UNINTERRUPTIBLE:
        return "ID" if state & TASK_NOLOAD else "UN"
    if state & TASK_STOPPED:
        return "ST"
    if state & TASK_TRACED:
        return "TR"
    for bit, code in ((TASK_PARKED, "PA"), (TASK_WAKING, "WA"), (TASK_NEW, "NE")):
        if state & bit:
            return code
    return "??"


def _offsets(prog: "Program") -> Tuple[int, Dict[str, int]]:
    if "task_offsets" not in prog.cache:
        t = prog.type("struct task_struct")
        # Linux 5.16+ keeps a task's CPU in its thread_info (the guest in task_struct)
        where = {f: ("thread_info.cpu" if f == "cpu" and not t.has_member("cpu") else f) for f in _FIELDS}
        offsets = {f: t.member(where[f]).offset for f in _FIELDS}
        # only the span the fields lie in: Linux's task_struct is 3 pages whose last one (thread_struct)
        # may be excluded from a dump, and ps needs none of it
        prog.cache["task_offsets"] = (max(offsets.values()) + 16, offsets)
    return prog.cache["task_offsets"]


def read_task(prog: "Program", address: int) -> Task:
    """The task_struct at ``address`` (ReadError when the fields ``ps`` needs cannot be read)."""
    size, o = _offsets(prog)
    b = prog.read(address, size)

    def q(f: str) -> int:
        return struct.unpack_from("<Q", b, o[f])[0]

    def i(f: str) -> int:
        return struct.unpack_from("<i", b, o[f])[0]

    parent = q("real_parent")
    ppid = 0
    if parent and parent != address and i("pid") != 0:     # an idle task's parent is shown as 0, as crash does
        try:
            ppid = prog.read_s32(parent + o["pid"])
        except ReadError:
            ppid = 0
    comm = b[o["comm"]:o["comm"] + 16].split(b"\0", 1)[0].decode("utf-8", "replace")
    return Task(address, i("pid"), ppid, i("cpu"), struct.unpack_from("<q", b, o["__state"])[0],
                i("exit_state"), struct.unpack_from("<I", b, o["flags"])[0], comm, q("stack"), q("mm"))


def cpu_count(prog: "Program") -> int:
    return prog.target.cpu_count


def per_cpu(prog: "Program", cpu: int, member: str) -> int:
    """``pcpu_data[cpu].member`` as an unsigned long (pointers and counters)."""
    t = prog.type("struct pcpu")
    m = t.member(member)
    addr = prog.address_of("pcpu_data") + cpu * t.byte_size + m.offset
    data = prog.read(addr, m.type.byte_size)
    return int.from_bytes(data, "little", signed=m.type.strip().signed)


def idle_tasks(prog: "Program") -> List[Task]:
    """Each CPU's idle task ("swapper/N"), in CPU order."""
    if prog.linux:
        from kpanic_lab.analysis import linux

        return linux.idle_tasks(prog)  # type: ignore[arg-type]
    out = []
    for cpu in range(cpu_count(prog)):
        addr = per_cpu(prog, cpu, "idle") or (prog.address_of("init_task") if cpu == 0 else 0)
        if addr:
            out.append(read_task(prog, addr))
    return out


def list_tasks(prog: "Program") -> List[Task]:
    """The tasks on ``init_task.tasks`` (init_task itself first)."""
    _, o = _offsets(prog)
    size = prog.sizeof("struct task_struct")
    head = prog.address_of("init_task")
    out = [read_task(prog, head)]
    node = prog.read_u64(head + o["tasks"])
    most = max(1, min(100_000, prog.target.memory_size // max(size, 1)))   # what memory can hold
    seen = {head + o["tasks"]}
    while node != head + o["tasks"]:
        if node in seen or len(out) >= most:
            raise AnalysisError(f"init_task.tasks: the list loops back to {node:x} after {len(out)} "
                                "tasks without coming back to init_task (a corrupted task list)")
        seen.add(node)
        out.append(read_task(prog, node - o["tasks"]))
        node = prog.read_u64(node)
    return out


def all_tasks(prog: "Program") -> List[Task]:
    """Every task once: idle tasks by CPU, then the task list, sorted as ``ps`` sorts them."""
    seen: Dict[int, Task] = {}
    for t in idle_tasks(prog) + list_tasks(prog):
        seen.setdefault(t.address, t)
    return sorted(seen.values(), key=lambda t: (t.pid, t.cpu if t.pid == 0 else 0, t.address))


def active_tasks(prog: "Program") -> Dict[int, int]:
    """CPU -> address of the task it was running (``pcpu_data[cpu].current_task``)."""
    if prog.linux:
        from kpanic_lab.analysis import linux

        return dict(linux.active_tasks(prog))  # type: ignore[arg-type]
    out = {}
    for cpu in range(cpu_count(prog)):
        cur = per_cpu(prog, cpu, "current_task")
        if cur:
            out[cpu] = cur
    return out


def panic_cpu(prog: "Program") -> Optional[int]:
    """The CPU that ran panic() (the kernel's ``panic_cpu``), None if nobody panicked."""
    v = prog.read_s32(prog.address_of("panic_cpu"))
    return v if v >= 0 else None


def find_task(prog: "Program", key: int) -> Task:
    """A task by PID or by task_struct address (NotFound otherwise).  PID 0 means the
    idle task of the panic CPU, or CPU 0."""
    tasks = all_tasks(prog)
    for t in tasks:
        if t.address == key:
            return t
    matches = [t for t in tasks if t.pid == key]
    if not matches:
        raise NotFound(f"no task with pid or address {key if key < 1 << 32 else hex(key)}")
    if len(matches) > 1:
        cpu = panic_cpu(prog)
        for t in matches:
            if t.cpu == (cpu or 0):
                return t
    return matches[0]


def task_on_cpu(prog: "Program", cpu: int) -> Task:
    """The task CPU ``cpu`` was running (its idle task if none is recorded)."""
    cur = active_tasks(prog).get(cpu)
    if cur:
        return read_task(prog, cur)
    for t in idle_tasks(prog):
        if t.cpu == cpu:
            return t
    raise NotFound(f"no task known on CPU {cpu}")


# ---------------------------------------------------------------------------- memory use
@dataclass(frozen=True)
class PsRow:
    """One line of ``ps``: the task, whether it was running, its state and memory use."""

    task: Task
    active: bool
    state: str
    mem_percent: float
    vsz_kb: int
    rss_kb: int


def ps(prog: "Program") -> List[PsRow]:
    """``ps``: every task with its state, and memory use from its page tables.

    The guest maps every user page when it is mapped (no demand paging), so the
    virtual size (VSZ) and the resident set (RSS) are the same pages here."""
    if prog.linux:
        from kpanic_lab.analysis import linux

        return linux.ps_rows(prog, all_tasks(prog))  # type: ignore[arg-type]
    active = set(active_tasks(prog).values())
    total = prog.read_u64(prog.address_of("totalram_pages")) or 1
    pgd_off = prog.offsetof("mm_struct", "pgd")
    rows = []
    for t in all_tasks(prog):
        pages = 0
        if t.mm:
            try:
                pages = user_pages(prog, prog.read_u64(t.mm + pgd_off))
            except (AnalysisError, MemoryFault):     # unreadable or corrupted page tables: no pages counted
                pages = 0
        rows.append(PsRow(t, t.address in active, t.state_code, round(100.0 * pages / total, 1),
                          pages * 4, pages * 4))
    return rows
