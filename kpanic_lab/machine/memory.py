"""Physical memory: one host buffer shared by every CPU, and page-table walks over it.

The buffer is an anonymous ``mmap`` (zero pages cost nothing until touched),
mapped into each CPU's Unicorn instance with ``mem_map_ptr``.  Virtual
addresses are translated by walking the guest's own 4-level page tables, the
way the MMU (and crash's ``vtop``) does.
"""
from __future__ import annotations

import ctypes
import mmap
import struct
from typing import Optional, Tuple

import numpy as np

from kpanic_lab.errors import MemoryFault, ReadError
from kpanic_lab.guest.headers import PAGE_SIZE
from kpanic_lab.pagewalk import walk


class PhysicalMemory:
    """``size`` bytes of guest RAM at physical address 0."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.array = np.frombuffer(self._mm, dtype=np.uint8)
        self.address = ctypes.addressof(ctypes.c_char.from_buffer(self._mm))

    # -- physical -----------------------------------------------------------
    def _check(self, pa: int, n: int, write: bool = False) -> None:
        if pa < 0 or n < 0 or pa + n > self.size:
            why = f"outside guest RAM (0x0-0x{self.size - 1:x})"
            if write:
                raise MemoryFault(pa, n, why, physical=True, write=True)
            raise ReadError(pa, n, why, physical=True)

    def read(self, pa: int, n: int) -> bytes:
        self._check(pa, n)
        return self._mm[pa : pa + n]

    def write(self, pa: int, data: bytes) -> None:
        self._check(pa, len(data), write=True)
        self._mm[pa : pa + len(data)] = data

    def read_u64(self, pa: int) -> int:
        self._check(pa, 8)
        return int.from_bytes(self._mm[pa : pa + 8], "little")

    def write_u64(self, pa: int, v: int) -> None:
        self.write(pa, struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))

    def zero(self) -> None:
        """All of RAM back to zero, giving the host pages back (a power cycle)."""
        self._mm.madvise(mmap.MADV_DONTNEED)

    # -- virtual ------------------------------------------------------------
    def walk(self, cr3: int, va: int) -> Tuple[Optional[int], int, list]:
        """Translate ``va`` under ``cr3``.

        Returns (physical address or None, the accumulated permission bits
        P|RW|US of the walk, and the entries read per level, as crash's vtop).
        """
        w = walk(self._table_entry, cr3, va)
        return w.pa, w.perms, list(w.entries)

    def _table_entry(self, pa: int) -> Optional[int]:
        return self.read_u64(pa) if pa + 8 <= self.size else None

    def translate(self, cr3: int, va: int) -> int:
        pa, _, _ = self.walk(cr3, va)
        if pa is None:
            raise ReadError(va, 1, f"not mapped (CR3 0x{cr3:x})")
        return pa

    def read_virt(self, cr3: int, va: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            chunk = min(n, PAGE_SIZE - (va & 0xFFF))
            try:
                pa = self.translate(cr3, va)
            except MemoryFault:
                raise ReadError(va, n, f"not mapped (CR3 0x{cr3:x})") from None
            out += self.read(pa, chunk)
            va += chunk
            n -= chunk
        return bytes(out)

    def write_virt(self, cr3: int, va: int, data: bytes) -> None:
        i = 0
        while i < len(data):
            chunk = min(len(data) - i, PAGE_SIZE - (va & 0xFFF))
            try:
                pa = self.translate(cr3, va)
            except MemoryFault:
                raise MemoryFault(va, len(data) - i, f"not mapped (CR3 0x{cr3:x})", write=True) from None
            self.write(pa, data[i : i + chunk])
            va += chunk
            i += chunk

    # -- snapshots ----------------------------------------------------------
    def _pages(self) -> np.ndarray:
        return self.array.reshape(-1, PAGE_SIZE)

    def nonzero_pfns(self) -> np.ndarray:
        """Page frame numbers of every page that is not all zeros (a few ms for 256 MiB)."""
        words = self._pages().view(np.uint64)
        return np.flatnonzero(np.bitwise_or.reduce(words, axis=1))

    def save_pages(self) -> "PageSet":
        """Every non-zero page: zero pages cost nothing to keep."""
        nz = self.nonzero_pfns()
        return PageSet(nz, self._pages()[nz].copy())

    def diff_pages(self, base: "PageSet") -> "PageSet":
        """The pages whose content now differs from ``base`` (pages gone to zero included)."""
        cand = np.union1d(self.nonzero_pfns(), base.pfns)
        now = self._pages()[cand]
        then = base.contents(cand)
        changed = np.flatnonzero((now != then).any(axis=1))
        return PageSet(cand[changed], now[changed].copy())

    def restore_pages(self, saved: "PageSet") -> None:
        """Memory back to exactly ``saved`` (a full set of non-zero pages)."""
        self.zero()
        self._pages()[saved.pfns] = saved.data

    def restore_delta(self, base: "PageSet", delta: "PageSet") -> None:
        """Memory back to ``base`` changed by ``delta``, touching only the pages that differ."""
        fix = np.union1d(self.diff_pages(base).pfns, delta.pfns)
        if len(fix):
            content = base.contents(fix)
            if len(delta.pfns):
                idx = np.searchsorted(delta.pfns, fix)
                idx[idx >= len(delta.pfns)] = 0
                hit = delta.pfns[idx] == fix
                content[hit] = delta.data[idx[hit]]
            self._pages()[fix] = content

    def digest_source(self) -> bytes:
        """What identifies the memory's content: the non-zero pages and where they are."""
        s = self.save_pages()
        return s.pfns.tobytes() + s.data.tobytes()


class PageSet:
    """Some pages of memory: sorted page frame numbers and their 4 KiB contents."""

    def __init__(self, pfns: np.ndarray, data: np.ndarray) -> None:
        self.pfns = pfns.astype(np.int64)
        self.data = data

    def __len__(self) -> int:
        return len(self.pfns)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def contents(self, pfns: np.ndarray) -> np.ndarray:
        """The content of each of ``pfns`` in this set (zeros for pages not in it)."""
        out = np.zeros((len(pfns), PAGE_SIZE), dtype=np.uint8)
        if len(self.pfns) and len(pfns):
            idx = np.searchsorted(self.pfns, pfns)
            idx[idx >= len(self.pfns)] = 0
            hit = self.pfns[idx] == pfns
            out[hit] = self.data[idx[hit]]
        return out
