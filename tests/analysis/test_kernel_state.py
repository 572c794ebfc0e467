"""Helpers that read the kernel's state: the log, tasks, modules, memory, lists, sys -
checked against what the guest itself says (its console, ps, /proc)."""
from __future__ import annotations

import pytest

from kpanic_lab.analysis import kmem, lists, modules, printk, system, tasks
from tests.analysis.conftest import PANIC_SCENARIOS, console_kernel_lines, require_image


# ---------------------------------------------------------------------------- the log
# (the ring's parsers on literals: tests/formats/test_printk.py)
@pytest.mark.parametrize("scenario", PANIC_SCENARIOS + ["oops"])
def test_log_equals_the_console(live, scenario):
    prog, target = live(scenario)
    console = console_kernel_lines(target.machine.console_lines)
    assert printk.log_lines(printk.kernel_log(prog)) == console


def test_panic_message(live):
    prog, _ = live("sysrq-c")
    assert printk.kernel_panic_message(prog) == "Kernel panic - not syncing: sysrq triggered crash"
    prog, _ = live("oops-panic")
    assert printk.kernel_panic_message(prog) == "Kernel panic - not syncing: Fatal exception"


# ---------------------------------------------------------------------------- a live guest
@pytest.fixture(scope="module")
def guest():
    """A booted machine with null_deref loaded, and what its own tools print."""
    require_image()
    from kpanic_lab.analysis import LiveTarget, Program
    from kpanic_lab.machine import Machine

    m = Machine(cpus=2, memory="256M")
    assert m.boot().reason == "prompt"
    m.run_command("insmod null_deref")
    said = {cmd: m.run_command(cmd) for cmd in ("cat /proc/modules", "cat /proc/meminfo", "ps")}
    return Program(LiveTarget(m)), said


@pytest.mark.slow
def test_ps_lists_the_guests_tasks(guest):
    prog, said = guest
    theirs = []
    for line in said["ps"].splitlines()[1:]:
        pid, ppid, stat, comm = line.split()
        if stat != "R":                      # ps itself, gone by now
            theirs.append((int(pid), int(ppid), {"S": "IN", "D": "UN", "Z": "ZO"}.get(stat, stat), comm))
    rows = tasks.ps(prog)
    ours = [(r.task.pid, r.task.ppid, r.state, r.task.comm) for r in rows if r.task.pid]
    assert ours == theirs
    idle = [r.task.comm for r in rows if r.task.pid == 0]
    assert idle == ["swapper/0", "swapper/1"]
    assert all(r.rss_kb > 0 for r in rows if r.task.mm)


@pytest.mark.slow
def test_mod_lists_the_loaded_modules(guest):
    prog, said = guest
    # "null_deref 4096 0 - Live 0xffffffff81017000 (OE)"
    name, size, refs, _, state, base, flags = said["cat /proc/modules"].split()
    [m] = modules.loaded_modules(prog)
    assert (m.name, m.size, m.refcnt, m.base, m.flags) == (name, int(size), int(refs), int(base, 16), flags)
    assert m.state == "MODULE_STATE_LIVE"
    assert modules.find_module(prog, "null_deref") == m


@pytest.mark.slow
def test_kmem_agrees_with_proc_meminfo(guest):
    prog, said = guest
    info = dict(line.split(":") for line in said["cat /proc/meminfo"].splitlines())
    kb = {k: int(v.split()[0]) for k, v in info.items() if v.strip().endswith("kB")}
    mi = kmem.memory_info(prog)
    assert mi.total_pages * 4 == kb["MemTotal"]
    assert abs(mi.free_pages * 4 - kb["MemFree"]) <= 64 * 4      # cat ran and exited since
    assert mi.free_pages + mi.used_pages == mi.total_pages
    assert mi.cached_pages + mi.buffer_pages == kb["Cached"] // 4


@pytest.mark.slow
def test_list_walks_the_task_list(guest):
    prog, _ = guest
    off = prog.offsetof("task_struct", "tasks")
    init = prog.address_of("init_task")
    walk = lists.walk_list(prog, init, "task_struct.tasks", mode="h")
    assert walk.error is None
    assert walk.entries == [t.address for t in tasks.list_tasks(prog)]
    head = lists.walk_list(prog, init + off, 0, mode="H")
    assert [e + 0 for e in head.entries] == [e + off for e in walk.entries[1:]]
    plain = lists.walk_list(prog, init + off, 0)                   # next pointers to next "structures"
    assert plain.entries == [init + off] + head.entries


def test_system_info(live):
    prog, target = live("sysrq-c")
    info = system.system_info(prog)
    assert info.cpus == 2 and info.panic_cpu == 1
    assert info.release == "6.1.0-kpanic" and info.version.startswith("#1 SMP")
    assert info.tasks == len(tasks.all_tasks(prog)) == 5
    assert info.panic == "Kernel panic - not syncing: sysrq triggered crash"
    assert info.memory_bytes == 256 << 20
    assert system.format_memory(info.memory_bytes) == "256 MB"
    assert system.format_uptime(4) == "00:00:04"
    assert system.format_uptime(2 * 86400 + 3661) == "2 days, 01:01:01"
