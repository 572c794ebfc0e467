"""Which pages makedumpfile may drop, decided from the old kernel's ``struct page`` array.

makedumpfile reads ``mem_map`` from the dump and, for each page frame, tests the fields that
VMCOREINFO locates (``__exclude_unnecessary_pages`` in makedumpfile.c), in this order:

    PageBuddy head (and -d 16)        _mapcount == NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE), not PG_slab:
                                      the whole 2^private block is free             -> "free"
    cache, not private, not anon (-d 2)                                             -> "cache"
    cache, not anon (-d 4)            PG_private set ? "cache_private" : "cache"
    anon (-d 8)                       page->mapping & PAGE_MAPPING_ANON             -> "user"
    PG_hwpoison (any level)                                                         -> "hwpoison"
    _mapcount == PAGE_OFFLINE_MAPCOUNT_VALUE (any level)                            -> "offline"

"cache" is PG_lru, or PG_swapcache with PG_swapbacked.  Zero pages (-d 1) need the page
contents, not struct page: the collector finds them while copying.  This module is pure numpy
over the mem_map bytes: 65536 struct pages classify in a few milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from kpanic_lab.errors import LabError
from kpanic_lab.formats.vmcoreinfo import VmcoreInfo, VmcoreInfoError

DL_EXCLUDE_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_FREE = 1, 2, 4, 8, 16
MAX_DUMP_LEVEL = 31
PAGE_MAPPING_ANON = 1
KINDS = ("zero", "cache", "cache_private", "user", "free", "hwpoison", "offline")


class PageClassError(LabError):
    """The dump lacks what the dump level needs (a VMCOREINFO entry, or mem_map)."""


@dataclass(frozen=True)
class PageLayout:
    """Where struct page's fields are, and the flag numbers: all from VMCOREINFO."""

    size: int
    flags: int
    mapping: int
    private: int
    mapcount: int
    pg_lru: int
    pg_private: int
    pg_swapcache: int
    pg_slab: int
    pg_swapbacked: Optional[int] = None
    pg_hwpoison: Optional[int] = None
    buddy_mapcount: Optional[int] = None
    offline_mapcount: Optional[int] = None

    @classmethod
    def from_vmcoreinfo(cls, vi: VmcoreInfo) -> "PageLayout":
        def opt(name: str) -> Optional[int]:
            return vi.number(name) if f"NUMBER({name})" in vi else None
        try:
            return cls(size=vi.size("page"), flags=vi.offset("page", "flags"),
                       mapping=vi.offset("page", "mapping"), private=vi.offset("page", "private"),
                       mapcount=vi.offset("page", "_mapcount"), pg_lru=vi.number("PG_lru"),
                       pg_private=vi.number("PG_private"), pg_swapcache=vi.number("PG_swapcache"),
                       pg_slab=vi.number("PG_slab"), pg_swapbacked=opt("PG_swapbacked"),
                       pg_hwpoison=opt("PG_hwpoison"), buddy_mapcount=opt("PAGE_BUDDY_MAPCOUNT_VALUE"),
                       offline_mapcount=opt("PAGE_OFFLINE_MAPCOUNT_VALUE"))
        except VmcoreInfoError as e:
            raise PageClassError(f"cannot classify pages: {e}") from None

    def dtype(self) -> np.dtype:
        return np.dtype({"names": ["flags", "mapping", "private", "mapcount"],
                         "formats": ["<u8", "<u8", "<u8", "<i4"],
                         "offsets": [self.flags, self.mapping, self.private, self.mapcount],
                         "itemsize": self.size})


@dataclass
class Exclusion:
    """Per pfn: the kind that excludes it ("" = kept), and how many pages of each kind."""

    kind: np.ndarray                      # uint8 index into KINDS, 255 = not excluded
    counts: Dict[str, int]

    @property
    def excluded(self) -> np.ndarray:
        return self.kind != 255

    def mask(self, kind: str) -> np.ndarray:
        return self.kind == KINDS.index(kind)


