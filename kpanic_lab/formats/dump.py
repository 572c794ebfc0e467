"""A vmcore behind the live machine's memory interface: ``read(addr, size, physical=...)``.

``open_dump`` looks at the first bytes and picks the reader (as crash does once, at start):

    "\\x7fELF"             ELF vmcore (/proc/vmcore, makedumpfile -E)        format "elf"
    "KDUMP   "            kdump-compressed (makedumpfile's default)          format "kdump"
    "makedumpfile\\0..."   flattened (makedumpfile -F), rebuilt in memory     format "flattened"

Virtual addresses are translated as the kernel maps them, with numbers from VMCOREINFO:

    __START_KERNEL_map .. + KERNEL_IMAGE_SIZE   pa = va - __START_KERNEL_map + phys_base
    PAGE_OFFSET (direct map)                    pa = va - PAGE_OFFSET
    anything else (vmalloc, modules)            a walk of the kernel page tables from
                                                SYMBOL(init_top_pgt), when the kernel exported it

>>> d = open_dump("vmcore")                                    # doctest: +SKIP
>>> d.format, d.vmcoreinfo.osrelease, len(d.prstatus)         # doctest: +SKIP
('kdump', '6.1.0-kpanic', 2)
>>> d.read(d.vmcoreinfo.symbol("log_buf"), 8)                 # doctest: +SKIP
"""
from __future__ import annotations

import io
import os
from typing import BinaryIO, List, Optional, Tuple, Union

from kpanic_lab.errors import LabError, MemoryFault, ReadError
from kpanic_lab.formats.diskdump import DISKDUMP_SIGNATURE, KDUMP_SIGNATURE, KdumpFile
from kpanic_lab.formats.direct_map import find_direct_map
from kpanic_lab.formats.elfcore import ElfCore
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.flattened import is_flattened, rebuild
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.source import PhysicalSource
from kpanic_lab.formats.vmcoreinfo import VmcoreInfo, VmcoreInfoError, parse_vmcoreinfo
from kpanic_lab.guest.headers import PAGE_OFFSET, PAGE_SIZE, START_KERNEL_MAP
from kpanic_lab.pagewalk import walk

KERNEL_IMAGE_SIZE = 512 << 20      # Linux x86-64 without KASLR; VMCOREINFO NUMBER(KERNEL_IMAGE_SIZE) overrides
DIRECT_MAP_SIZE = 64 << 40         # 4-level paging: 64 TiB of direct map
Source = Union[str, "os.PathLike[str]", bytes, bytearray, BinaryIO]


