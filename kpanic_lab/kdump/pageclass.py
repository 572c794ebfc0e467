"""What each page frame holds, decided from the old kernel's ``struct page`` array: the one classifier.

makedumpfile's filter (``-d 2, 4, 8, 16``) and crash's ``kmem -i`` ask the same questions of each
``struct page`` in ``mem_map[]``; both ask them here.  :class:`PageFrames` reads the four fields
that matter (flags, mapping, private, _mapcount) once, with numpy, and answers:

    free       in a free block: a PageBuddy head (_mapcount == PAGE_BUDDY_MAPCOUNT_VALUE, not
               PG_slab) and the 2^private pages after it
    cache      page cache: PG_lru, or PG_swapcache with PG_swapbacked
    private    PG_private (buffer heads or other private data hang off the page)
    anon       user memory: page->mapping & PAGE_MAPPING_ANON
    slab, reserved, hwpoison                       the PG_ flag of that name
    offline    _mapcount == PAGE_OFFLINE_MAPCOUNT_VALUE, not PG_slab
    mapped     mapped into more than one address space (_mapcount > 0)

Where the fields are and how the flags are numbered (:class:`PageLayout`) comes from VMCOREINFO,
as makedumpfile reads it (``SIZE(page)``, ``OFFSET(page.flags)``, ``NUMBER(PG_lru)``, ...), or,
when there is none (a live machine), from the kernel's DWARF: ``struct page`` and
``enum pageflags``, as ``makedumpfile -x vmlinux`` and crash read them.

:func:`classify_pages` is makedumpfile's ``__exclude_unnecessary_pages`` (makedumpfile.c) over
these answers, in its order:

    PageBuddy head (and -d 16)           the whole 2^private block is free              -> "free"
    cache, not private, not anon (-d 2)                                                 -> "cache"
    cache, not anon (-d 4)               PG_private set ? "cache_private" : "cache"
    anon (-d 8)                                                                         -> "user"
    PG_hwpoison (any level)                                                             -> "hwpoison"
    offline (any level)                                                                 -> "offline"

Zero pages (-d 1) need the page contents, not struct page: the collector finds them while copying
(:func:`zero_pages`).  65536 struct pages classify in a few milliseconds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, Mapping, Optional, Union

import numpy as np

from kpanic_lab.dumplevel import (DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA,
                                  DL_EXCLUDE_ZERO)
from kpanic_lab.errors import LabError
from kpanic_lab.formats.vmcoreinfo import VmcoreInfo, VmcoreInfoError

PAGE_MAPPING_ANON = 1
KINDS = ("zero", "cache", "cache_private", "user", "free", "hwpoison", "offline")
#: Each kind as makedumpfile's report names it (print_report), and the -d bit that drops it.
KIND_REPORT = {"zero": "Pages filled with zero", "cache": "Non-private cache pages",
               "cache_private": "Private cache pages", "user": "User process data pages", "free": "Free pages",
               "hwpoison": "Hwpoison pages", "offline": "Offline pages"}
KIND_LEVEL_BIT = {"zero": DL_EXCLUDE_ZERO, "cache": DL_EXCLUDE_CACHE, "cache_private": DL_EXCLUDE_CACHE_PRI,
                  "user": DL_EXCLUDE_USER_DATA, "free": DL_EXCLUDE_FREE}

# PageLayout attribute -> struct page member, and -> the number's name (VMCOREINFO NUMBER(), enum pageflags)
_MEMBERS = {"flags": "flags", "mapping": "mapping", "private": "private", "mapcount": "_mapcount"}
_NUMBERS = {"pg_lru": "PG_lru", "pg_private": "PG_private", "pg_swapcache": "PG_swapcache", "pg_slab": "PG_slab",
            "pg_swapbacked": "PG_swapbacked", "pg_hwpoison": "PG_hwpoison", "pg_reserved": "PG_reserved",
            "buddy_mapcount": "PAGE_BUDDY_MAPCOUNT_VALUE", "offline_mapcount": "PAGE_OFFLINE_MAPCOUNT_VALUE"}
_REQUIRED = ("pg_lru", "pg_private", "pg_swapcache", "pg_slab")


class PageClassError(LabError):
    """The kernel's description lacks what classifying needs (a VMCOREINFO entry, a DWARF type)."""


