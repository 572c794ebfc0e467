"""The ELF vmcore: what /proc/vmcore shows in the capture kernel, and ``makedumpfile -E`` writes.

An ELF64 core file (ET_CORE, EM_X86_64) without sections:

    ELF header | program headers | PT_NOTE data | PT_LOAD data ...
                 PT_NOTE  -> one "CORE" NT_PRSTATUS note per CPU, then "VMCOREINFO" (type 0)
                 PT_LOAD  -> one per System RAM range: p_paddr = physical address,
                             p_vaddr = PAGE_OFFSET + p_paddr (the direct map)

kexec-tools adds one more PT_LOAD for the kernel text (p_vaddr in __START_KERNEL_map).  A
PT_LOAD whose p_filesz < p_memsz ends in pages that are not in the file: makedumpfile -E
drops runs of 256 or more excluded pages that way.  When the disk fills up while ``makedumpfile
-E`` writes, it sets DUMP_ELF_INCOMPLETE in the ELF header's e_flags (otherwise 0), as it sets
DUMP_DH_COMPRESSED_INCOMPLETE in a kdump-compressed header; crash then warns that the dump is
incomplete.

Layers: ``pack_note``/``parse_notes`` (pure), ``write_elf_core`` (a Sink), ``ElfCore`` (a reader
over any binary stream).  The reader unpacks the ELF and program headers with the same two
``struct`` formats the writer packs them with, not through pyelftools: a vmcore needs nothing
else of ELF, and importing pyelftools' ELFFile is ~20 ms of every ``kpanic-lab makedumpfile``
(``formats/describe.py`` shows the headers as readelf does, through pyelftools).
"""
from __future__ import annotations

import struct

import numpy as np
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, List, Optional, Sequence, Tuple

from kpanic_lab.errors import ReadError
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.prstatus import NT_PRSTATUS, PrStatus, PrStatusError
from kpanic_lab.formats.sink import Bytes, Sink
from kpanic_lab.formats.source import FileView, PhysicalSource
from kpanic_lab.guest.headers import PAGE_OFFSET, PAGE_SIZE, START_KERNEL_MAP

