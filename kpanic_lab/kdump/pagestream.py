"""A dump's page frames in cycles of bounded size, as makedumpfile's cyclic mode reads them.

makedumpfile does not hold one bit per page frame of the whole machine: it walks the pfns in
*cycles*, each with a bitmap that fits its ``--cyclic-buffer``, and for every cycle decides
which frames are RAM (the 1st bitmap) and which it keeps (the 2nd), reading only that cycle's
``struct page`` entries.  The lab does the same here; what a cycle costs is bounded by
``cyclic_buffer`` bytes, whatever the dump's size:

    Cycle(lo, hi)     pfns [lo, hi): a multiple of 1024 pages (2^(MAX_ORDER-1)), so a free
                      buddy block, which the allocator aligns to its own size, never crosses two
                      cycles
    ram               1st bitmap of the cycle (pfn is in a range of the dump)
    saved             the input holds the page (an ELF PT_LOAD's file part, a kdump 2nd bitmap)
    kind              what -d excludes it as (pageclass.KINDS index, 255 = kept)

``PageReader.read(pfns)`` gathers pages with ``os.preadv`` straight from the input file (not
through a memory map, whose touched pages would count as resident memory for the whole dump);
a page the input does not hold reads as zeros.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from kpanic_lab.dumplevel import DL_EXCLUDE_ZERO, MAX_DUMP_LEVEL
from kpanic_lab.errors import LabError
from kpanic_lab.formats.codecs import CodecError, CodecUnavailable, codec_for_flags
from kpanic_lab.formats.diskdump import KdumpFile
from kpanic_lab.formats.dump import DIRECT_MAP_SIZE, Dump
from kpanic_lab.formats.elfcore import ElfCore
from kpanic_lab.formats.errors import DumpError
from kpanic_lab.guest.headers import PAGE_SIZE, START_KERNEL_MAP
from kpanic_lab.kdump.pageclass import KINDS, Exclusion, PageClassError, PageLayout, classify_pages

CYCLE_ALIGN = 1024                  # 2^(MAX_ORDER-1) pages: the largest buddy block
MIN_CYCLE = 32 * CYCLE_ALIGN        # 128 MiB of RAM per cycle at least
DEFAULT_CYCLIC_BUFFER = 16 << 20    # bytes of per-cycle state (struct pages + bitmaps)
_PER_PFN = 24                       # bytes per pfn besides its struct page: masks, kinds, temporaries
_RUN_BYTES = 4 << 20                # read_virtual reads at most this much at once


class PageStreamError(LabError):
    """The dump cannot be walked: its mem_map is not in it, or a page cannot be read."""


@dataclass
class Cycle:
    """One cycle's pfns and what makedumpfile decides about them."""

    lo: int
    hi: int
    ram: np.ndarray                 # bool per pfn in [lo, hi)
    saved: np.ndarray               # bool: the input holds the page
    kind: np.ndarray                # uint8 KINDS index, 255 = not excluded by struct page

    @property
    def keep(self) -> np.ndarray:
        """The 2nd bitmap before zero pages: RAM, held by the input, not excluded."""
        return self.ram & self.saved & (self.kind == 255)

    def counts(self) -> List[int]:
        """Pages excluded per kind (KINDS order), RAM pages only."""
        k = self.kind[self.ram & (self.kind != 255)]
        return [int(c) for c in np.bincount(k, minlength=len(KINDS))[:len(KINDS)]]