@dataclass(frozen=True)
class PageLayout:
    """Where struct page's fields are, and the flag numbers (from VMCOREINFO or DWARF)."""

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
    pg_reserved: Optional[int] = None

    @classmethod
    def from_vmcoreinfo(cls, vi: VmcoreInfo, fallback: Optional["PageLayout"] = None) -> "PageLayout":
        """The layout VMCOREINFO gives, as makedumpfile reads it.

        With ``fallback`` (a layout from DWARF), what VMCOREINFO does not export is taken from it,
        as crash takes it from vmlinux; without, a missing required entry is an error naming it.
        """
        values: Dict[str, Optional[int]] = dataclasses.asdict(fallback) if fallback else {}
        try:
            if fallback is None or "SIZE(page)" in vi:
                values["size"] = vi.size("page")
            for attr, member in _MEMBERS.items():
                if fallback is None or f"OFFSET(page.{member})" in vi:
                    values[attr] = vi.offset("page", member)
            for attr, name in _NUMBERS.items():
                if f"NUMBER({name})" in vi or (attr in _REQUIRED and fallback is None):
                    values[attr] = vi.number(name)
        except VmcoreInfoError as e:
            raise PageClassError(f"cannot classify pages: {e}") from None
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_dwarf(cls, size: int, offsets: Mapping[str, int], enumerators: Mapping[str, int],
                   buddy_mapcount: Optional[int] = None) -> "PageLayout":
        """The layout from the kernel's DWARF: ``struct page``'s size and member offsets, and the
        values of ``enum pageflags``.  PAGE_BUDDY_MAPCOUNT_VALUE is a ``#define``, which DWARF does
        not keep: pass it from the kernel's headers (without it nothing counts as free).

        >>> PageLayout.from_dwarf(56, {"flags": 0, "mapping": 24, "private": 40, "_mapcount": 48},
        ...                       {"PG_lru": 4, "PG_slab": 9, "PG_private": 13, "PG_swapcache": 10}).pg_private
        13
        """
        missing = [f"struct page member {m}" for m in _MEMBERS.values() if m not in offsets] + \
                  [f"enum pageflags value {_NUMBERS[a]}" for a in _REQUIRED if _NUMBERS[a] not in enumerators]
        if missing:
            raise PageClassError(f"cannot classify pages: the DWARF has no {missing[0]}")
        numbers = {attr: enumerators.get(name) for attr, name in _NUMBERS.items()}
        numbers["buddy_mapcount"] = buddy_mapcount
        return cls(size=size, **{attr: offsets[m] for attr, m in _MEMBERS.items()}, **numbers)  # type: ignore[arg-type]

    def dtype(self) -> np.dtype:
        return np.dtype({"names": ["flags", "mapping", "private", "mapcount"],
                         "formats": ["<u8", "<u8", "<u8", "<i4"],
                         "offsets": [self.flags, self.mapping, self.private, self.mapcount],
                         "itemsize": self.size})


