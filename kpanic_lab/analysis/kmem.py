"""What memory holds, counted from ``struct page`` (crash's ``kmem -i``).

The guest has one ``struct page`` per page frame in ``mem_map[]`` and marks each one the
way Linux does (mm.h).  What each page is comes from the one classifier makedumpfile's filter
uses too (``kdump.pageclass``): the whole array is read at once and classified with numpy, so
this costs one read of ``max_pfn * sizeof(struct page)`` bytes.  The layout and flag numbers
come from the target's VMCOREINFO (a dump) and, for what it lacks or on a live machine, from
the DWARF (``struct page``, ``enum pageflags``).

>>> info = memory_info(prog)                  # doctest: +SKIP
>>> info.free_pages + info.used_pages == info.total_pages   # doctest: +SKIP
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict

from kpanic_lab.formats.vmcoreinfo import VmcoreInfo
from kpanic_lab.guest.headers import PAGE_BUDDY_MAPCOUNT_VALUE, PAGE_SIZE
from kpanic_lab.kdump.pageclass import PageFrames, PageLayout

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program



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


def count_pages(pages: PageFrames) -> Dict[str, int]:
    """Page counts by use, as ``kmem -i`` shows them (pure over the classified struct pages)."""
    cached = pages.cache & ~pages.anon
    buffers = cached & pages.private_data
    return {
        "free": int(pages.free.sum()),
        "shared": int(pages.mapped.sum()),
        "buffers": int(buffers.sum()),
        "cached": int((cached & ~buffers).sum()),
        "slab": int(pages.slab.sum()),
        "anon": int((pages.anon & ~pages.free).sum()),
        "reserved": int(pages.reserved.sum()),
    }


def page_layout(prog: "Program") -> PageLayout:
    """struct page's layout in this program: VMCOREINFO's numbers where the target has them,
    the DWARF's for the rest (all of it on a live machine, which has no VMCOREINFO)."""
    t = prog.type("struct page")
    offsets = {m.name: m.offset for m in t.members if m.name}
    flags = dict(prog.type("enum pageflags").enumerators)
    dwarf = PageLayout.from_dwarf(t.byte_size, offsets, flags, PAGE_BUDDY_MAPCOUNT_VALUE)
    vi = VmcoreInfo(prog.target.vmcoreinfo)
    return PageLayout.from_vmcoreinfo(vi, fallback=dwarf) if vi else dwarf


def memory_info(prog: "Program") -> MemoryInfo:
    """Page counts of the whole machine, from ``mem_map[0 .. max_pfn)``."""
    layout = page_layout(prog)
    max_pfn = prog.read_u64(prog.address_of("max_pfn"))
    base = prog.read_u64(prog.address_of("mem_map"))
    c = count_pages(PageFrames(prog.read(base, max_pfn * layout.size), layout))
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
