"""The boot loader's e820 map, without booting (types as the ACPI/e820 spec numbers them)."""
from __future__ import annotations

import pytest

from kpanic_lab.machine.loader import e820_map

E820_RAM, E820_RESERVED = 1, 2


@pytest.mark.parametrize("mib", [64, 256, 1024])
def test_e820_map_tiles_memory_without_overlap(mib):
    size = mib << 20
    m = e820_map(size)
    assert [e.addr for e in m] == sorted(e.addr for e in m)
    assert all(a.end <= b.addr for a, b in zip(m, m[1:]))
    assert m[-1].end == size


def test_e820_map_is_shaped_like_seabios():
    m = e820_map(256 << 20)
    ram = [(e.addr, e.end) for e in m if e.type == E820_RAM]
    assert ram == [(0x0, 0x9FC00), (0x100000, (256 << 20) - 0x20000)]
    assert {e.type for e in m} == {E820_RAM, E820_RESERVED}