class PageFrames:
    """The struct pages of pfn 0 .. n-1, and what each says about its page (one bool array a question).

    ``mem_map`` is the raw array (bytes or uint8); ``n`` defaults to as many whole struct pages as it holds.
    """

    def __init__(self, mem_map: Union[bytes, np.ndarray], layout: PageLayout, n: Optional[int] = None) -> None:
        raw = np.frombuffer(mem_map, np.uint8) if isinstance(mem_map, (bytes, bytearray, memoryview)) else mem_map
        whole = len(raw) // layout.size
        self.n = whole if n is None else min(n, whole)
        self.layout = layout
        self.flags: np.ndarray = np.zeros(0, np.uint64)
        self.mapping: np.ndarray = np.zeros(0, np.uint64)
        self.private: np.ndarray = np.zeros(0, np.uint64)
        self.mapcount: np.ndarray = np.zeros(0, np.int32)
        if self.n:                      # nothing to read (and no layout needed) for -d 0 or 1
            pages = np.frombuffer(np.ascontiguousarray(raw[:self.n * layout.size]), dtype=layout.dtype())
            # flags contiguous (one copy): each of the bit tests below then reads 8 bytes a page, not 64
            self.flags, self.mapping = np.ascontiguousarray(pages["flags"]), pages["mapping"]
            self.private, self.mapcount = pages["private"], pages["mapcount"]

    def bit(self, nr: Optional[int]) -> np.ndarray:
        """Which pages have flag bit ``nr`` set (none, for a flag the kernel does not have)."""
        if nr is None or not 0 <= nr < 64:
            return np.zeros(self.n, dtype=bool)
        return np.asarray((self.flags & np.uint64(1 << nr)) != 0)

    @cached_property
    def slab(self) -> np.ndarray:
        return self.bit(self.layout.pg_slab)

    @cached_property
    def free(self) -> np.ndarray:
        """In a free block: a PageBuddy head that is not slab, and the 2^order pages it covers."""
        if self.layout.buddy_mapcount is None:
            return np.zeros(self.n, dtype=bool)
        heads = np.nonzero((self.mapcount == self.layout.buddy_mapcount) & ~self.slab)[0]
        order = np.minimum(self.private[heads], np.uint64(40)).astype(np.int64)
        ends = np.minimum(heads + (np.int64(1) << order), self.n)
        cover = np.zeros(self.n + 1, dtype=np.int64)
        np.add.at(cover, heads, 1)
        np.add.at(cover, ends, -1)
        return np.asarray(np.cumsum(cover[:self.n]) > 0)

    @cached_property
    def cache(self) -> np.ndarray:
        """Page cache: PG_lru, or PG_swapcache with PG_swapbacked (any PG_swapcache without it)."""
        swap = self.bit(self.layout.pg_swapcache)
        if self.layout.pg_swapbacked is not None:
            swap &= self.bit(self.layout.pg_swapbacked)
        return self.bit(self.layout.pg_lru) | swap

    @cached_property
    def private_data(self) -> np.ndarray:
        return self.bit(self.layout.pg_private)

    @cached_property
    def anon(self) -> np.ndarray:
        return (self.mapping & np.uint64(PAGE_MAPPING_ANON)).astype(bool)

    @cached_property
    def reserved(self) -> np.ndarray:
        return self.bit(self.layout.pg_reserved)

    @cached_property
    def hwpoison(self) -> np.ndarray:
        return self.bit(self.layout.pg_hwpoison)

    @cached_property
    def offline(self) -> np.ndarray:
        if self.layout.offline_mapcount is None:
            return np.zeros(self.n, dtype=bool)
        return (self.mapcount == self.layout.offline_mapcount) & ~self.slab

    @cached_property
    def mapped(self) -> np.ndarray:
        """Mapped into more than one address space (page_mapcount = _mapcount + 1 > 1)."""
        return self.mapcount > 0


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
    p = PageFrames(mem_map, layout, n_ram)
    if p.n == 0:
        return Exclusion(kind, counts)
    taken = np.zeros(p.n, dtype=bool)           # decided, or a tail page of a free block (skipped)
    if dump_level & DL_EXCLUDE_FREE:
        _take(kind, counts, taken, p.free, "free", ram)
    page_cache = p.cache & ~p.anon
    if dump_level & DL_EXCLUDE_CACHE:
        _take(kind, counts, taken, page_cache & ~p.private_data, "cache", ram)
    if dump_level & DL_EXCLUDE_CACHE_PRI:
        _take(kind, counts, taken, page_cache & ~p.private_data, "cache", ram)
        _take(kind, counts, taken, page_cache & p.private_data, "cache_private", ram)
    if dump_level & DL_EXCLUDE_USER_DATA:
        _take(kind, counts, taken, p.anon, "user", ram)
    _take(kind, counts, taken, p.hwpoison, "hwpoison", ram)
    if layout.offline_mapcount is not None:
        _take(kind, counts, taken, p.offline, "offline", ram)
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
