"""Snapshots: a machine state to come back to, and a digest to compare two states.

A snapshot keeps every CPU's context, the devices, the clock, the lab events so far, the run
state (whose turn is next) and RAM.  RAM is the big part, so a snapshot may keep only the pages
that differ from a ``base`` snapshot taken earlier: the panic stepper keeps one full snapshot
before the trigger and a delta per stage (kilobytes, not the whole RAM).  The machine is
deterministic, so running on from a restored snapshot gives the same future as the first time.

>>> snap = m.snapshot()                  # doctest: +SKIP
>>> m.run_command("echo c > /proc/sysrq-trigger"); m.restore(snap)   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from kpanic_lab.machine.labport import LabEvent
from kpanic_lab.machine.loader import BootInfo
from kpanic_lab.machine.memory import PageSet
from kpanic_lab.machine.runstate import RunState

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import Machine


@dataclass
class Snapshot:
    """A machine state to come back to.  With a ``base``, memory is kept as the pages that
    differ from the base snapshot (a panic step costs kilobytes, not the whole RAM)."""

    clock_ns: int
    cpus: list
    memory: PageSet
    serial: tuple
    events: Tuple[LabEvent, ...]
    run_state: RunState
    total_instructions: int
    base: Optional["Snapshot"] = None
    boot_info: Optional[BootInfo] = None    # where the kernel was loaded (a fresh Machine restored needs it)


def take(m: "Machine", base: Optional[Snapshot] = None) -> Snapshot:
    """Everything needed to come back to ``m``'s state now; with ``base``, RAM as a delta."""
    if base is not None and base.base is not None:
        base = base.base
    pages = m.mem.diff_pages(base.memory) if base is not None else m.mem.save_pages()
    return Snapshot(m.clock_ns, [c.save() for c in m.cpus], pages, m.serial.save(), tuple(m.events),
                    m.run_state.copy(), m.total_instructions, base, m.boot_info)


def restore(m: "Machine", snap: Snapshot) -> None:
    """Bring ``m`` back to ``snap``: registers, devices, clock and every byte of RAM."""
    if snap.base is None:
        m.mem.restore_pages(snap.memory)
    else:
        m.mem.restore_delta(snap.base.memory, snap.memory)
    for c, s in zip(m.cpus, snap.cpus):
        c.restore(s)
    m.serial.restore(snap.serial)
    m.events[:] = snap.events
    m.run_state = snap.run_state.copy()
    m.clock_ns = snap.clock_ns
    m.total_instructions = snap.total_instructions
    if snap.boot_info is not None:
        m.boot_info = snap.boot_info


def digest(m: "Machine") -> str:
    """A digest of every CPU's registers and all of RAM: equal digests, equal machines."""
    import hashlib    # here, not at the top: it loads OpenSSL (4 MiB resident) for every machine

    h = hashlib.blake2b(digest_size=16)
    for c in m.cpus:
        h.update(repr((c.rt.state.value, sorted(c.registers().as_dict().items()))).encode())
    h.update(m.mem.digest_source())
    h.update(repr((m.clock_ns, len(m.events))).encode())
    return h.hexdigest()
