"""The machine delivers what real x86-64 hardware delivers, checked by a kernel of our own."""
from __future__ import annotations

import pytest

from kpanic_lab.machine import Machine, MachineConfig


def boot_mini(elf, cpus=1, cmdline="console=ttyS0"):
    m = Machine(MachineConfig.create(cpus=cpus, memory="64M", cmdline=cmdline, vmlinux=elf))
    m.power_on()
    r = m.run("halt", max_seconds=30)
    return m, r


def test_every_delivery_path(minikernel):
    m, r = boot_mini(minikernel)
    lines = m.console_lines
    assert lines[:2] == ["mini: hello", "mini: idt loaded"]
    assert "mini: no ticks while IF=0" in lines          # the timer waits for IF=1
    assert "mini: 3 ticks with IF=1" in lines
    assert "mini: int3 ok" in lines
    # a write to an unmapped page: CR2 is the address, error code 2 = write, not present, kernel
    assert "mini: page fault cr2=0x0000000000000010 err=0x0000000000000002" in lines
    assert "mini: nmi ok" in lines
    # two syscalls from ring 3 reached the kernel, and the kernel runs in ring 0 again
    assert "mini: syscalls=0x0000000000000002 cs=0x0000000000000010" in lines
    assert any(line.startswith("mini: ud2 at 0xffffffff8") or line.startswith("ud2 at 0xffffffff8") for line in lines)
    assert lines[-1] == "mini: done"
    assert r.reason == "panic-loop"
    assert m.cpu_views()[0].state == "stopped" and not m.cpu_views()[0].interrupts_enabled


def test_second_cpu_starts_by_startup_ipi(minikernel):
    m, r = boot_mini(minikernel, cpus=2)
    assert "mini: cpu1 up" in m.console_lines
    assert [v.state for v in m.cpu_views()] == ["stopped", "stopped"]


def test_runaway_guest_stops_at_its_budget_and_says_where(minikernel):
    m = Machine(MachineConfig.create(cpus=1, memory="64M", cmdline="spin", vmlinux=minikernel))
    m.power_on()
    from kpanic_lab.machine import BudgetExceeded

    with pytest.raises(BudgetExceeded) as e:
        m.run("halt", max_instructions=20_000_000)
    assert "spin_forever" in str(e.value) and "IF=0" in str(e.value)
    with pytest.raises(BudgetExceeded, match="wall-clock"):
        m.run("halt", max_seconds=0.2)


def test_same_configuration_same_console_and_counts(minikernel):
    a, ra = boot_mini(minikernel, cpus=2)
    b, rb = boot_mini(minikernel, cpus=2)
    assert a.console == b.console
    assert (ra.clock_ns, ra.instructions) == (rb.clock_ns, rb.instructions)
    assert [e.kind for e in a.events] == [e.kind for e in b.events]
