"""Snapshot and restore give back the same machine, and running on gives the same future."""
from __future__ import annotations

from kpanic_lab.machine import Machine, MachineConfig


def test_snapshot_restore_is_exact(minikernel):
    m = Machine(MachineConfig.create(cpus=2, memory="64M", vmlinux=minikernel))
    m.power_on()
    m.run(lambda mm: "int3 ok" in mm.console_text, max_seconds=30)
    snap = m.snapshot()
    digest = m.state_digest()
    regs = [m.registers(i) for i in range(2)]
    first = m.run("halt", max_seconds=30)
    end_console, end_digest = m.console, m.state_digest()
    assert end_digest != digest

    m.restore(snap)
    assert m.state_digest() == digest
    assert [m.registers(i) for i in range(2)] == regs
    again = m.run("halt", max_seconds=30)
    assert m.console == end_console
    assert m.state_digest() == end_digest
    assert (again.reason, again.clock_ns) == (first.reason, first.clock_ns)


def test_delta_snapshots_restore_exactly_in_any_order(minikernel):
    m = Machine(MachineConfig.create(cpus=2, memory="64M", vmlinux=minikernel))
    m.power_on()
    m.run(lambda mm: "idt loaded" in mm.console_text, max_seconds=30)
    base = m.snapshot()
    points = []
    for marker in ("int3 ok", "nmi ok", "mini: done"):
        m.run(lambda mm, k=marker: k in mm.console_text, max_seconds=30)
        snap = m.snapshot(base=base)
        assert len(snap.memory) < len(m.mem.nonzero_pfns())          # a delta, not a copy
        points.append((snap, m.state_digest(), m.console))
    for snap, digest, console in [points[1], points[0], points[2], points[0]]:
        m.restore(snap)
        assert m.state_digest() == digest and m.console == console
    m.restore(base)
    m.run("halt", max_seconds=30)
    assert m.state_digest() == points[2][1] or m.console.endswith(b"mini: done\n")


def test_restore_brings_back_the_run_state_as_a_copy(minikernel):
    m = Machine(MachineConfig.create(cpus=2, memory="64M", vmlinux=minikernel))
    m.power_on()
    m.run(lambda mm: "int3 ok" in mm.console_text, max_seconds=30)
    snap = m.snapshot()
    saved = snap.run_state.copy()
    m.run("halt", max_seconds=30)
    m.run_state.clock_hi[0] = 12345                                   # the running machine's, not the snapshot's
    m.restore(snap)
    assert m.run_state == saved and snap.run_state == saved
    m.run_state.rr = 1 - m.run_state.rr
    assert snap.run_state == saved                                     # a restored machine does not share it
