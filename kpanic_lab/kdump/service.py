"""The lab's kdump service: the host side of the guest's `kexec` and `kdump` programs.

A real system runs kexec-tools and the kdump collector as user programs.  In the
lab the guest runs small programs with the same names, which hand the work to
Python through the machine's tool port (hw.h LAB_OP_TOOL): ``install(machine)``
registers the tools on a machine.  What `kexec -p` loaded (the plan: purgatory, the segments,
the capture kernel's command line) goes to whoever asked for it with ``on_load``:
``KdumpRun`` keeps it as ``kexec_plan``.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from kpanic_lab.errors import ToolFailed
from kpanic_lab.kdump.kexec import DEFAULT_APPEND, KexecError, KexecPlan, plan_crash_load
from kpanic_lab.machine import Machine, ToolRequest

OnLoad = Callable[[KexecPlan], None]


def _crash_notes(request: ToolRequest) -> List[Tuple[int, int]]:
    notes = []
    for cpu in range(8):
        path = f"/sys/devices/system/cpu/cpu{cpu}/crash_notes"
        if path not in request.files:
            break
        size = request.files.get(path + "_size", b"368").decode().strip() or "368"
        notes.append((int(request.text(path).strip(), 16), int(size)))
    return notes


def kexec_tool(machine: Machine, cpu: int, request: ToolRequest, reply_at: int,
               on_load: Optional[OnLoad] = None) -> bytes:
    """`kexec -p [--append=...]` / `kexec -p -u`: build the segments for kexec_load(2), and
    tell ``on_load`` the plan."""
    args = request.args
    if "-p" not in args and "--load-panic" not in args:
        raise ToolFailed("kexec: the lab's kexec loads crash kernels only: use kexec -p", 22)
    if "-u" in args or "--unload" in args:
        return b"\0" * 16
    append = DEFAULT_APPEND
    for a in args:
        if a.startswith("--append="):
            append = a.split("=", 1)[1]
        elif a.startswith("--command-line="):
            append = a.split("=", 1)[1]
    try:
        plan = plan_crash_load(machine.image, request.text("/proc/iomem"), request.text("/proc/cmdline"),
                               request.text("/sys/kernel/vmcoreinfo"), _crash_notes(request),
                               len(machine.cpus), append)
    except KexecError as e:
        raise ToolFailed(str(e), 99) from None
    machine.watch_hlt(plan.hlt_sites)    # code outside the kernel image that may halt
    if on_load is not None:
        on_load(plan)
    return plan.reply(reply_at)


def install(machine: Machine, on_load: Optional[OnLoad] = None) -> None:
    """Give the machine's guest its kexec; ``on_load`` is told each plan `kexec -p` loads.

    >>> plans = []                                    # doctest: +SKIP
    >>> install(machine, on_load=plans.append); machine.run_command("kexec -p")   # doctest: +SKIP
    >>> plans[-1].cmdline                             # doctest: +SKIP
    """
    def kexec(m: Machine, cpu: int, request: ToolRequest, reply_at: int) -> bytes:
        return kexec_tool(m, cpu, request, reply_at, on_load)

    machine.host_tools["kexec"] = kexec
