"""The kdump-compressed format: makedumpfile's default output (``file``: "Kdump compressed dump v6").

    offset                        what
    0                             struct disk_dump_header   (signature "KDUMP   ", header_version 6)
    block_size                    struct kdump_sub_header, then the ELF notes (NT_PRSTATUS per CPU,
                                  VMCOREINFO) it points at: sub_hdr_size blocks
    (1 + sub_hdr_size) * block    1st bitmap: pfn is RAM          } bitmap_blocks blocks,
                                  2nd bitmap: pfn is in the dump  } half each, bit pfn%8 of byte pfn/8
    (1 + sub + bitmap) * block    struct page_desc for each pfn set in the 2nd bitmap, in pfn order
                                  page data: [the shared zero page,] then each page, compressed or raw

``page_desc.flags`` names the page's compression (DUMP_DH_COMPRESSED_ZLIB/LZO/SNAPPY/ZSTD) or 0
for a raw page.  With ``-d 1`` every zero page points at one shared zero page.

Layers: the structs, ``write_kdump`` (to a Sink), ``KdumpFile`` (a reader over any stream).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterable, List, Optional, Tuple

import numpy as np

from kpanic_lab.errors import MemoryFault, ReadError
from kpanic_lab.formats.codecs import (DUMP_DH_COMPRESSED_INCOMPLETE, CodecError, CodecUnavailable,
                                       codec_for_flags)
from kpanic_lab.formats.elfcore import parse_notes, split_notes
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.sink import Sink
from kpanic_lab.formats.source import FileView, PhysicalSource
from kpanic_lab.guest.headers import PAGE_SIZE

KDUMP_SIGNATURE = b"KDUMP   "
DISKDUMP_SIGNATURE = b"DISKDUMP"
HEADER_VERSION = 6

# struct disk_dump_header (x86-64): 8s i utsname(6 x 65s) pad(6) timeval(qq) 9 x int = 464 bytes
DISK_DUMP_HEADER = struct.Struct("<8si65s65s65s65s65s65s6xqqIiiIIIIIIi")
# struct kdump_sub_header (x86-64, header_version 6) = 104 bytes
KDUMP_SUB_HEADER = struct.Struct("<QiiQQqQqQqQQQQ")
# struct page_desc = 24 bytes
PAGE_DESC = np.dtype([("offset", "<i8"), ("size", "<u4"), ("flags", "<u4"), ("page_flags", "<u8")])
assert DISK_DUMP_HEADER.size == 464 and KDUMP_SUB_HEADER.size == 104 and PAGE_DESC.itemsize == 24

UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")


@dataclass(frozen=True)
class Utsname:
    sysname: str = "Linux"
    nodename: str = "(none)"
    release: str = ""
    version: str = ""
    machine: str = "x86_64"
    domainname: str = "(none)"


@dataclass
class DiskDumpHeader:
    utsname: Utsname = field(default_factory=Utsname)
    header_version: int = HEADER_VERSION
    timestamp: Tuple[int, int] = (0, 0)
    status: int = 0
    block_size: int = PAGE_SIZE
    sub_hdr_size: int = 1
    bitmap_blocks: int = 0
    max_mapnr: int = 0
    total_ram_blocks: int = 0
    device_blocks: int = 0
    written_blocks: int = 0
    current_cpu: int = 0
    nr_cpus: int = 1
    signature: bytes = KDUMP_SIGNATURE

    def pack(self) -> bytes:
        uts = [getattr(self.utsname, f).encode()[:64] for f in UTS_FIELDS]
        return DISK_DUMP_HEADER.pack(self.signature, self.header_version, *uts, *self.timestamp,
                                     self.status, self.block_size, self.sub_hdr_size, self.bitmap_blocks,
                                     min(self.max_mapnr, 0xFFFFFFFF), self.total_ram_blocks,
                                     self.device_blocks, self.written_blocks, self.current_cpu, self.nr_cpus)

    @classmethod
    def unpack(cls, data: bytes) -> "DiskDumpHeader":
        f = DISK_DUMP_HEADER.unpack_from(data)
        uts = Utsname(*(b.split(b"\0", 1)[0].decode("latin-1") for b in f[2:8]))
        return cls(uts, header_version=f[1], timestamp=(f[8], f[9]), status=f[10], block_size=f[11],
                   sub_hdr_size=f[12], bitmap_blocks=f[13], max_mapnr=f[14], total_ram_blocks=f[15],
                   device_blocks=f[16], written_blocks=f[17], current_cpu=f[18], nr_cpus=f[19], signature=f[0])


@dataclass
class KdumpSubHeader:
    phys_base: int = 0
    dump_level: int = 0
    split: int = 0
    start_pfn: int = 0
    end_pfn: int = 0
    offset_vmcoreinfo: int = 0
    size_vmcoreinfo: int = 0
    offset_note: int = 0
    size_note: int = 0
    offset_eraseinfo: int = 0
    size_eraseinfo: int = 0
    start_pfn_64: int = 0
    end_pfn_64: int = 0
    max_mapnr_64: int = 0

    def pack(self) -> bytes:
        # phys_base is an unsigned long there, and negative under KASLR when the kernel sits below
        # its link address (Linux prints NUMBER(phys_base)=-511705088): written as its two's complement
        values = [getattr(self, f) for f in self.__dataclass_fields__]
        values[0] &= (1 << 64) - 1
        return KDUMP_SUB_HEADER.pack(*values)

    @classmethod
    def unpack(cls, data: bytes) -> "KdumpSubHeader":
        return cls(*KDUMP_SUB_HEADER.unpack_from(data))


def bitmap_blocks_for(max_mapnr: int, block_size: int = PAGE_SIZE) -> int:
    """Blocks of both bitmaps: each one rounded up to whole blocks, as makedumpfile's len_bitmap."""
    return 2 * -(-max_mapnr // (8 * block_size))


def pack_bitmap(bits: np.ndarray, nbytes: int) -> bytes:
    packed = np.packbits(bits.astype(bool), bitorder="little").tobytes()
    return packed + bytes(nbytes - len(packed))


# ---------------------------------------------------------------- writer
class KdumpWriter:
    """Writes a kdump-compressed dump piece by piece, as makedumpfile's cyclic mode does.

    The file's layout is fixed once the number of page descriptors is known (makedumpfile's
    ``num_dumpable``, counted in a first pass): the headers go first, then each cycle's part of
    both bitmaps, its page descriptors and its page data are written at their offsets, the
    bitmaps and descriptors back-filling the space reserved before the data.  Nothing grows
    with the dump but the offsets.

    >>> import io; from kpanic_lab.formats.sink import StreamSink
    >>> w = KdumpWriter(StreamSink(io.BytesIO()), DiskDumpHeader(), KdumpSubHeader(), b"", None, 8, 0, False)
    >>> w.bitmaps(0, np.ones(8, bool), np.zeros(8, bool)); w.finish()
    16384
    """

    def __init__(self, sink: Sink, header: DiskDumpHeader, sub: KdumpSubHeader, notes: bytes,
                 vmcoreinfo_in_notes: Optional[Tuple[int, int]], max_mapnr: int, ndesc: int,
                 zero_page: bool) -> None:
        self.sink, self.header = sink, header
        bs = header.block_size
        header.max_mapnr = max_mapnr
        header.sub_hdr_size = -(-(KDUMP_SUB_HEADER.size + len(notes)) // bs)
        header.bitmap_blocks = bitmap_blocks_for(max_mapnr, bs)
        sub.max_mapnr_64 = max_mapnr
        if notes:
            sub.offset_note, sub.size_note = bs + KDUMP_SUB_HEADER.size, len(notes)
            if vmcoreinfo_in_notes is not None:
                sub.offset_vmcoreinfo = sub.offset_note + vmcoreinfo_in_notes[0]
                sub.size_vmcoreinfo = vmcoreinfo_in_notes[1]
        self.max_mapnr, self.ndesc = max_mapnr, ndesc
        self.half = header.bitmap_blocks * bs // 2
        self.bitmap_off = (1 + header.sub_hdr_size) * bs
        self.desc_off = self.bitmap_off + 2 * self.half
        self.data_off = self.desc_off + PAGE_DESC.itemsize * ndesc
        self.pos = self.data_off
        self.index = 0
        self.zero_page = zero_page
        sink.write_at(0, header.pack())
        sink.write_at(bs, sub.pack() + notes)

    def bitmap1(self, lo: int, bits: np.ndarray) -> None:
        """The 1st bitmap's bits (pfn is RAM) for pfns lo .. lo+len-1 (``lo`` a multiple of 8)."""
        self._bitmap(0, lo, bits)

    def bitmap2(self, lo: int, bits: np.ndarray) -> None:
        """The 2nd bitmap's bits (pfn is in the dump) for pfns lo .. lo+len-1."""
        self._bitmap(self.half, lo, bits)

    def bitmaps(self, lo: int, bitmap1: np.ndarray, bitmap2: np.ndarray) -> None:
        self.bitmap1(lo, bitmap1)
        self.bitmap2(lo, bitmap2)

    def _bitmap(self, half: int, lo: int, bits: np.ndarray) -> None:
        if lo % 8 or lo < 0 or lo + len(bits) > self.max_mapnr:
            raise ValueError(f"bitmap part at pfn {lo} of {len(bits)} bits does not fit {self.max_mapnr}")
        self.sink.write_at(self.bitmap_off + half + lo // 8, pack_bitmap(bits, -(-len(bits) // 8)))

    def _zero_page(self) -> None:
        if self.zero_page and self.pos == self.data_off:
            self.sink.write_at(self.pos, bytes(PAGE_SIZE))
            self.pos += PAGE_SIZE

    def pages(self, sizes: np.ndarray, flags: np.ndarray, shared_zero: np.ndarray, data: bytes) -> None:
        """The next pages in pfn order: their descriptors, and ``data``, the stored bytes of those
        that are not shared zero pages."""
        n = len(sizes)
        if self.index + n > self.ndesc:
            raise ValueError(f"{self.index + n} pages written, the 2nd bitmap has {self.ndesc}")
        self._zero_page()
        descs = np.zeros(n, dtype=PAGE_DESC)
        own = ~shared_zero
        own_sizes = sizes[own].astype(np.int64)
        if int(own_sizes.sum()) != len(data):
            raise ValueError(f"page data is {len(data)} bytes, the descriptors say {int(own_sizes.sum())}")
        descs["offset"][own] = self.pos + np.concatenate(([0], np.cumsum(own_sizes)[:-1])) if len(own_sizes) else 0
        descs["size"][own] = own_sizes
        descs["flags"][own] = flags[own]
        descs["offset"][shared_zero] = self.data_off
        descs["size"][shared_zero] = PAGE_SIZE
        self.sink.write_at(self.desc_off + PAGE_DESC.itemsize * self.index, descs.tobytes())
        if data:
            self.sink.write_at(self.pos, data)
        self.pos += len(data)
        self.index += n

    def mark_incomplete(self) -> None:
        """Rewrite the header with DUMP_DH_COMPRESSED_INCOMPLETE: the disk filled up (makedumpfile's
        check_and_modify_kdump_headers); the page descriptors never written stay zero."""
        self.header.status |= DUMP_DH_COMPRESSED_INCOMPLETE
        self.sink.write_at(0, self.header.pack())

    def finish(self) -> int:
        """Check every reserved descriptor was written; returns the file size."""
        if self.index != self.ndesc:
            raise ValueError(f"{self.index} page descriptors written, {self.ndesc} reserved")
        self._zero_page()
        return self.pos


def write_kdump(sink: Sink, header: DiskDumpHeader, sub: KdumpSubHeader, notes: bytes,
                vmcoreinfo_in_notes: Optional[Tuple[int, int]], bitmap1: np.ndarray, bitmap2: np.ndarray,
                sizes: np.ndarray, flags: np.ndarray, shared_zero: np.ndarray,
                data: Iterable[bytes], zero_page: bool) -> int:
    """Lay out and write a whole kdump-compressed dump at once; returns the file size.

    ``sizes``/``flags``/``shared_zero`` have one entry per page set in ``bitmap2`` (pfn order);
    ``data`` yields the stored bytes of every page that is not a shared zero page, in order.
    ``zero_page``: write the shared zero page (makedumpfile does with ``-d 1``).
    """
    n = int(np.count_nonzero(bitmap2))
    if not (len(sizes) == len(flags) == len(shared_zero) == n):
        raise ValueError(f"{n} pages in the 2nd bitmap, but {len(sizes)} sizes")
    w = KdumpWriter(sink, header, sub, notes, vmcoreinfo_in_notes, len(bitmap1), n, zero_page)
    w.bitmaps(0, bitmap1, bitmap2)
    w.pages(sizes, flags, shared_zero, b"".join(data))
    return w.finish()


# ---------------------------------------------------------------- reader
class KdumpFile(PhysicalSource):
    """A kdump-compressed dump over a seekable stream."""

    format = "kdump"

    def __init__(self, stream: BinaryIO, name: str = "vmcore") -> None:
        self.name = name
        self.view = v = FileView(stream, name)
        if v.size < DISK_DUMP_HEADER.size:
            raise DumpError(name, v.size, f"truncated: {v.size} bytes is less than a disk_dump_header")
        h = self.header = DiskDumpHeader.unpack(v.read(0, DISK_DUMP_HEADER.size))
        if h.signature == DISKDUMP_SIGNATURE:
            raise DumpError(name, 0, "a diskdump file (signature DISKDUMP): only kdump-compressed is read here")
        if h.signature != KDUMP_SIGNATURE:
            raise DumpError(name, 0, f"wrong magic {h.signature!r}: not a kdump-compressed dump")
        if h.block_size != PAGE_SIZE:
            raise DumpError(name, 0x1ac, f"corrupted: block_size {h.block_size} (x86-64 dumps use {PAGE_SIZE})")
        if not 1 <= h.header_version <= 64 or h.sub_hdr_size < 1 or h.bitmap_blocks < 2:
            raise DumpError(name, 8, f"corrupted: header_version {h.header_version}, sub_hdr_size "
                            f"{h.sub_hdr_size}, bitmap_blocks {h.bitmap_blocks}")
        self.sub = KdumpSubHeader.unpack(v.read(PAGE_SIZE, KDUMP_SUB_HEADER.size)) \
            if h.header_version >= 6 else self._old_sub(h.header_version)
        max_mapnr = self.sub.max_mapnr_64 if h.header_version >= 6 else h.max_mapnr
        half = h.bitmap_blocks * PAGE_SIZE // 2
        if max_mapnr > half * 8 or max_mapnr == 0:
            raise DumpError(name, 0x1b8, f"corrupted: max_mapnr {max_mapnr} does not fit {half}-byte bitmaps")
        self._max_mapnr = max_mapnr
        bitmap_off = (1 + h.sub_hdr_size) * PAGE_SIZE
        raw = v.array(bitmap_off, 2 * half)
        self.bitmap1 = np.unpackbits(raw[:half], bitorder="little")[:max_mapnr].astype(bool)
        self.bitmap2 = np.unpackbits(raw[half:], bitorder="little")[:max_mapnr].astype(bool) & self.bitmap1
        self._index = np.cumsum(self.bitmap2, dtype=np.int64) - 1
        self.desc_offset = bitmap_off + 2 * half
        ndesc = int(self._index[-1]) + 1 if max_mapnr else 0
        avail = max(0, min(ndesc, (v.size - self.desc_offset) // PAGE_DESC.itemsize))
        self.descs = np.frombuffer(v.read(self.desc_offset, avail * PAGE_DESC.itemsize), dtype=PAGE_DESC)
        self.notes = []
        if h.header_version >= 4 and self.sub.size_note:
            try:
                self.notes = parse_notes(v.read(self.sub.offset_note, self.sub.size_note))
            except ValueError as e:
                raise DumpError(name, self.sub.offset_note, f"corrupted ELF notes: {e}") from None
        self.prstatus, _ = split_notes(self.notes, name)
        self.vmcoreinfo_raw = (v.read(self.sub.offset_vmcoreinfo, self.sub.size_vmcoreinfo)
                               if h.header_version >= 3 and self.sub.size_vmcoreinfo else None)
        self.dump_level = self.sub.dump_level
        self.incomplete = bool(h.status & DUMP_DH_COMPRESSED_INCOMPLETE)
        self._cache: Dict[int, bytes] = {}

    def _old_sub(self, version: int) -> KdumpSubHeader:
        raw = self.view.read(PAGE_SIZE, KDUMP_SUB_HEADER.size)
        s = KdumpSubHeader.unpack(raw)
        s.max_mapnr_64 = self.header.max_mapnr
        if version < 4:
            s.offset_note = s.size_note = 0
        if version < 3:
            s.offset_vmcoreinfo = s.size_vmcoreinfo = 0
        return s

    @property
    def max_mapnr(self) -> int:
        return self._max_mapnr

    @property
    def ranges(self) -> List[Tuple[int, int]]:
        edges = np.diff(np.concatenate(([0], self.bitmap1.view(np.int8), [0])))
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        return [(int(a) * PAGE_SIZE, int(b) * PAGE_SIZE) for a, b in zip(starts, ends)]

    def ram_bitmap(self) -> np.ndarray:
        return self.bitmap1.copy()

    def saved_bitmap(self) -> np.ndarray:
        return self.bitmap2.copy()

    def read_page(self, pfn: int) -> bytes:
        """The 4096 bytes of page ``pfn``, decompressed."""
        if pfn in self._cache:
            return self._cache[pfn]
        base = pfn * PAGE_SIZE
        if pfn < 0 or pfn >= self._max_mapnr or not self.bitmap1[pfn]:
            raise ReadError(base, PAGE_SIZE, f"not RAM in {self.name} (a memory hole)", physical=True)
        if not self.bitmap2[pfn]:
            raise PageExcluded(base, PAGE_SIZE, paddr=base, dump_level=self.dump_level, name=self.name)
        i = int(self._index[pfn])
        at = self.desc_offset + i * PAGE_DESC.itemsize
        if i >= len(self.descs):
            raise DumpError(self.name, at, f"truncated: no page_desc for pfn 0x{pfn:x}")
        d = self.descs[i]
        off, size, flags = int(d["offset"]), int(d["size"]), int(d["flags"])
        if off == 0 and self.incomplete:
            raise PageExcluded(base, PAGE_SIZE, paddr=base, dump_level=None,
                               name=f"{self.name} (incomplete: the disk filled up before this page)")
        if size > PAGE_SIZE or off < self.desc_offset or off + size > self.view.size:
            raise DumpError(self.name, at, f"corrupted page_desc for pfn 0x{pfn:x}: offset 0x{off:x} size {size}")
        blob = self.view.read(off, size)
        try:
            codec = codec_for_flags(flags)
            page = codec.decompress(blob, PAGE_SIZE) if codec else blob
        except CodecError as e:
            raise DumpError(self.name, off, f"corrupted page data for pfn 0x{pfn:x}: {e}") from None
        except CodecUnavailable as e:
            raise DumpError(self.name, off, f"cannot decompress pfn 0x{pfn:x}: {e}") from None
        if len(page) != PAGE_SIZE:
            raise DumpError(self.name, at, f"corrupted page_desc for pfn 0x{pfn:x}: raw page of {size} bytes")
        if len(self._cache) >= 64:
            self._cache.pop(next(iter(self._cache)))
        self._cache[pfn] = page
        return page

    def read_physical(self, paddr: int, size: int) -> bytes:
        out = bytearray()
        while size > 0:
            pfn, rel = divmod(paddr, PAGE_SIZE)
            n = min(size, PAGE_SIZE - rel)
            try:
                page = self.read_page(pfn)
            except MemoryFault as e:
                e.address, e.size = paddr, size
                raise
            out += page[rel:rel + n]
            paddr += n
            size -= n
        return bytes(out)

    def read_pages(self, pfns: np.ndarray) -> np.ndarray:
        out = np.empty((len(pfns), PAGE_SIZE), dtype=np.uint8)
        for i, pfn in enumerate(pfns):
            out[i] = np.frombuffer(self.read_page(int(pfn)), dtype=np.uint8)
        return out

    def page_descs(self, pfns: np.ndarray) -> np.ndarray:
        """The page_descs of ``pfns`` at once; an all-zero one (offset 0) where a pfn is not in the
        dump or its descriptor is cut off."""
        pfns = np.asarray(pfns, dtype=np.int64)
        out = np.zeros(len(pfns), dtype=PAGE_DESC)
        ok = (pfns >= 0) & (pfns < self._max_mapnr)
        ok[ok] = self.bitmap2[pfns[ok]]
        rows = np.nonzero(ok)[0]
        index = self._index[pfns[rows]]
        there = index < len(self.descs)
        out[rows[there]] = self.descs[index[there]]
        return out

    def page_desc(self, pfn: int) -> Optional[np.void]:
        """The page_desc of a saved pfn (None when the pfn is not in the dump)."""
        if 0 <= pfn < self._max_mapnr and self.bitmap2[pfn] and self._index[pfn] < len(self.descs):
            return self.descs[int(self._index[pfn])]
        return None
