"""What every dump reader gives: physical memory by address, and pages in bulk.

``FileView`` reads any seekable binary stream; when the stream can lend its bytes without a
copy (a real file through ``mmap``, a ``BytesIO`` through ``getbuffer``) it does, so a 256 MiB
vmcore is gathered page by page with numpy instead of being read twice.

``PhysicalSource`` is the reader interface above the formats: ``ranges``, ``read_physical``,
``saved_bitmap`` and ``read_pages``; ``Dump`` adds virtual addresses on top of it.
"""
from __future__ import annotations

import io
from abc import ABC, abstractmethod
import mmap
from typing import BinaryIO, List, Optional, Tuple

import numpy as np

from kpanic_lab.errors import MemoryFault
from kpanic_lab.formats.errors import DumpError
from kpanic_lab.guest.headers import PAGE_SIZE


class FileView:
    """Random access to a stream's bytes; ``buffer`` is a zero-copy view when one exists."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream, self.name = stream, name
        self.buffer: Optional[memoryview] = None
        self._mmap: Optional[mmap.mmap] = None
        try:
            stream.seek(0, io.SEEK_END)
            self.size = stream.tell()
            stream.seek(0)
        except (OSError, AttributeError, ValueError) as e:
            raise DumpError(name, None, f"cannot seek in it ({e}); give a file, not a pipe "
                            "(a flattened dump from a pipe: makedumpfile -R first)") from None
        if isinstance(stream, io.BytesIO):
            self.buffer = stream.getbuffer()
        else:
            try:
                if self.size:
                    self._mmap = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
                    self.buffer = memoryview(self._mmap)
            except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
                self.buffer = None

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes at ``offset``; fewer in the file is a DumpError ("truncated")."""
        if offset < 0 or n < 0 or offset + n > self.size:
            raise DumpError(self.name, offset, f"truncated: wants {n} bytes, the file has "
                            f"{max(0, self.size - offset)} from here")
        if self.buffer is not None:
            return bytes(self.buffer[offset:offset + n])
        self.stream.seek(offset)
        data = self.stream.read(n)
        if len(data) != n:
            raise DumpError(self.name, offset, f"truncated: read {len(data)} of {n} bytes")
        return data

    def array(self, offset: int, n: int) -> np.ndarray:
        """The same bytes as a uint8 array (a view of the file when possible)."""
        if self.buffer is not None and 0 <= offset and offset + n <= self.size:
            return np.frombuffer(self.buffer, dtype=np.uint8, count=n, offset=offset)
        return np.frombuffer(self.read(offset, n), dtype=np.uint8)

    def close(self) -> None:
        if self.buffer is not None:
            self.buffer.release()
            self.buffer = None
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:     # numpy views still alive: the mapping goes with them
                pass
            self._mmap = None


class PhysicalSource(ABC):
    """The physical memory of one dump file (subclasses: ElfCore, KdumpFile)."""

    name: str = "vmcore"
    format: str = ""
    prstatus: list
    vmcoreinfo_raw: Optional[bytes] = None
    dump_level: Optional[int] = None
    page_offset: Optional[int] = None
    view: FileView

    @property
    @abstractmethod
    def ranges(self) -> List[Tuple[int, int]]:
        """The physical ranges [start, end) the dump describes (RAM, saved or excluded)."""

    @abstractmethod
    def read_physical(self, paddr: int, size: int) -> bytes:
        """``size`` bytes at physical ``paddr`` (ReadError, PageExcluded when not in the dump)."""

    @property
    def max_mapnr(self) -> int:
        """Number of page frames up to the end of the last range (makedumpfile's max_mapnr)."""
        return -(-max(e for _, e in self.ranges) // PAGE_SIZE) if self.ranges else 0

    def ram_bitmap(self) -> np.ndarray:
        """pfn -> in a range (makedumpfile's 1st bitmap: a partial last page counts)."""
        bm = np.zeros(self.max_mapnr, dtype=bool)
        for a, b in self.ranges:
            bm[a // PAGE_SIZE: -(-b // PAGE_SIZE)] = True
        return bm

    def saved_bitmap(self) -> np.ndarray:
        """pfn -> its page is in the file (makedumpfile's 2nd bitmap)."""
        return self.ram_bitmap()

    def read_pages(self, pfns: np.ndarray) -> np.ndarray:
        """The pages at ``pfns`` as a (len, 4096) uint8 array; bytes outside every range read as 0."""
        out = np.zeros((len(pfns), PAGE_SIZE), dtype=np.uint8)
        for i, pfn in enumerate(pfns):
            out[i] = np.frombuffer(self.read_page_filled(int(pfn)), dtype=np.uint8)
        return out

    def read_page_filled(self, pfn: int) -> bytes:
        """One page; the parts no range covers (a fractional page) are zeros, as makedumpfile reads them."""
        base = pfn * PAGE_SIZE
        try:
            return self.read_physical(base, PAGE_SIZE)
        except MemoryFault:
            pass
        buf = bytearray(PAGE_SIZE)
        for a, b in self.ranges:
            lo, hi = max(a, base), min(b, base + PAGE_SIZE)
            if lo < hi:
                buf[lo - base:hi - base] = self.read_physical(lo, hi - lo)
        return bytes(buf)

    def close(self) -> None:
        self.view.close()
