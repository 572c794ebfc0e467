"""Guest RAM and the 4-level page walk, on page tables built by hand (no CPU, no kernel)."""
from __future__ import annotations

import pytest

from kpanic_lab.machine import MemoryFault
from kpanic_lab.machine.memory import PhysicalMemory

PAGE_SIZE = 4096
P, RW, US, PS = 1, 2, 4, 0x80          # page-table entry bits: present, writable, user, 2 MiB page
CR3, PDPT, PD, PT = 0x1000, 0x2000, 0x3000, 0x4000
VA = 0xFFFF888000000000                 # PML4 273, PDPT 0, PD 0, PT 0: the direct map's start


def index(va: int, level: int) -> int:
    return (va >> (12 + 9 * (level - 1))) & 0x1FF


@pytest.fixture
def mem() -> PhysicalMemory:
    """1 MiB of RAM with VA -> 0x10000 (4 KiB, read-only), VA+4K -> 0x11000 (4 KiB, RW)
    and VA+2M -> 0x0 (a 2 MiB page)."""
    m = PhysicalMemory(1 << 20)
    m.write_u64(CR3 + index(VA, 4) * 8, PDPT | P | RW)
    m.write_u64(PDPT + index(VA, 3) * 8, PD | P | RW)
    m.write_u64(PD + index(VA, 2) * 8, PT | P | RW)
    m.write_u64(PD + index(VA + (2 << 20), 2) * 8, 0x0 | P | RW | PS)
    m.write_u64(PT + 0 * 8, 0x10000 | P)
    m.write_u64(PT + 1 * 8, 0x11000 | P | RW)
    return m


def test_physical_read_write_and_bounds():
    m = PhysicalMemory(2 * PAGE_SIZE)
    m.write(0x10, b"kpanic")
    m.write_u64(0x20, -1)
    assert m.read(0x10, 6) == b"kpanic" and m.read_u64(0x20) == 0xFFFFFFFFFFFFFFFF
    with pytest.raises(MemoryFault, match="outside guest RAM"):
        m.read(2 * PAGE_SIZE - 4, 8)


def test_walk_4k_page_reads_every_level_and_ands_permissions(mem):
    pa, perms, entries = mem.walk(CR3, VA + 0x123)
    assert pa == 0x10123
    assert perms == P                   # the last level is read-only, kernel-only
    assert [level for level, _ in entries] == [4, 3, 2, 1]
    assert entries[-1][1] == 0x10000 | P


def test_walk_2m_page_stops_at_the_pd(mem):
    pa, perms, entries = mem.walk(CR3, VA + (2 << 20) + 0x1234)
    assert pa == 0x1234 and perms == P | RW
    assert [level for level, _ in entries] == [4, 3, 2]


def test_unmapped_address_faults_naming_it(mem):
    assert mem.walk(CR3, VA + 2 * PAGE_SIZE)[0] is None
    with pytest.raises(MemoryFault, match="not mapped") as e:
        mem.translate(CR3, VA + 2 * PAGE_SIZE)
    assert e.value.address == VA + 2 * PAGE_SIZE


def test_virtual_read_and_write_cross_a_page_boundary(mem):
    mem.write_virt(CR3, VA + PAGE_SIZE - 2, b"abcd")
    assert mem.read(0x10FFE, 2) == b"ab" and mem.read(0x11000, 2) == b"cd"
    assert mem.read_virt(CR3, VA + PAGE_SIZE - 2, 4) == b"abcd"
    with pytest.raises(MemoryFault, match="not mapped"):
        mem.read_virt(CR3, VA + 2 * PAGE_SIZE - 2, 4)


def test_saved_pages_and_deltas_restore_exactly(mem):
    base = mem.save_pages()
    assert list(base.pfns) == [1, 2, 3, 4]          # the four page-table pages; zero pages cost nothing
    mem.write(0x50000, b"changed")
    mem.write_u64(PT + 8, 0)                        # unmap VA+4K
    delta = mem.diff_pages(base)
    assert list(delta.pfns) == [4, 0x50]
    after = mem.read(0, 1 << 20)
    mem.restore_pages(base)
    assert mem.read(0x50000, 7) == bytes(7) and mem.translate(CR3, VA + PAGE_SIZE) == 0x11000
    mem.restore_delta(base, delta)
    assert mem.read(0, 1 << 20) == after
