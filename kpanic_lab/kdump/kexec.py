"""kexec-tools, for the lab: what `kexec -p` builds before kexec_load(2).

The guest's ``kexec`` program sends what the real kexec-tools reads
(``/proc/iomem``, ``/proc/cmdline``, ``/sys/kernel/vmcoreinfo``, each CPU's
``crash_notes``); this module lays out the crashkernel= range and returns the
segments:

    crash base  purgatory (checks SHA-256 of the other segments, then jumps)
                the ELF core header (elfcorehdr=): a PT_NOTE per CPU at its
                crash_notes, one for VMCOREINFO, a PT_LOAD for the kernel
                image and one per System RAM range outside the reservation
                the capture kernel's struct boot_params (command line, e820)
    2 MiB-aligned  the capture kernel (the same vmlinux, relocated: phys_base
                moves, its virtual addresses do not), its boot page tables

The capture kernel is told that RAM is only the low 640 KiB and the
reservation itself, as kexec-tools' crash e820 does: it cannot allocate, and
so cannot overwrite, a single page of the memory it is about to dump.

>>> [r.name for r in parse_iomem("00001000-0009fbff : System RAM\\n  01000000-0101afff : Kernel code\\n")]
['System RAM', 'Kernel code']
"""
from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.errors import LabError
from kpanic_lab.guest import GUEST_DIR
from kpanic_lab.guest.headers import E820_TYPE_RAM, E820_TYPE_RESERVED, PAGE_OFFSET, PAGE_SIZE
from kpanic_lab.guest.image import KernelImage
from kpanic_lab.machine.loader import BootInfo, E820Entry, build_boot_image

PURGATORY_IMAGE = GUEST_DIR / "images" / "purgatory"
PURGATORY_MAGIC = 0x59524F5441475250
MiB = 1 << 20
DEFAULT_APPEND = "irqpoll nr_cpus=1 reset_devices panic=10"   # from RHEL's KDUMP_COMMANDLINE_APPEND
ELFCOREHDR_SPACE = 64 * 1024
PT_LOAD, PT_NOTE = 1, 4


class KexecError(LabError):
    """kexec -p could not load: the message is what kexec-tools would print."""


@dataclass(frozen=True)
class IomemRange:
    start: int
    end: int          # inclusive, as /proc/iomem prints it
    name: str
    depth: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def parse_iomem(text: str) -> List[IomemRange]:
    """/proc/iomem's lines: "start-end : name", two spaces of indent per level (pure)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = re.match(r"^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.+)$", line)
        if not m:
            raise KexecError(f"/proc/iomem line {n}: cannot parse {line!r}")
        out.append(IomemRange(int(m.group(2), 16), int(m.group(3), 16), m.group(4), len(m.group(1)) // 2))
    return out


@dataclass
class Segment:
    mem: int                    # physical destination, page aligned
    data: bytes
    memsz: int                  # page aligned; the kernel zero-fills past len(data)
    what: str


@dataclass
class KexecPlan:
    """What `kexec -p` loads: the purgatory entry and the segments."""

    entry: int                  # physical address of purgatory_start
    segments: List[Segment]
    cmdline: str                # the capture kernel's command line
    elfcorehdr: int
    load_addr: int              # where the capture kernel's image starts
    crash: Tuple[int, int]      # the crashkernel= range [start, end]
    boot: BootInfo
    notes: List[Tuple[int, int]] = field(default_factory=list)
    hlt_sites: List[int] = field(default_factory=list)   # purgatory's hlt instructions (direct-map addresses)
    capture_e820: List[E820Entry] = field(default_factory=list)   # the memory map the capture kernel gets

    def reply(self, reply_address: int) -> bytes:
        """The bytes the guest's kexec program gets: entry, count, struct kexec_segment[], data."""
        head = struct.pack("<QQ", self.entry, len(self.segments))
        table_size = 32 * len(self.segments)
        data_at = 16 + table_size
        table, blob = b"", b""
        for s in self.segments:
            table += struct.pack("<QQQQ", reply_address + data_at + len(blob), len(s.data), s.mem, s.memsz)
            blob += s.data
        return head + table + blob


