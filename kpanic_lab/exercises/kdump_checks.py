"""Exercises 4-6: size crashkernel=, choose a dump level, fix a broken kdump.conf.

Each check runs a whole kdump cycle (boot with ``crashkernel=``, ``kexec -p``, SysRq-c, the
capture kernel, makedumpfile) with the student's answer and reports what the guest and
kdumpctl said, as they said it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from kpanic_lab.dumplevel import dump_level_legend
from kpanic_lab.exercises.feedback import ExerciseFailed, Feedback, require
from kpanic_lab.i18n import _
from kpanic_lab.kdump.config import KdumpConfError, parse_kdump_conf
from kpanic_lab.kdump.crashkernel import CrashkernelError, parse_crashkernel_value
from kpanic_lab.kdump.run import KdumpResult, KdumpRun

MEMORY = "256M"
MIB = 1 << 20
#: exercise 4: the most a 256 MiB machine should give away to a capture kernel
CRASHKERNEL_LIMIT = 64 * MIB
#: exercise 5: the size budget for the vmcore of a 256 MiB machine (with -l only levels that drop free
#: pages, page cache and user data fit: -d 31 -l is about 1.1 MiB, -d 24 -l 1.5 MiB)
DUMP_BUDGET = 5 * MIB // 4

#: exercise 6: the kdump.conf the student is given (each line is wrong in a way kdumpctl or the
#: capture kernel reports)
BROKEN_KDUMP_CONF = """\
# /etc/kdump.conf: save the vmcore on the backup server
ssh kdump@192.168.122.1
sshkey /root/.ssh/kdump_id_rsa
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
dump_level 31
failure_action reboot
"""


def _capture_error(r: KdumpResult) -> str:
    """The line that says why the capture failed: the capture kernel's panic, or kdump's own."""
    for line in r.capture_console.splitlines():
        if "Kernel panic" in line or "Out of memory" in line or "Failed to allocate" in line:
            return line.strip()
    if r.outcome is not None and r.outcome.status != "saved":
        return "; ".join(r.outcome.messages[-2:]) or str(r.outcome.error)
    if not r.capture_console:
        return _("no capture kernel ran ({end}); kexec said: {out}").format(
            end=r.end, out=r.kexec_output.strip() or "-")
    return r.end


# ------------------------------------------------------------------ exercise 4
def check_crashkernel(size: str) -> Feedback:
    """Exercise 4: a ``crashkernel=`` size for a 2-CPU, 256 MiB machine whose capture kernel
    saves a ``-d 31`` dump: big enough to capture, no more than 64 MiB."""
    ex = _("Exercise 4 (size crashkernel=)")
    require(ex, size=size)
    try:
        ck = parse_crashkernel_value(str(size), 256 * MIB)
    except CrashkernelError as e:
        raise ExerciseFailed(ex, [_("crashkernel={size}: {why}").format(size=size, why=e)]) from None
    if ck.size > CRASHKERNEL_LIMIT:
        raise ExerciseFailed(ex, [_("crashkernel={size} takes {mib} MiB of 256: the first kernel loses it "
                                    "for good; at most 64 MiB here").format(size=size, mib=ck.size // MIB)],
                             [_("halve it until the capture fails, then take the last size that worked")])
    r = KdumpRun("sysrq-c", memory=MEMORY, crashkernel=str(size)).run()
    if r.outcome is None or r.outcome.status != "saved":
        raise ExerciseFailed(ex, [_("crashkernel={size} is too small: {line}").format(
            size=size, line=_capture_error(r))],
            [_("the capture kernel needs room for itself, its initramfs and the memory makedumpfile uses; "
               "read the 'Memory:' line of the capture console")])
    mem = next((l.strip() for l in r.capture_console.splitlines() if "Memory:" in l), "")
    return Feedback(ex, [_("crashkernel={size}: the capture kernel booted and saved the dump").format(size=size),
                         mem])


# ------------------------------------------------------------------ exercise 5
@dataclass
class DumpCheck:
    size: int
    ps_lines: int
    log_lines: int
    vmcore: str


def check_core_collector(core_collector: str) -> Feedback:
    """Exercise 5: a ``core_collector`` line whose vmcore fits 1.25 MiB while ``ps`` and ``log``
    still work on it."""
    ex = _("Exercise 5 (choose a dump level)")
    require(ex, core_collector=core_collector)
    conf_text = f"core_collector {core_collector}\n"
    try:
        parse_kdump_conf(conf_text)
    except KdumpConfError as e:
        raise ExerciseFailed(ex, [str(e)]) from None
    r = KdumpRun("sysrq-c", memory=MEMORY, kdump_conf=conf_text).run()
    if r.outcome is None or r.outcome.vmcore is None:
        raise ExerciseFailed(ex, [_("no vmcore: {line}").format(line=_capture_error(r))])
    from kpanic_lab.crash.session import CrashSession

    size = os.path.getsize(r.outcome.vmcore)
    s = CrashSession.open(r.outcome.vmcore)
    problems: List[str] = []
    ps, log = s.run("ps"), s.run("log")
    if len(ps.splitlines()) < 3:
        problems.append(_("ps on the dump shows no tasks"))
    if "Kernel panic" not in log:
        problems.append(_("log on the dump does not show the panic"))
    if size > DUMP_BUDGET:
        problems.append(_("the vmcore is {kib} KiB; the budget is {budget} KiB").format(
            kib=size // 1024, budget=DUMP_BUDGET // 1024))
    if problems:
        raise ExerciseFailed(ex, problems, [
            _("-d is a bitmask: {bits}").format(bits=dump_level_legend()),
            _("compare the sizes of a few levels with kpanic-lab makedumpfile -d N on one ELF dump")])
    return Feedback(ex, [_("{kib} KiB, within {budget} KiB; ps lists {n} tasks and log has the panic").format(
        kib=size // 1024, budget=DUMP_BUDGET // 1024, n=len(ps.splitlines()) - 1)])


# ------------------------------------------------------------------ exercise 6
def check_kdump_conf(text: str) -> Feedback:
    """Exercise 6: a fixed version of BROKEN_KDUMP_CONF that still sends the dump over ssh:
    kdumpctl accepts it and the capture kernel saves the vmcore on the server."""
    ex = _("Exercise 6 (fix a broken kdump.conf)")
    require(ex, text=text)
    try:
        conf = parse_kdump_conf(str(text))
    except KdumpConfError as e:
        raise ExerciseFailed(ex, [_("kdumpctl: {msg}").format(msg=e)],
                             [_("kdumpctl stops at the first error: fix that line and run again")]) from None
    if conf.target_type != "ssh":
        raise ExerciseFailed(ex, [_("the dump must still go to the backup server (an ssh target), not {t}").format(
            t=conf.target_type or _("the local root file system"))])
    r = KdumpRun("sysrq-c", memory=MEMORY, kdump_conf=str(text)).run()
    msgs = r.outcome.messages if r.outcome is not None else []
    if r.outcome is None or r.outcome.status != "saved":
        raise ExerciseFailed(ex, [_("the capture did not save a vmcore: {line}").format(line=_capture_error(r))]
                             + msgs[-3:])
    return Feedback(ex, [_("kdumpctl accepted it; the capture kernel said:")] + msgs[-3:])


def broken_kdump_conf_errors(text: Optional[str] = None) -> str:
    """What kdumpctl says about a kdump.conf (BROKEN_KDUMP_CONF by default): its first error, or ''."""
    try:
        parse_kdump_conf(BROKEN_KDUMP_CONF if text is None else text)
    except KdumpConfError as e:
        return str(e)
    return ""
