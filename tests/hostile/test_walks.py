"""Issue 10, item 2: walks over guest-controlled structures end, with one line, on any data."""
from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from kpanic_lab.analysis.errors import AnalysisError
from kpanic_lab.analysis.mm import user_mappings, user_regions


def fake_prog(tables):
    def read_physical(pa, size):
        return tables.get(pa, bytes(4096))[:size]
    return SimpleNamespace(target=SimpleNamespace(read_physical=read_physical))


def table(entries):
    t = [0] * 512
    for i, e in entries.items():
        t[i] = e
    return struct.pack("<512Q", *t)


def test_a_page_table_that_points_at_itself_stops_with_one_line():
    prog = fake_prog({0x1000: table({0: 0x1000 | 0x7})})          # PML4[0] -> the PML4 itself
    with pytest.raises(AnalysisError, match="page table at physical 1000 is reached twice"):
        list(user_mappings(prog, 0x1000))


def test_huge_pages_stay_a_short_list():
    pdpt = table({i: (i << 30) | 0x87 for i in range(512)})        # 512 GiB of 1 GiB pages, all rwx
    prog = fake_prog({0x1000: table({0: 0x2000 | 0x7}), 0x2000: pdpt})
    assert user_regions(prog, 0x1000) == [(0, 512 << 30, "rwx")]