class PageReader:
    """Pages of a dump by pfn, read in bulk without mapping the whole file."""

    def __init__(self, dump: Dump) -> None:
        self.dump = dump
        self.src = src = dump.source
        self.ranges: List[Tuple[int, int]] = list(src.ranges)
        self.max_mapnr = -(-max(b for _, b in self.ranges) // PAGE_SIZE) if self.ranges else 0
        self._fd: Optional[int] = None
        try:
            self._fd = src.view.stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._mode = "generic"
        if isinstance(src, KdumpFile):
            self._mode = "kdump"
        elif isinstance(src, ElfCore) and type(src).read_pages is ElfCore.read_pages:
            self._mode = "elf"
        self._elf_saved: List[Tuple[int, int]] = []
        self._segs: List[Tuple[int, int, int]] = []
        if isinstance(src, ElfCore):
            # makedumpfile's exclude_nodata_pages: a page only partly in a PT_LOAD's file part
            # (p_paddr + p_filesz not page-aligned) is not dumped
            self._elf_saved = [(s.paddr // PAGE_SIZE, (s.paddr + s.filesz) // PAGE_SIZE) for s in src.loads]
            self._segs = src.page_segments()

    # -- bitmaps of [lo, hi)
    def ram(self, lo: int, hi: int) -> np.ndarray:
        bits = np.zeros(hi - lo, dtype=bool)
        for a, b in self.ranges:
            s, e = max(lo, a // PAGE_SIZE), min(hi, -(-b // PAGE_SIZE))
            if s < e:
                bits[s - lo:e - lo] = True
        return bits

    def saved(self, lo: int, hi: int) -> np.ndarray:
        if isinstance(self.src, KdumpFile):
            bits = np.zeros(hi - lo, dtype=bool)
            part = self.src.bitmap2[lo:hi]
            bits[:len(part)] = part
            return bits
        if isinstance(self.src, ElfCore):
            bits = np.zeros(hi - lo, dtype=bool)
            for a, b in self._elf_saved:
                s, e = max(lo, a), min(hi, b)
                if s < e:
                    bits[s - lo:e - lo] = True
            return bits
        return self.ram(lo, hi)

    # -- page contents
    def read(self, pfns: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The pages at ``pfns`` (ascending) as a (len, 4096) uint8 array; zeros where not held.
        ``out``, a (len, 4096) uint8 array, is filled (every row) and returned instead of a new
        one: a buffer used again for every batch costs no page faults."""
        pfns = np.asarray(pfns, dtype=np.int64)
        if out is None:
            out = np.empty((len(pfns), PAGE_SIZE), dtype=np.uint8)
        if len(pfns) == 0:
            return out
        held = self.saved(int(pfns[0]), int(pfns[-1]) + 1)[pfns - pfns[0]]
        if not held.all():
            out[~held] = 0
        if self._mode == "elf" and self._fd is not None:
            return self._read_elf(pfns, held, out)
        if self._mode == "kdump":
            return self._read_kdump(pfns, held, out)
        if held.any():
            out[held] = self.src.read_pages(pfns[held])
        return out

    def _read_elf(self, pfns: np.ndarray, held: np.ndarray, out: np.ndarray) -> np.ndarray:
        assert self._fd is not None
        done = ~held
        for first, count, off in self._segs:
            i0, i1 = np.searchsorted(pfns, [first, first + count])
            if i0 >= i1:
                continue
            p = pfns[i0:i1]
            breaks = np.nonzero(np.diff(p) != 1)[0] + 1
            for s, e in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(p)]))):
                a = int(i0 + s)
                n = int(e - s)
                buf = memoryview(out[a:a + n]).cast("B")  # type: ignore[arg-type]
                where = off + (int(p[s]) - first) * PAGE_SIZE
                got = os.preadv(self._fd, [buf], where)
                if got != n * PAGE_SIZE:
                    raise DumpError(self.src.name, where, f"truncated: read {got} of {n * PAGE_SIZE} bytes")
            done[i0:i1] = True
        for i in np.nonzero(~done)[0]:          # a page only partly in a PT_LOAD
            out[i] = np.frombuffer(self.src.read_page_filled(int(pfns[i])), dtype=np.uint8)
        return out

    def _read_kdump(self, pfns: np.ndarray, held: np.ndarray, out: np.ndarray) -> np.ndarray:
        src = self.src
        assert isinstance(src, KdumpFile)
        rows = np.nonzero(held)[0]
        if not len(rows):
            return out
        descs = src.page_descs(pfns[rows])
        offs, sizes, flags = descs["offset"].astype(np.int64), descs["size"].astype(np.int64), descs["flags"]
        cut = offs == 0                                  # cut off (an incomplete dump)
        out[rows[cut]] = 0
        odd = ~cut if self._fd is None else ~cut & (sizes > PAGE_SIZE)
        for i in rows[odd]:                              # read_page says what is wrong with them
            out[i] = np.frombuffer(src.read_page(int(pfns[i])), dtype=np.uint8)
        take = np.nonzero(~cut & ~odd)[0]
        if not len(take):
            return out
        blobs = self._blobs(offs[take], sizes[take])
        for j, blob in zip(take, blobs):
            pfn, off = int(pfns[rows[j]]), int(offs[j])
            if len(blob) < int(sizes[j]):
                raise DumpError(src.name, off, f"truncated: the {int(sizes[j])} bytes of pfn 0x{pfn:x} run past "
                                "the end of the file")
            try:
                codec = codec_for_flags(int(flags[j]))
                page = codec.decompress(blob, PAGE_SIZE) if codec else blob
            except (CodecError, CodecUnavailable) as e:
                raise DumpError(src.name, off, f"cannot read pfn 0x{pfn:x}: {e}") from None
            if len(page) != PAGE_SIZE:
                raise DumpError(src.name, off, f"corrupted page_desc for pfn 0x{pfn:x}: {int(sizes[j])} raw bytes")
            out[rows[j]] = np.frombuffer(page, dtype=np.uint8)
        return out

    def _blobs(self, offs: np.ndarray, sizes: np.ndarray) -> List[bytes]:
        """The stored bytes at (offset, size) each: one pread per run of blobs that follow each other
        in the file (pages are written in pfn order; a shared zero page is read once)."""
        assert self._fd is not None
        out: List[bytes] = []
        breaks = np.nonzero(offs[1:] != offs[:-1] + sizes[:-1])[0] + 1
        seen: Dict[Tuple[int, int], bytes] = {}
        for a, b in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(offs)]))):
            a, b = int(a), int(b)
            start, end = int(offs[a]), int(offs[b - 1] + sizes[b - 1])
            if b - a == 1 and (start, end) in seen:
                out.append(seen[(start, end)])
                continue
            chunk = os.pread(self._fd, end - start, start)
            if b - a == 1:
                seen[(start, end)] = chunk
                out.append(chunk)
                continue
            view = memoryview(chunk)
            out.extend(bytes(view[int(o) - start:int(o) - start + int(n)]) for o, n in zip(offs[a:b], sizes[a:b]))
        return out

    def read_virtual(self, va: int, size: int) -> np.ndarray:
        """``size`` bytes at a kernel virtual address, every page of it held by the input (uint8)."""
        out = np.empty(size, dtype=np.uint8)
        pos, end = va, va + size
        while pos < end:
            pa0 = self.dump.vtop(pos)
            n = self._linear(pos, min(end - pos, _RUN_BYTES), pa0)
            first, last = pa0 // PAGE_SIZE, -(-(pa0 + n) // PAGE_SIZE)
            if not (self.saved(first, last) & self.ram(first, last)).all():
                raise PageStreamError(f"0x{pos:x}+0x{n:x} (physical 0x{pa0:x}) is not all in {self.dump.name}")
            rel = pa0 - first * PAGE_SIZE
            if rel == 0 and n % PAGE_SIZE == 0:      # whole pages (mem_map in a cycle): read in place
                self.read(np.arange(first, last), out[pos - va:pos - va + n].reshape(-1, PAGE_SIZE))
            else:
                out[pos - va:pos - va + n] = self.read(np.arange(first, last)).reshape(-1)[rel:rel + n]
            pos += n
        return out

    def _linear(self, va: int, n: int, pa: int) -> int:
        """How many of the ``n`` bytes from ``va`` are physically contiguous from ``pa``."""
        d = self.dump
        for base, span in ((d.page_offset, DIRECT_MAP_SIZE), (START_KERNEL_MAP, d.kernel_image_size)):
            if base <= va and va + n <= base + span:
                return n                # one linear mapping: the direct map, or the kernel image
        done = min(n, PAGE_SIZE - va % PAGE_SIZE)
        while done < n and d.vtop(va + done) == pa + done:
            done += min(n - done, PAGE_SIZE)
        return done


class CycleWalk:
    """The cycles of one makedumpfile run: ``for c in walk:`` gives each Cycle in pfn order."""

    def __init__(self, dump: Dump, dump_level: int, cyclic_buffer: int = DEFAULT_CYCLIC_BUFFER,
                 reader: Optional[PageReader] = None, classify_level: Optional[int] = None) -> None:
        """``classify_level``: the bits struct page is read for (default ``dump_level``); less when
        the input was filtered already and its missing pages stand for the bits it had."""
        if not 0 <= dump_level <= MAX_DUMP_LEVEL:
            raise PageStreamError(f"dump level {dump_level} is out of range (0 .. {MAX_DUMP_LEVEL})")
        self.dump, self.dump_level = dump, dump_level
        self.classify_level = dump_level if classify_level is None else classify_level
        self.reader = reader or PageReader(dump)
        self.max_mapnr = self.reader.max_mapnr
        self.layout: Optional[PageLayout] = None
        self.mem_map = 0
        if self.classify_level & ~DL_EXCLUDE_ZERO & MAX_DUMP_LEVEL:
            if not dump.vmcoreinfo:
                raise PageStreamError(f"-d {dump_level} needs the kernel's VMCOREINFO to read struct page, "
                                      f"and {dump.name} has none (only -d 0 or -d 1 work without it)")
            try:
                self.layout = PageLayout.from_vmcoreinfo(dump.vmcoreinfo)
                sym = dump.vmcoreinfo.symbol("mem_map")
                self.mem_map = int.from_bytes(self.reader.read_virtual(sym, 8).tobytes(), "little")
            except (PageClassError, LabError) as e:
                raise PageStreamError(f"-d {dump_level}: {e}") from None
        per_pfn = _PER_PFN + (self.layout.size if self.layout else 0)
        pages = max(MIN_CYCLE, int(cyclic_buffer) // per_pfn // CYCLE_ALIGN * CYCLE_ALIGN)
        self.pfns_per_cycle = pages

    @property
    def ncycles(self) -> int:
        return -(-self.max_mapnr // self.pfns_per_cycle)

    def bounds(self) -> Iterator[Tuple[int, int]]:
        for lo in range(0, self.max_mapnr, self.pfns_per_cycle):
            yield lo, min(self.max_mapnr, lo + self.pfns_per_cycle)

    def cycle(self, lo: int, hi: int) -> Cycle:
        r = self.reader
        ram = r.ram(lo, hi)
        saved = r.saved(lo, hi)
        kind = np.full(hi - lo, 255, dtype=np.uint8)
        if self.layout is not None:
            size = self.layout.size
            try:
                raw = r.read_virtual(self.mem_map + lo * size, (hi - lo) * size)
            except (LabError, ValueError) as e:
                raise PageStreamError(f"-d {self.dump_level}: cannot read struct page of pfns "
                                      f"0x{lo:x}-0x{hi - 1:x} (mem_map 0x{self.mem_map:x}): {e}") from None
            kind = classify_pages(raw, self.layout, self.classify_level, ram).kind
        return Cycle(lo, hi, ram, saved, kind)

    def __iter__(self) -> Iterator[Cycle]:
        for lo, hi in self.bounds():
            yield self.cycle(lo, hi)

    def exclusion(self) -> Exclusion:
        """The whole dump's Exclusion (one byte per pfn: for small dumps, views and tests)."""
        cycles = list(self)
        counts = [sum(x) for x in zip(*(c.counts() for c in cycles))] if cycles else [0] * len(KINDS)
        return Exclusion(np.concatenate([c.kind for c in cycles]) if cycles else np.zeros(0, np.uint8),
                         dict(zip(KINDS, counts)))
