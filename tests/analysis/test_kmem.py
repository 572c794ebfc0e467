"""analysis/kmem.py: kmem -i's counts, from the classifier makedumpfile uses too (on the synthetic mem_map)."""
from __future__ import annotations

from kpanic_lab.analysis.kmem import count_pages, pages_to_size
from kpanic_lab.kdump.pageclass import PageFrames, PageLayout
from tests.formats import synth


def test_count_pages_of_the_synthetic_mem_map():
    s = synth.build()
    raw = bytes(s.memory[synth.MEM_MAP_PFN * 4096:][:synth.NPAGES * 56])
    c = count_pages(PageFrames(raw, PageLayout.from_dwarf(56, synth.STRUCT_PAGE_OFFSETS, synth.PAGEFLAGS, synth.BUDDY)))
    assert c == {"free": 32 + 16 + 64, "shared": 0, "buffers": 8, "cached": 16 + 4, "slab": 48, "anon": 32,
                 "reserved": 159}


def test_pages_to_size():
    assert [pages_to_size(n) for n in (0, 1, 256, 232883)] == ["0", "4.0 KB", "1.0 MB", "909.7 MB"]