class Dump:
    """One open vmcore: its memory, VMCOREINFO, per-CPU registers, and ranges."""

    def __init__(self, source: PhysicalSource, fmt: str, owned: Optional[BinaryIO] = None) -> None:
        self.source = source
        self.name = source.name
        self.format = fmt                           # "elf", "kdump" or "flattened"
        self.inner_format = source.format           # what a flattened stream held
        self._owned = owned
        self.prstatus: List[PrStatus] = list(source.prstatus)
        if source.vmcoreinfo_raw is not None:
            try:
                self.vmcoreinfo = parse_vmcoreinfo(source.vmcoreinfo_raw, f"VMCOREINFO of {self.name}")
            except VmcoreInfoError as e:
                raise DumpError(self.name, None, str(e)) from None
        else:
            self.vmcoreinfo = VmcoreInfo()
            self.vmcoreinfo.name = f"VMCOREINFO of {self.name} (none saved)"
        vi = self.vmcoreinfo
        self.phys_base = _safe(lambda: vi.phys_base, 0)
        self.page_offset = source.page_offset or PAGE_OFFSET
        self.kernel_image_size = _safe(lambda: vi.number("KERNEL_IMAGE_SIZE"), KERNEL_IMAGE_SIZE) \
            if "NUMBER(KERNEL_IMAGE_SIZE)" in vi else KERNEL_IMAGE_SIZE
        self.pgd = _safe(lambda: vi.symbol("init_top_pgt"), None) if "SYMBOL(init_top_pgt)" in vi else None
        if source.page_offset is None and self.pgd is not None and _safe(lambda: vi.kerneloffset, 0):
            # a KASLR kernel's kdump-compressed dump: the direct map moved (page_offset_base), and only
            # the page tables say where to
            self.page_offset = _safe(lambda: find_direct_map(source.read_physical, self.vtop(self.pgd)),
                                     None) or self.page_offset
        # makedumpfile ran out of room and said so in the header (DUMP_DH_COMPRESSED_INCOMPLETE in a
        # kdump-compressed one, DUMP_ELF_INCOMPLETE in an ELF one's e_flags)
        self.incomplete: bool = bool(getattr(source, "incomplete", False))
        # the file is shorter than its own headers say (cut short by a copy, a full disk, head -c)
        self.truncated: Optional[str] = _truncation(source)

    @property
    def warnings(self) -> List[str]:
        """What crash warns about when it opens such a dump, one line each."""
        out = []
        if self.truncated:
            out.append(f"{self.name}: {self.truncated}")
        if self.incomplete:
            flag = "DUMP_ELF_INCOMPLETE" if self.inner_format == "elf" else "DUMP_DH_COMPRESSED_INCOMPLETE"
            out.append(f"{self.name}: This dumpfile is incomplete ({flag}: makedumpfile "
                       "ran out of space): commands may fail on the pages it did not write")
        return out

    # -- facts
    @property
    def ranges(self) -> List[Tuple[int, int]]:
        """Physical ranges [start, end) of RAM the dump describes."""
        return self.source.ranges

    @property
    def dump_level(self) -> Optional[int]:
        """makedumpfile's -d for a kdump-compressed dump; None for ELF (not recorded there)."""
        return self.source.dump_level

    @property
    def nr_cpus(self) -> int:
        return len(self.prstatus)

    # -- memory
    def read(self, addr: int, size: int, *, physical: bool = False, cpu: int = 0) -> bytes:
        """``size`` bytes at ``addr`` (a physical address, or a kernel virtual one).

        Raises ReadError (address not in the dump or not mapped) or PageExcluded (its page was
        dropped by makedumpfile), both carrying the address and size.
        """
        if size < 0:
            raise ReadError(addr, size, "negative size", physical=physical)
        if physical:
            try:
                return self.source.read_physical(addr, size)
            except DumpError as e:
                raise self._past_the_end(addr, size, addr, e, physical=True) from None
        out = bytearray()
        va, left = addr, size
        while left > 0:
            n = min(left, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            pa = self.vtop(va)
            try:
                out += self.source.read_physical(pa, n)
            except PageExcluded as e:
                raise PageExcluded(va, left, paddr=pa, dump_level=e.dump_level, name=e.name,
                                   physical=False) from None
            except MemoryFault as e:
                raise ReadError(va, left, f"{e.why} (physical 0x{pa:x})") from None
            except DumpError as e:
                raise self._past_the_end(va, left, pa, e) from None
            va += n
            left -= n
        return bytes(out)

    def _past_the_end(self, addr: int, size: int, pa: int, e: DumpError, physical: bool = False) -> LabError:
        """A page of a truncated file that is not there is a read fault that says why."""
        if not self.truncated:
            return e
        return ReadError(addr, size, f"physical 0x{pa:x} lies past the end of {self.name}, which is "
                         f"truncated ({e.problem})", physical=physical)

    def read_u64(self, addr: int, **kw: bool) -> int:
        return int.from_bytes(self.read(addr, 8, **kw), "little")

    def vtop(self, va: int) -> int:
        """The physical address of kernel virtual address ``va``."""
        if START_KERNEL_MAP <= va < START_KERNEL_MAP + self.kernel_image_size:
            return va - START_KERNEL_MAP + self.phys_base
        if self.page_offset <= va < self.page_offset + DIRECT_MAP_SIZE:
            return va - self.page_offset
        if va < 0x0000800000000000:
            raise ReadError(va, 1, "a user address: a vmcore is read through the kernel's page tables "
                            "(pass a task's mm to translate user memory)")
        if self.pgd is None:
            raise ReadError(va, 1, "outside the direct map and the kernel text, and the dump has no "
                            "page table root (SYMBOL(init_top_pgt)) to walk")
        return self._walk(va)

    def _walk(self, va: int) -> int:
        assert self.pgd is not None
        w = walk(lambda pa: int.from_bytes(self.source.read_physical(pa, 8), "little"), self.vtop(self.pgd), va)
        if w.pa is None:
            level, entry = w.entries[-1]
            raise ReadError(va, 1, f"not mapped (level-{level} entry 0x{entry:x} not present)")
        return w.pa

    def close(self) -> None:
        self.source.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> "Dump":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Dump {self.name} format={self.format} cpus={self.nr_cpus} "
                f"dump_level={self.dump_level} ranges={len(self.ranges)}>")