def classify_pages(mem_map: np.ndarray, layout: PageLayout, dump_level: int, ram: np.ndarray) -> Exclusion:
    """Decide, for each pfn of ``ram``, whether ``dump_level`` excludes it and as what.

    ``mem_map`` holds the struct pages of pfn 0 .. n-1 (n = len(mem_map) // layout.size); pfns
    past the array are never excluded.  Only pages in ``ram`` count, as makedumpfile counts only
    the bits it clears in its 2nd bitmap.
    """
    n_ram = len(ram)
    kind = np.full(n_ram, 255, dtype=np.uint8)
    counts = {k: 0 for k in KINDS}
    n = min(n_ram, len(mem_map) // layout.size)
    if n == 0:
        return Exclusion(kind, counts)
    pages = np.frombuffer(np.ascontiguousarray(mem_map[:n * layout.size]), dtype=layout.dtype())
    flags = pages["flags"]
    mapping = pages["mapping"]
    mapcount = pages["mapcount"]

    def bit(nr: Optional[int]) -> np.ndarray:
        if nr is None or not 0 <= nr < 64:
            return np.zeros(n, dtype=bool)
        return ((flags >> np.uint64(nr)) & np.uint64(1)).astype(bool)

    taken = np.zeros(n, dtype=bool)           # decided, or a tail page of a free block (skipped)
    if dump_level & DL_EXCLUDE_FREE and layout.buddy_mapcount is not None:
        heads = np.nonzero((mapcount == layout.buddy_mapcount) & ~bit(layout.pg_slab))[0]
        order = np.minimum(pages["private"][heads], np.uint64(40)).astype(np.int64)
        ends = np.minimum(heads + (np.int64(1) << order), n)
        cover = np.zeros(n + 1, dtype=np.int64)
        np.add.at(cover, heads, 1)
        np.add.at(cover, ends, -1)
        free = np.cumsum(cover[:n]) > 0
        _take(kind, counts, taken, free, "free", ram)
    cache = bit(layout.pg_lru) | (bit(layout.pg_swapcache) & (bit(layout.pg_swapbacked)
                                  if layout.pg_swapbacked is not None else True))
    private = bit(layout.pg_private)
    anon = (mapping & np.uint64(PAGE_MAPPING_ANON)).astype(bool)
    if dump_level & DL_EXCLUDE_CACHE:
        _take(kind, counts, taken, cache & ~private & ~anon, "cache", ram)
    if dump_level & DL_EXCLUDE_CACHE_PRI:
        _take(kind, counts, taken, cache & ~anon & ~private, "cache", ram)
        _take(kind, counts, taken, cache & ~anon & private, "cache_private", ram)
    if dump_level & DL_EXCLUDE_USER_DATA:
        _take(kind, counts, taken, anon, "user", ram)
    _take(kind, counts, taken, bit(layout.pg_hwpoison) if layout.pg_hwpoison is not None
          else np.zeros(n, dtype=bool), "hwpoison", ram)
    if layout.offline_mapcount is not None:
        _take(kind, counts, taken, (mapcount == layout.offline_mapcount) & ~bit(layout.pg_slab), "offline", ram)
    return Exclusion(kind, counts)


def _take(kind: np.ndarray, counts: Dict[str, int], taken: np.ndarray, mask: np.ndarray, what: str,
          ram: np.ndarray) -> None:
    n = len(taken)
    new = mask & ~taken
    taken |= new
    sel = new & ram[:n]
    kind[:n][sel] = KINDS.index(what)
    counts[what] += int(np.count_nonzero(sel))


def zero_pages(pages: np.ndarray) -> np.ndarray:
    """Which of a (k, 4096) uint8 block of pages are all zeros."""
    return np.asarray(~pages.view(np.uint64).any(axis=1), dtype=bool)
