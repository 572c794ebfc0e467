"""find_direct_map on hand-built page tables (the real dump's case is in tests/real/test_captured_dump.py)."""
from __future__ import annotations

import struct

from kpanic_lab.formats.direct_map import find_direct_map


def _memory(tables):
    """read_physical over {physical address of a table: {index: entry}}; other pages are missing."""
    def read(addr, size):
        base = addr & ~0xFFF
        if base not in tables:
            raise KeyError(hex(addr))
        page = bytearray(4096)
        for i, e in tables[base].items():
            struct.pack_into("<Q", page, i * 8, e)
        return bytes(page[addr - base: addr - base + size])
    return read


def test_a_randomised_direct_map_through_2mib_pages():
    # PGD 0x1000: entry 273 (an LDT-like mapping of something else) and 287 -> PUD 0x2000;
    # PUD entry 3 -> PMD 0x3000 whose first entry is a 2 MiB page at physical 0
    tables = {0x1000: {273: 0x5000 | 3, 287: 0x2000 | 3, 511: 0x9000 | 3},
              0x5000: {0: 0x6000 | 3}, 0x6000: {0: 0x7000 | 3}, 0x7000: {0: 0x123000 | 3},
              0x2000: {2: 0x40000000 | 0x83, 3: 0x3000 | 3}, 0x3000: {0: 0x0 | 0x83}}
    assert find_direct_map(_memory(tables), 0x1000) == 0xFFFF800000000000 | (287 << 39) | (3 << 30)


def test_a_1gib_page_and_missing_tables_are_passed_over():
    tables = {0x1000: {260: 0x8000 | 3, 300: 0x2000 | 3}, 0x2000: {7: 0x0 | 0x83}}  # 0x8000 is not in the dump
    assert find_direct_map(_memory(tables), 0x1000) == 0xFFFF800000000000 | (300 << 39) | (7 << 30)


def test_nothing_maps_physical_zero():
    assert find_direct_map(_memory({0x1000: {300: 0x2000 | 3}, 0x2000: {0: 0x40000000 | 0x83}}), 0x1000) is None
    assert find_direct_map(_memory({}), 0x1000) is None