def _truncation(source: PhysicalSource) -> Optional[str]:
    """Why a kdump-compressed file is shorter than its headers say, or None if it is whole.

    Its bitmaps count the saved pages, so the page_desc table that follows them has a known
    length, and each page_desc gives the offset and size of its page's data.
    """
    view = getattr(source, "view", None)
    descs = getattr(source, "descs", None)
    saved = getattr(source, "bitmap2", None)
    start = getattr(source, "desc_offset", None)
    if view is None or descs is None or saved is None or start is None:
        return None
    need = start + int(saved.sum()) * 24
    if len(descs):
        need = max(need, int((descs["offset"].astype(object) + descs["size"].astype(object)).max()))
    if view.size >= need:
        return None
    total = int(saved.sum())
    missing = total - len(descs)
    return (f"truncated: the file has {view.size} bytes, its headers describe {need}: "
            + (f"{missing} of {total} page_desc entries and their pages are missing" if missing
               else "the data of the last pages is missing"))


def _safe(fn, default):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except VmcoreInfoError:
        return default


def detect_format(head: bytes) -> str:
    """"elf", "kdump" or "flattened" from a file's first 16 bytes; DumpError otherwise."""
    if head[:4] == b"\x7fELF":
        return "elf"
    if head[:8] == KDUMP_SIGNATURE:
        return "kdump"
    if is_flattened(head):
        return "flattened"
    if head[:8] == DISKDUMP_SIGNATURE:
        return "kdump"              # KdumpFile explains
    raise DumpError("", 0, "")


def open_dump(src: Source, name: Optional[str] = None) -> Dump:
    """Open a vmcore from a path, bytes, or a binary stream, whatever its format."""
    owned: Optional[BinaryIO] = None
    stream: BinaryIO
    if isinstance(src, (str, os.PathLike)):
        name = name or os.fspath(src)
        try:
            owned = stream = open(src, "rb")  # noqa: SIM115 (the Dump closes it)
        except OSError as e:
            raise DumpError(name, None, f"cannot open: {e.strerror}") from None
    elif isinstance(src, (bytes, bytearray)):
        stream = io.BytesIO(bytes(src))
    else:
        stream = src
    name = name or getattr(stream, "name", None) or "vmcore"
    try:
        head = stream.read(16)
        stream.seek(0)
    except (OSError, ValueError) as e:
        raise DumpError(name, 0, f"cannot read: {e}") from None
    if not head:
        raise DumpError(name, 0, "zero-length file: no dump was written (an interrupted capture?)")
    try:
        fmt = detect_format(head)
    except DumpError:
        raise DumpError(name, 0, f"wrong magic {head[:8]!r}: not an ELF vmcore, a kdump-compressed "
                        "dump or a flattened makedumpfile stream") from None
    try:
        if fmt == "elf":
            return Dump(ElfCore(stream, name), "elf", owned)
        if fmt == "kdump":
            return Dump(KdumpFile(stream, name), "kdump", owned)
        import tempfile                             # here: only a flattened input needs it

        flat: BinaryIO = tempfile.TemporaryFile()  # type: ignore[assignment]
        rebuild(stream, flat, name)
        flat.seek(0)
        inner = flat.read(16)
        flat.seek(0)
        if owned is not None:
            owned.close()
        owned = flat
        if inner[:4] == b"\x7fELF":
            return Dump(ElfCore(flat, name), "flattened", owned)
        return Dump(KdumpFile(flat, name), "flattened", owned)
    except BaseException:
        if owned is not None:
            owned.close()
        raise