def _page_up(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def capture_cmdline(first: str, append: str, elfcorehdr: int) -> str:
    """The capture kernel's command line, as kdumpctl makes it: the running kernel's, without
    crashkernel= (and a few options that make no sense twice), plus the append list and
    elfcorehdr= (pure).

    >>> capture_cmdline("console=ttyS0 crashkernel=64M panic=0", "irqpoll nr_cpus=1", 0x2b001000)
    'console=ttyS0 panic=0 irqpoll nr_cpus=1 elfcorehdr=704516K'
    """
    drop = {"crashkernel", "elfcorehdr", "lab_notifiers", "nr_cpus", "maxcpus"}
    drop |= {w.split("=", 1)[0] for w in append.split()}      # the append list's values win
    kept = [w for w in first.split() if w.split("=", 1)[0] not in drop]
    words = kept + append.split()
    return " ".join(words + [f"elfcorehdr={elfcorehdr >> 10}K"])


def build_elfcorehdr(notes: Sequence[Tuple[int, int]], vmcoreinfo: Tuple[int, int],
                     ram: Sequence[Tuple[int, int]], kernel: Tuple[int, int, int]) -> bytes:
    """The ELF core header kexec-tools writes for the capture kernel (pure).

    ``notes``: each CPU's crash_notes (physical address, size); ``vmcoreinfo``: the same
    for the VMCOREINFO note; ``ram``: [start, end) System RAM ranges to dump (the
    crashkernel= range already left out); ``kernel``: (virtual, physical, size) of the
    kernel image, which gets its own PT_LOAD as on real x86.
    """
    phdrs = []
    for addr, size in list(notes) + [vmcoreinfo]:
        phdrs.append(struct.pack("<IIQQQQQQ", PT_NOTE, 0, addr, 0, addr, size, size, 0))
    kv, kp, ks = kernel
    phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, 7, kp, kv, kp, ks, ks, 0))
    for start, end in ram:
        phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, 7, start, PAGE_OFFSET + start, start,
                                 end - start, end - start, 0))
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 4, 62, 1, 0, 64, 0, 0,
                       64, 56, len(phdrs), 0, 0, 0)
    return ehdr + b"".join(phdrs)


