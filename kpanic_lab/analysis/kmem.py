"""What memory holds, counted from ``struct page`` (crash's ``kmem -i``).

The guest has one ``struct page`` per page frame in ``mem_map[]`` and marks each one the
way Linux does (mm.h): a free block's head page is PageBuddy with its order in
``private``, page cache is ``PG_lru`` with a file mapping (``PG_private`` when buffer
heads hang off it), anonymous user memory has ``PAGE_MAPPING_ANON`` in ``mapping``,
slab pages are ``PG_slab``.  The whole array is read at once and classified with
numpy, so this costs one read of ``max_pfn * sizeof(struct page)`` bytes.

>>> info = memory_info(prog)                  # doctest: +SKIP
>>> info.free_pages + info.used_pages == info.total_pages   # doctest: +SKIP
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kpanic_lab.guest.headers import PAGE_BUDDY_MAPCOUNT_VALUE, PAGE_MAPPING_ANON, PAGE_SIZE

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

PG_LRU, PG_SLAB, PG_RESERVED, PG_PRIVATE = 4, 9, 12, 13


@dataclass(frozen=True)
class MemoryInfo:
    """Page counts by use (pages of 4 KiB)."""

    total_pages: int        # totalram_pages: what the page allocator manages
    free_pages: int         # in free buddy blocks
    shared_pages: int       # mapped into more than one address space
    buffer_pages: int       # page cache with buffer heads (PG_private)
    cached_pages: int       # the rest of the page cache
    slab_pages: int
    anon_pages: int         # user (anonymous) memory
    reserved_pages: int     # never given to the allocator (kernel image, mem_map, ...)
    max_pfn: int

    @property
    def used_pages(self) -> int:
        return self.total_pages - self.free_pages


def classify_pages(flags: np.ndarray, mapping: np.ndarray, private: np.ndarray,
                   mapcount: np.ndarray) -> dict:
    """Counts by use from the columns of ``mem_map`` (pure; one entry per pfn)."""
    buddy = mapcount == PAGE_BUDDY_MAPCOUNT_VALUE
    order = np.where(buddy, private, 0).astype(np.int64)
    free = int(np.sum(np.where(buddy, np.left_shift(1, np.minimum(order, 20)), 0)))
    lru = (flags >> PG_LRU) & 1 == 1
    anon = (mapping & PAGE_MAPPING_ANON) == 1
    cache = lru & ~anon & (mapping != 0)
    buffers = cache & ((flags >> PG_PRIVATE) & 1 == 1)
    return {
        "free": free,
        "shared": int(np.sum(~buddy & (mapcount > 0))),
        "buffers": int(np.sum(buffers)),
        "cached": int(np.sum(cache & ~buffers)),
        "slab": int(np.sum((flags >> PG_SLAB) & 1 == 1)),
        "anon": int(np.sum(anon & ~buddy)),
        "reserved": int(np.sum((flags >> PG_RESERVED) & 1 == 1)),
    }


def memory_info(prog: "Program") -> MemoryInfo:
    """Page counts of the whole machine, from ``mem_map[0 .. max_pfn)``."""
    t = prog.type("struct page")
    size = t.byte_size
    max_pfn = prog.read_u64(prog.address_of("max_pfn"))
    base = prog.read_u64(prog.address_of("mem_map"))
    raw = np.frombuffer(prog.read(base, max_pfn * size), dtype=np.uint8).reshape(max_pfn, size)

    def col(member: str, dtype: str) -> np.ndarray:
        off = t.member(member).offset
        width = np.dtype(dtype).itemsize
        return raw[:, off:off + width].copy().view(dtype).reshape(max_pfn)

    c = classify_pages(col("flags", "<u8"), col("mapping", "<u8"), col("private", "<u8"), col("_mapcount", "<i4"))
    total = prog.read_u64(prog.address_of("totalram_pages"))
    return MemoryInfo(total, c["free"], c["shared"], c["buffers"], c["cached"], c["slab"], c["anon"],
                      c["reserved"], max_pfn)


def pages_to_size(pages: int) -> str:
    """``909.7 MB`` as crash writes a page count's size (pure)."""
    b = pages * PAGE_SIZE
    if b >= 1 << 30:
        return f"{b / (1 << 30):.1f} GB"
    if b >= 1 << 20:
        return f"{b / (1 << 20):.1f} MB"
    if b >= 1 << 10:
        return f"{b / (1 << 10):.1f} KB"
    return str(b)
