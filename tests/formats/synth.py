"""A small synthetic vmcore built in code: known pages of every kind, a mem_map, a log_buf.

Physical layout (page frames), 2 MiB of "RAM" in two ranges with a hole between:

    pfn 0            page 0 (not in any range, like Linux's reserved page 0)
    pfn 1..159       range 1: kernel data, mem_map, log_buf, page tables
    pfn 160..255     hole
    pfn 256..511     range 2: free blocks, cache, private cache, user pages, zero pages, slab

The struct page layout is the guest's (56 bytes: flags 0, lru 8, mapping 24, index 32,
private 40, _mapcount 48, _refcount 52) and the flag numbers are Linux 6.1's.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.formats.vmcoreinfo import VmcoreInfoWriter
from kpanic_lab.guest.headers import PAGE_OFFSET, START_KERNEL_MAP

PAGE = 4096
NPAGES = 512
RANGES = [(1 * PAGE, 160 * PAGE), (256 * PAGE, 512 * PAGE)]
PAGE_SIZE_STRUCT = 56
PG_LRU, PG_SLAB, PG_SWAPCACHE, PG_RESERVED, PG_PRIVATE, PG_SWAPBACKED = 4, 9, 10, 12, 13, 19
BUDDY = -128
# what the guest's DWARF says of struct page and enum pageflags (for PageLayout.from_dwarf)
STRUCT_PAGE_OFFSETS = {"flags": 0, "lru": 8, "mapping": 24, "index": 32, "private": 40, "_mapcount": 48,
                       "_refcount": 52}
PAGEFLAGS = {"PG_locked": 0, "PG_lru": PG_LRU, "PG_slab": PG_SLAB, "PG_owner_priv_1": PG_SWAPCACHE,
             "PG_reserved": PG_RESERVED, "PG_private": PG_PRIVATE, "PG_swapbacked": PG_SWAPBACKED,
             "PG_swapcache": PG_SWAPCACHE}
MEM_MAP_PFN = 8                 # mem_map array at pfn 8 (512 * 56 bytes = 7 pages)
LOG_BUF_PFN = 20                # log_buf: 1 page
SYMS_PFN = 30                   # the variables: mem_map, log_buf, log_buf_len, log_first_idx, log_next_idx
PGD_PFN = 40                    # a page table: maps VMALLOC_VA -> pfn 50
VMALLOC_VA = 0xFFFFC90000000000
VMALLOC_PFN = 50
LOG_LINES = [b"Linux version 6.1.0-synth", b"sysrq: Trigger a crash",
             b"Kernel panic - not syncing: sysrq triggered crash"]


@dataclass
class Synth:
    memory: bytearray
    kinds: Dict[int, str]                    # pfn -> "free", "cache", "cache_private", "user", "zero", "kernel"
    vmcoreinfo: str
    prstatus: List[PrStatus]
    elf: bytes = b""
    log: List[Tuple[int, bytes]] = field(default_factory=list)

    def pfns(self, kind: str) -> List[int]:
        return [p for p, k in self.kinds.items() if k == kind]

    def page(self, pfn: int) -> bytes:
        return bytes(self.memory[pfn * PAGE:(pfn + 1) * PAGE])


def kvirt(pfn: int, off: int = 0) -> int:
    """The direct-map address of a page frame."""
    return PAGE_OFFSET + pfn * PAGE + off


def build(phys_base: int = 0, with_pgd: bool = True) -> Synth:
    mem = bytearray(NPAGES * PAGE)
    kinds: Dict[int, str] = {}
    pages = [dict(flags=0, mapping=0, private=0, mapcount=-1) for _ in range(NPAGES)]

    def fill(pfn: int, tag: int) -> None:
        mem[pfn * PAGE:(pfn + 1) * PAGE] = bytes([tag & 0xFF, (pfn >> 8) & 0xFF, pfn & 0xFF, 0x5A]) * (PAGE // 4)

    for pfn in range(1, 160):                      # range 1: kernel pages with data
        pages[pfn]["flags"] = 1 << PG_RESERVED
        kinds[pfn] = "kernel"
        if pfn not in (MEM_MAP_PFN + i for i in range(7)) and pfn not in (LOG_BUF_PFN, SYMS_PFN) and not PGD_PFN <= pfn < PGD_PFN + 4:
            fill(pfn, 0x11)
    # range 2
    for head, order in ((256, 5), (320, 4), (448, 6)):          # free blocks: 32 + 16 + 64 pages
        pages[head].update(mapcount=BUDDY, private=order)
        for p in range(head, head + (1 << order)):
            kinds[p] = "free"
            fill(p, 0xF0)                                         # stale data: free pages are not zero
    for p in range(288, 304):                                     # page cache without private data
        pages[p].update(flags=1 << PG_LRU, mapping=kvirt(5, 0x100))
        kinds[p] = "cache"
        fill(p, 0xCA)
    for p in range(304, 312):                                     # page cache with buffer heads
        pages[p].update(flags=(1 << PG_LRU) | (1 << PG_PRIVATE), mapping=kvirt(5, 0x200), private=kvirt(6))
        kinds[p] = "cache_private"
        fill(p, 0xCB)
    for p in range(312, 316):                                     # swap cache (swapbacked)
        pages[p].update(flags=(1 << PG_SWAPCACHE) | (1 << PG_SWAPBACKED), mapping=kvirt(5, 0x300))
        kinds[p] = "cache"
        fill(p, 0xCC)
    for p in range(336, 368):                                     # anonymous user pages
        pages[p].update(flags=1 << PG_SWAPBACKED, mapping=kvirt(7, 0x40) | 1, mapcount=0)
        kinds[p] = "user"
        fill(p, 0xAA)
    for p in range(368, 400):                                     # zero pages the kernel owns
        kinds[p] = "zero"
    for p in range(400, 448):                                     # slab, a slab page with a "buddy" mapcount
        pages[p].update(flags=1 << PG_SLAB, private=kvirt(9))
        kinds[p] = "kernel"
        fill(p, 0x5B)
    pages[401]["mapcount"] = BUDDY                                # PG_slab wins: not free
    for p in range(316, 320):
        kinds[p] = "kernel"
        fill(p, 0x77)
    for p in range(256, 512):
        kinds.setdefault(p, "kernel")
    # mem_map
    mm = bytearray(NPAGES * PAGE_SIZE_STRUCT)
    for pfn, f in enumerate(pages):
        struct.pack_into("<QQQQQQiI", mm, pfn * PAGE_SIZE_STRUCT, f["flags"], 0, 0, f["mapping"], 0,
                         f["private"], f["mapcount"], 1)
    mem[MEM_MAP_PFN * PAGE: MEM_MAP_PFN * PAGE + len(mm)] = mm
    # log_buf: old printk_log records
    log, buf, idx, ts = [], bytearray(PAGE), 0, 1_000_000
    for i, text in enumerate(LOG_LINES):
        size = (16 + len(text) + 7) // 8 * 8
        struct.pack_into("<QHHHBB", buf, idx, ts * (i + 1), size, len(text), 0, 0, (4 << 5) | 2)
        buf[idx + 16: idx + 16 + len(text)] = text
        log.append((ts * (i + 1), text))
        idx += size
    mem[LOG_BUF_PFN * PAGE:(LOG_BUF_PFN + 1) * PAGE] = buf
    syms = SYMS_PFN * PAGE
    text_va = lambda pa: START_KERNEL_MAP + pa - phys_base      # noqa: E731  (symbols in the kernel map)
    struct.pack_into("<Q", mem, syms + 0, kvirt(MEM_MAP_PFN))
    struct.pack_into("<Q", mem, syms + 8, kvirt(LOG_BUF_PFN))
    struct.pack_into("<III", mem, syms + 16, PAGE, 0, idx)
    # page tables: PGD -> PUD -> PMD -> PT at pfns 40..43, mapping VMALLOC_VA -> pfn 50
    if with_pgd:
        ent = lambda pfn: pfn * PAGE | 0x63                        # noqa: E731  present, rw, accessed, dirty
        struct.pack_into("<Q", mem, PGD_PFN * PAGE + ((VMALLOC_VA >> 39) & 511) * 8, ent(PGD_PFN + 1))
        struct.pack_into("<Q", mem, (PGD_PFN + 1) * PAGE + ((VMALLOC_VA >> 30) & 511) * 8, ent(PGD_PFN + 2))
        struct.pack_into("<Q", mem, (PGD_PFN + 2) * PAGE + ((VMALLOC_VA >> 21) & 511) * 8, ent(PGD_PFN + 3))
        struct.pack_into("<Q", mem, (PGD_PFN + 3) * PAGE + ((VMALLOC_VA >> 12) & 511) * 8, ent(VMALLOC_PFN))
        mem[VMALLOC_PFN * PAGE: VMALLOC_PFN * PAGE + 16] = b"vmalloc'd data!!"
    w = VmcoreInfoWriter()
    w.osrelease("6.1.0-synth")
    w.build_id("00" * 20)
    w.pagesize(PAGE)
    w.symbol("mem_map", text_va(syms + 0))
    w.size("page", PAGE_SIZE_STRUCT)
    for m, off in (("flags", 0), ("_refcount", 52), ("mapping", 24), ("lru", 8), ("_mapcount", 48), ("private", 40)):
        w.offset("page", m, off)
    for n, v in (("PG_lru", PG_LRU), ("PG_private", PG_PRIVATE), ("PG_swapcache", PG_SWAPCACHE),
                 ("PG_swapbacked", PG_SWAPBACKED), ("PG_slab", PG_SLAB), ("PAGE_BUDDY_MAPCOUNT_VALUE", BUDDY)):
        w.number(n, v)
    w.symbol("log_buf", text_va(syms + 8))
    w.symbol("log_buf_len", text_va(syms + 16))
    w.symbol("log_first_idx", text_va(syms + 20))
    w.symbol("log_next_idx", text_va(syms + 24))
    w.size("printk_log", 16)
    for m, off in (("ts_nsec", 0), ("len", 8), ("text_len", 10), ("dict_len", 12)):
        w.offset("printk_log", m, off)
    w.number("phys_base", phys_base)
    if with_pgd:
        w.symbol("init_top_pgt", text_va(PGD_PFN * PAGE))
    w.kerneloffset(0)
    w.crashtime(1_700_000_000)
    prs = [PrStatus(pid=1, regs={"rip": 0xFFFFFFFF81001234, "rsp": kvirt(3, 0xF00), "cs": 0x10, "eflags": 0x46}),
           PrStatus(pid=0, regs={"rip": 0xFFFFFFFF81005678, "rsp": kvirt(4, 0xF00), "cs": 0x10})]
    s = Synth(mem, kinds, w.text(), prs, log=log)
    s.elf = elf_bytes(s)
    return s


def elf_bytes(s: Synth, ranges: Optional[List[Tuple[int, int]]] = None) -> bytes:
    out = io.BytesIO()
    loads = [ElfLoad(a, PAGE_OFFSET + a, b - a, b - a) for a, b in (ranges or RANGES)]
    write_elf_core(StreamSink(out), build_vmcore_notes(s.prstatus, s.vmcoreinfo), loads,
                   lambda ld: [bytes(s.memory[ld.paddr:ld.paddr + ld.filesz])])
    return out.getvalue()