def _purgatory() -> Tuple[bytes, int, int]:
    """The purgatory blob (memory image), the offset of purgatory_start and of purgatory_args."""
    if not PURGATORY_IMAGE.is_file():
        raise KexecError(f"purgatory not built: {PURGATORY_IMAGE} (make guest)")
    with open(PURGATORY_IMAGE, "rb") as f:
        elf = ELFFile(f)
        seg = next(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        blob = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
        symtab = elf.get_section_by_name(".symtab")
        if symtab is None:
            raise KexecError(f"{PURGATORY_IMAGE}: no symbol table")
        syms = {s.name: s["st_value"] for s in symtab.iter_symbols()}  # type: ignore[attr-defined]
    return blob, syms["purgatory_start"], syms["purgatory_args"]


def _purgatory_args(segments: Sequence[Segment], boot: BootInfo) -> bytes:
    out = struct.pack("<QQ", PURGATORY_MAGIC, len(segments))
    for i in range(8):
        if i < len(segments):
            s = segments[i]
            out += struct.pack("<QQ", s.mem, len(s.data)) + hashlib.sha256(s.data).digest()
        else:
            out += bytes(48)
    out += struct.pack("<QQQQ", boot.entry, boot.cr3, boot.boot_params, PAGE_OFFSET)
    out += struct.pack("<HQ", boot.gdt_limit, boot.gdt_base)
    return out


def _hlt_sites(code: bytes, base: int) -> List[int]:
    """Where purgatory halts (it stops there when a digest does not match)."""
    from capstone import CS_ARCH_X86, CS_MODE_64, Cs

    md = Cs(CS_ARCH_X86, CS_MODE_64)
    return [base + a for a, _, mnem, _ in md.disasm_lite(code[:0x1000], 0) if mnem == "hlt"]


def plan_crash_load(image: KernelImage, iomem: str, cmdline: str, vmcoreinfo: str,
                    crash_notes: Sequence[Tuple[int, int]], nr_cpus: int,
                    append: str = DEFAULT_APPEND) -> KexecPlan:
    """Lay out a capture kernel in the crashkernel= range; every check kexec-tools makes."""
    ranges = parse_iomem(iomem)
    crash = next((r for r in ranges if r.name == "Crash kernel"), None)
    if crash is None:
        raise KexecError("Memory for crashkernel is not reserved\n"
                         "Please reserve memory by passing\"crashkernel=Y@X\" parameter to kernel\n"
                         "Then try to loading kdump kernel")
    top = [r for r in ranges if r.depth == 0]
    ram = [(r.start, r.end + 1) for r in top if r.name == "System RAM"]
    ram_end = max(e for _, e in ram)
    try:
        vi_addr, vi_size = (int(x, 16) for x in vmcoreinfo.split())
    except ValueError:
        raise KexecError(f"/sys/kernel/vmcoreinfo: cannot parse {vmcoreinfo!r}") from None

    purg, purg_entry, purg_args_off = _purgatory()
    purg_at = crash.start
    hdr_at = purg_at + _page_up(len(purg))
    bp_at = hdr_at + ELFCOREHDR_SPACE
    load_addr = (bp_at + 2 * PAGE_SIZE + 2 * MiB - 1) & ~(2 * MiB - 1)

    # the dump: System RAM minus the reservation; the kernel image as its own PT_LOAD
    dump_ram: List[Tuple[int, int]] = []
    for start, end in ram:
        for a, b in ((start, min(end, crash.start)), (max(start, crash.end + 1), end)):
            if b > a:
                dump_ram.append((a, b))
    code = next((r for r in ranges if r.name == "Kernel code"), None)
    bss = next((r for r in ranges if r.name == "Kernel bss"), None)
    if code is None or bss is None:
        raise KexecError("/proc/iomem has no Kernel code / Kernel bss ranges")
    kernel = (image.address_of("_text"), code.start, bss.end + 1 - code.start)
    elfcorehdr = build_elfcorehdr(crash_notes, (vi_addr, vi_size), dump_ram, kernel)
    if len(elfcorehdr) > ELFCOREHDR_SPACE:
        raise KexecError("kexec: too many memory ranges for the ELF core header")

    # what the capture kernel may use: low memory and the reservation, minus the ELF core header
    # (kexec-tools' delete_memmap(): the capture kernel must not allocate over the dump's map)
    e820 = []
    for r in top:
        if r.name == "System RAM":
            if r.start < MiB:
                e820.append(E820Entry(r.start, r.size, E820_TYPE_RAM))
        elif r.name == "Reserved":
            e820.append(E820Entry(r.start, r.size, E820_TYPE_RESERVED))
    hdr_end = hdr_at + _page_up(len(elfcorehdr))
    for a, b in ((crash.start, hdr_at), (hdr_end, crash.end + 1)):
        if b > a:
            e820.append(E820Entry(a, b - a, E820_TYPE_RAM))
    e820.sort(key=lambda e: e.addr)

    line = capture_cmdline(cmdline.strip(), append, hdr_at)
    boot, pieces = build_boot_image(image, line, nr_cpus, ram_end, load_addr, e820, bp_at)
    if boot.pgt_range[1] > crash.end + 1:
        need = (boot.pgt_range[1] - crash.start + MiB - 1) // MiB
        raise KexecError(f"Could not find a free area of memory of 0x{boot.pgt_range[1] - load_addr:x} bytes...\n"
                         f"kexec: the capture kernel needs {need} MiB, crashkernel= reserved {crash.size >> 20} MiB")

    # segments: each of the kernel's PT_LOADs (file bytes only: the kernel zero-fills the rest, and
    # purgatory hashes only what was copied), the page tables, the boot params, the ELF header
    segs: List[Segment] = []
    for seg in image.segments:
        mem = seg.paddr + boot.phys_base
        segs.append(Segment(mem, seg.data, _page_up(mem + seg.memsz) - mem, f"kernel {seg.vaddr:#x}"))
    tables = next(data for addr, data in pieces if addr == boot.pgt_range[0])
    bp_blob = next(data for addr, data in pieces if addr == bp_at)
    segs += [Segment(boot.pgt_range[0], tables, _page_up(len(tables)), "boot page tables and GDT"),
             Segment(bp_at, bp_blob, _page_up(len(bp_blob)), "boot parameters"),
             Segment(hdr_at, elfcorehdr, _page_up(len(elfcorehdr)), "ELF core header (elfcorehdr=)")]
    args = _purgatory_args(segs, boot)
    purg = purg[:purg_args_off] + args + purg[purg_args_off + len(args):]
    segs.insert(0, Segment(purg_at, purg, _page_up(len(purg)), "purgatory"))
    return KexecPlan(purg_at + purg_entry, segs, line, hdr_at, load_addr, (crash.start, crash.end), boot,
                     list(crash_notes), _hlt_sites(purg, PAGE_OFFSET + purg_at), e820)

