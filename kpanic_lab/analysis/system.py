"""The machine at a glance (crash's ``sys``): kernel, CPUs, uptime, tasks, release, panic.

>>> parse_banner("Linux version 6.1.0-kpanic (kpanic@kpanic_lab) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC kpanic_lab\\n")
('6.1.0-kpanic', '#1 SMP PREEMPT_DYNAMIC kpanic_lab')
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from kpanic_lab.analysis.errors import AnalysisError, ReadError
from kpanic_lab.analysis.printk import kernel_panic_message
from kpanic_lab.analysis.tasks import all_tasks, panic_cpu
from kpanic_lab.guest.headers import PAGE_SIZE

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program


@dataclass(frozen=True)
class SystemInfo:
    kernel: str                 # the vmlinux path
    dumpfile: str               # the dump path, or what the live target is
    partial: bool               # makedumpfile left pages out
    cpus: int
    date: Optional[float]       # seconds since the epoch, None when unknown
    uptime_seconds: Optional[float]
    tasks: int
    nodename: str
    release: str
    version: str
    machine: str
    memory_bytes: int
    panic: str                  # the panic message ('' when there was none)
    panic_cpu: Optional[int]
    labels: Tuple[str, ...] = ()  # TRUNCATED, INCOMPLETE: the dump file is not whole
    load_average: Optional[Tuple[str, str, str]] = None   # avenrun (Linux); the lab kernel keeps none
    mhz: Optional[int] = None                             # MACHINE's "(2594 Mhz)" (Linux's cpu_khz)


def parse_banner(banner: str) -> Tuple[str, str]:
    """(release, version) from ``linux_banner`` (pure): ``Linux version REL (...) (...) VERSION``."""
    m = re.match(r"Linux version (\S+)", banner)
    release = m.group(1) if m else "?"
    v = re.search(r"\)\s+(#.*)$", banner.strip())
    return release, v.group(1) if v else "?"


def _nodename(prog: "Program") -> str:
    for name in ("init_uts_ns", "utsname.0", "utsname"):
        k = prog.symbols.get(name)
        if k is None:
            continue
        try:
            t = prog.type("struct new_utsname")
            off = t.member("nodename").offset
            if name == "init_uts_ns":
                off += prog.type("struct uts_namespace").member("name").offset
            return prog.read_cstring(k.address + off, 65).decode(errors="replace") or "(none)"
        except (AnalysisError, ReadError):
            continue
    return "(none)"


def _uptime(prog: "Program") -> Optional[float]:
    """Seconds since boot, from ``jiffies`` as crash computes it (less INITIAL_JIFFIES)."""
    try:
        from kpanic_lab.guest.headers import header

        hz = header("param.h").get("HZ", 250)
    except OSError:
        hz = 250
    try:
        j = prog.read_u64(prog.address_of("jiffies"))
    except (AnalysisError, ReadError):
        return None
    initial = (-300 * hz) & 0xFFFFFFFF          # INITIAL_JIFFIES, as Linux
    return ((j - initial) & 0xFFFFFFFFFFFFFFFF) / hz


def system_info(prog: "Program") -> SystemInfo:
    """Everything ``sys`` shows."""
    t = prog.target
    banner = prog.read_cstring(prog.address_of("linux_banner"), 512).decode(errors="replace")
    release, version = parse_banner(banner)
    release = t.vmcoreinfo.get("OSRELEASE", release)
    # the kernel's own view (max_pfn), to the MiB: a 1 GiB machine shows "1 GB" whatever
    # the firmware reserved at the top or crashkernel= took
    memory = -(-prog.read_u64(prog.address_of("max_pfn")) * PAGE_SIZE // (1 << 20)) << 20
    uptime, load, mhz = _uptime(prog), None, None
    if prog.linux:      # what crash reads on Linux: present pages, the timekeeper
        from kpanic_lab.analysis import linux

        memory = linux.memory_bytes(prog)  # type: ignore[arg-type]
        uptime = linux.uptime(prog)  # type: ignore[arg-type]
        load, mhz = linux.load_average(prog), linux.cpu_mhz(prog)  # type: ignore[arg-type]
    return SystemInfo(
        kernel=str(prog.image.path), dumpfile=t.description, partial=t.partial, cpus=t.cpu_count,
        date=t.date, uptime_seconds=uptime, tasks=len(all_tasks(prog)), nodename=_nodename(prog),
        release=release, version=version, machine="x86_64", memory_bytes=memory,
        panic=kernel_panic_message(prog) or "", panic_cpu=panic_cpu(prog),
        labels=tuple(getattr(t, "labels", ())), load_average=load, mhz=mhz)


def format_uptime(seconds: float) -> str:
    """``00:00:04`` or ``2 days, 03:04:05``, as crash prints UPTIME (pure)."""
    s = int(seconds)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days} day{'s' if days != 1 else ''}, {text}" if days else text


def format_memory(n: int) -> str:
    """``1 GB``, ``256 MB``: the MEMORY line (pure)."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n // size} {unit}" if n % size == 0 else f"{n / size:.1f} {unit}"
    return f"{n} bytes"