MAX_PHYSMEM_BITS = 46                     # x86-64 with 4-level paging (the guest's): no RAM above 64 TiB
PT_LOAD, PT_NOTE = 1, 4
ELFCLASS64, ELFDATA2LSB, ET_CORE, EM_X86_64 = 2, 1, 4, 62
_ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_PT_NAMES = {0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE", 6: "PT_PHDR"}
PF_RWX = 7
DUMP_ELF_INCOMPLETE = 0x1                 # e_flags: makedumpfile -E ran out of space (crash's netdump.h)
E_FLAGS_OFFSET = 48                       # of e_flags in an Elf64_Ehdr
VMCOREINFO_NOTE = "VMCOREINFO"

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_NHDR = struct.Struct("<III")


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


# ---------------------------------------------------------------- notes (pure)
@dataclass(frozen=True)
class Note:
    name: str
    type: int
    desc: bytes
    offset: int = 0          # of the note header, within the PT_NOTE data


def pack_note(name: str, ntype: int, desc: bytes) -> bytes:
    """One ELF note: n_namesz counts the NUL; name and desc are padded to 4 bytes."""
    n = name.encode() + b"\0"
    return (_NHDR.pack(len(n), len(desc), ntype) + n + bytes(_align(len(n), 4) - len(n))
            + desc + bytes(_align(len(desc), 4) - len(desc)))


def parse_notes(data: bytes) -> List[Note]:
    """The notes in a PT_NOTE; a header or body past the end raises ValueError (with where).

    Trailing zero bytes (an empty per-CPU note buffer, as kexec-tools leaves) end the list.
    """
    notes, off = [], 0
    while off + _NHDR.size <= len(data):
        namesz, descsz, ntype = _NHDR.unpack_from(data, off)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break
        name_at = off + _NHDR.size
        desc_at = name_at + _align(namesz, 4)
        end = desc_at + _align(descsz, 4)
        if desc_at + descsz > len(data):
            raise ValueError(f"note at 0x{off:x} (namesz {namesz}, descsz {descsz}) runs past the "
                             f"end of the {len(data)}-byte PT_NOTE")
        name = data[name_at:name_at + namesz].rstrip(b"\0").decode("latin-1")
        notes.append(Note(name, ntype, bytes(data[desc_at:desc_at + descsz]), off))
        off = end
    return notes


def build_vmcore_notes(prstatus: Sequence[PrStatus], vmcoreinfo: Optional[str]) -> bytes:
    """The PT_NOTE of a vmcore: an NT_PRSTATUS per CPU, then VMCOREINFO (if any)."""
    out = b"".join(pack_note("CORE", NT_PRSTATUS, p.pack()) for p in prstatus)
    if vmcoreinfo is not None:
        out += pack_note(VMCOREINFO_NOTE, 0, vmcoreinfo.encode())
    return out


def split_notes(notes: Sequence[Note], name: str) -> Tuple[List[PrStatus], Optional[Note]]:
    """The NT_PRSTATUS registers and the VMCOREINFO note of a note list."""
    prs, vmi = [], None
    for n in notes:
        if n.name == "CORE" and n.type == NT_PRSTATUS:
            try:
                prs.append(PrStatus.unpack(n.desc))
            except PrStatusError as e:
                raise DumpError(name, n.offset, str(e)) from None
        elif n.name == VMCOREINFO_NOTE:
            vmi = n
    return prs, vmi


# ---------------------------------------------------------------- writer
@dataclass(frozen=True)
class ElfLoad:
    """One PT_LOAD: ``filesz`` bytes from ``paddr`` are in the file, ``memsz`` in memory."""

    paddr: int
    vaddr: int
    memsz: int
    filesz: int


def direct_map_load(start: int, end: int, page_offset: int = PAGE_OFFSET) -> ElfLoad:
    """The PT_LOAD of a System RAM range [start, end), as /proc/vmcore shows it."""
    return ElfLoad(start, page_offset + start, end - start, end - start)


def elf_layout(nloads: int, notes_size: int, loads: Sequence[ElfLoad], packed: bool = False) -> Tuple[int, List[int]]:
    """File offsets: the PT_NOTE data, and each PT_LOAD's data.  Page-aligned like /proc/vmcore;
    ``packed``: each part right after the one before, as ``makedumpfile -E`` writes them."""
    if packed:
        note_off = _EHDR.size + _PHDR.size * (1 + nloads)
        offsets, off = [], note_off + notes_size
        for ld in loads:
            offsets.append(off if ld.filesz else 0)     # no file part: p_offset 0, as makedumpfile writes
            off += ld.filesz
        return note_off, offsets
    note_off = _align(_EHDR.size + _PHDR.size * (1 + nloads), PAGE_SIZE)
    off = _align(note_off + notes_size, PAGE_SIZE)
    offsets = []
    for ld in loads:
        off = _align(off, PAGE_SIZE) + ld.paddr % PAGE_SIZE
        offsets.append(off)
        off += ld.filesz
    return note_off, offsets


def write_elf_core(sink: Sink, notes: bytes, loads: Sequence[ElfLoad],
                   data: Callable[[ElfLoad], Iterable[Bytes]], packed: bool = False) -> int:
    """Write an ELF64 vmcore; ``data(load)`` yields the load's ``filesz`` bytes.  Returns the size.
    ``packed``: no page alignment (``makedumpfile -E``'s layout; see elf_layout)."""
    note_off, offsets = elf_layout(len(loads), len(notes), loads, packed)
    phnum = 1 + len(loads)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    head = _EHDR.pack(ident, 4, 62, 1, 0, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, phnum, 0, 0, 0)
    head += _PHDR.pack(PT_NOTE, 0, note_off, 0, 0, len(notes), len(notes), 0)
    for ld, off in zip(loads, offsets):
        head += _PHDR.pack(PT_LOAD, PF_RWX, off, ld.vaddr, ld.paddr, ld.filesz, ld.memsz, 0)
    sink.write_at(0, head)
    sink.write_at(note_off, notes)
    end = note_off + len(notes)
    for ld, off in zip(loads, offsets):
        pos = off
        for chunk in data(ld):
            sink.write_at(pos, chunk)
            pos += len(chunk) if not isinstance(chunk, memoryview) else chunk.nbytes
        if pos != off + ld.filesz:
            raise ValueError(f"PT_LOAD at 0x{ld.paddr:x}: got {pos - off} bytes, filesz is {ld.filesz}")
        end = pos
    return end


def mark_elf_incomplete(sink: Sink) -> None:
    """Set DUMP_ELF_INCOMPLETE in the e_flags of the ELF header ``write_elf_core`` wrote: the disk
    filled up (makedumpfile's check_and_modify_elf_headers).  The writer's e_flags are 0."""
    sink.write_at(E_FLAGS_OFFSET, struct.pack("<I", DUMP_ELF_INCOMPLETE))


# ---------------------------------------------------------------- reader
@dataclass(frozen=True)
class _Seg:
    paddr: int
    vaddr: int
    offset: int
    filesz: int
    memsz: int


class ElfCore(PhysicalSource):
    """An ELF vmcore over a seekable binary stream."""

    format = "elf"

    def __init__(self, stream: BinaryIO, name: str = "vmcore") -> None:
        self.name = name
        self.view = FileView(stream, name)
        size = self.view.size
        if size < _EHDR.size:
            raise DumpError(name, size, f"truncated: {size} bytes is less than an ELF64 header")
        ident, e_type, e_machine, _, _, phoff, _, e_flags, _, phentsize, phnum, _, _, _ = \
            _EHDR.unpack(self.view.read(0, _EHDR.size))
        if ident[4] != ELFCLASS64 or ident[5] != ELFDATA2LSB:
            raise DumpError(name, 4, "not a little-endian ELF64 file (an x86-64 vmcore is)")
        if e_type != ET_CORE:
            raise DumpError(name, 16, f"ELF type is {_ET_NAMES.get(e_type, hex(e_type))}, not ET_CORE: not a vmcore")
        if phnum == 0 or phoff + phnum * _PHDR.size > size:
            raise DumpError(name, phoff, f"truncated: {phnum} program headers do not fit in {size} bytes")
        if phentsize != _PHDR.size:
            raise DumpError(name, 54, f"corrupted ELF header: e_phentsize is {phentsize}, "
                            f"an Elf64_Phdr is {_PHDR.size}")
        table = self.view.read(phoff, phnum * _PHDR.size)
        segs = [_PHDR.unpack_from(table, i * _PHDR.size) for i in range(phnum)]
        self.machine = "EM_X86_64" if e_machine == EM_X86_64 else e_machine
        # makedumpfile -E ran out of space and said so in the header
        self.incomplete = bool(e_flags & DUMP_ELF_INCOMPLETE)
        self.cut_short = False              # incomplete, and PT_LOAD data past the end of the file
        note_data = b""
        loads = []
        for i, (p_type, _, p_offset, p_vaddr, p_paddr, filesz, p_memsz, _) in enumerate(segs):
            where = phoff + i * _PHDR.size
            if p_offset + filesz > size:
                if not self.incomplete:
                    raise DumpError(name, where, f"truncated: {_PT_NAMES.get(p_type, hex(p_type))} {i} wants bytes "
                                    f"up to 0x{p_offset + filesz:x}, the file has 0x{size:x}")
                # the disk filled up here: the file holds what was written before (crash reads it)
                filesz = max(0, size - p_offset)
                self.cut_short = True
            if p_type == PT_NOTE:
                note_data += self.view.read(p_offset, filesz)
                self.note_offset = p_offset
            elif p_type == PT_LOAD:
                if filesz > p_memsz:
                    raise DumpError(name, where, f"corrupted: PT_LOAD {i} has p_filesz > p_memsz")
                if p_paddr + p_memsz > 1 << MAX_PHYSMEM_BITS:
                    raise DumpError(name, where, f"corrupted: PT_LOAD {i} reaches physical 0x"
                                    f"{p_paddr + p_memsz:x}, past x86-64's {MAX_PHYSMEM_BITS}-bit "
                                    "physical address space")
                loads.append(_Seg(p_paddr, p_vaddr, p_offset, filesz, p_memsz))
        if not loads:
            raise DumpError(name, phoff, "no PT_LOAD: the vmcore holds no memory")
        try:
            self.notes = parse_notes(note_data)
        except ValueError as e:
            raise DumpError(name, getattr(self, "note_offset", None), f"corrupted PT_NOTE: {e}") from None
        self.prstatus, vmi = split_notes(self.notes, name)
        self.vmcoreinfo_raw = vmi.desc if vmi else None
        self.dump_level = None
        self.loads = loads
        # physical lookups: direct-map segments first, the kernel-text alias last
        self._segs = sorted(loads, key=lambda s: (s.vaddr >= START_KERNEL_MAP, s.paddr))
        self.page_offset = next((s.vaddr - s.paddr for s in loads if PAGE_OFFSET <= s.vaddr < START_KERNEL_MAP
                                 and s.paddr < s.vaddr), PAGE_OFFSET)

    # -- PhysicalSource
    @property
    def ranges(self) -> List[Tuple[int, int]]:
        return _union([(s.paddr, s.paddr + s.memsz) for s in self.loads])

    def _seg(self, paddr: int) -> Optional[_Seg]:
        for s in self._segs:
            if s.paddr <= paddr < s.paddr + s.memsz:
                return s
        return None

    def read_physical(self, paddr: int, size: int) -> bytes:
        out = bytearray()
        while size > 0:
            s = self._seg(paddr)
            if s is None:
                raise ReadError(paddr, size, f"not in {self.name}: no PT_LOAD covers physical 0x{paddr:x}",
                                physical=True)
            rel = paddr - s.paddr
            if rel >= s.filesz:
                raise PageExcluded(paddr, size, paddr=paddr, dump_level=None,
                                   name=self.name if not self.cut_short or s.offset + rel < self.view.size
                                   else f"{self.name} (incomplete: the disk filled up before this page)")
            n = min(size, s.filesz - rel)
            out += self.view.read(s.offset + rel, n)
            paddr += n
            size -= n
        return bytes(out)

    def page_segments(self) -> List[Tuple[int, int, int]]:
        """(first pfn, number of whole pages, file offset) of each PT_LOAD's page-aligned part."""
        out = []
        for s in self._segs:
            first = -(-s.paddr // PAGE_SIZE)
            last = (s.paddr + s.filesz) // PAGE_SIZE
            if last > first:
                out.append((first, last - first, s.offset + first * PAGE_SIZE - s.paddr))
        return out

    def saved_bitmap(self) -> np.ndarray:
        bm = np.zeros(self.max_mapnr, dtype=bool)
        for s in self.loads:
            bm[s.paddr // PAGE_SIZE: -(-(s.paddr + s.filesz) // PAGE_SIZE)] = True
        return bm

    def read_pages(self, pfns: np.ndarray) -> np.ndarray:
        """Gather whole pages straight from the PT_LOAD data; odd (fractional) pages go the slow way."""
        pfns = np.asarray(pfns, dtype=np.int64)
        out = np.empty((len(pfns), PAGE_SIZE), dtype=np.uint8)
        done = np.zeros(len(pfns), dtype=bool)
        for first, count, off in self.page_segments():
            sel = np.nonzero(~done & (pfns >= first) & (pfns < first + count))[0]
            if len(sel) == 0:
                continue
            pages = self.view.array(off, count * PAGE_SIZE).reshape(count, PAGE_SIZE)
            out[sel] = pages[pfns[sel] - first]
            done[sel] = True
        for i in np.nonzero(~done)[0]:
            out[i] = np.frombuffer(self.read_page_filled(int(pfns[i])), dtype=np.uint8)
        return out


def _union(ranges: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out

