"""Human wording for dumps, kept apart from the parsing (pyelftools' descriptions.py habit).

What a student reads about a dump file: ``describe_dump`` (what, which kernel, when, what was kept),
``file_description`` (file(1)), and the views of its bytes, readelf's and xxd's: ``elf_header_line``,
``program_headers`` (each PT_LOAD and PT_NOTE said in words), ``note_table``, ``prstatus_table``
and ``hexdump``.  They work on any ELF core head: a vmcore's, or the ELF core header kexec builds
for the capture kernel (elfcorehdr=).  Every function returns a string and never prints.

>>> print(describe_dump(open_dump("vmcore")))               # doctest: +SKIP
vmcore: Kdump compressed dump v6, system Linux, node (none), release 6.1.0-kpanic, machine x86_64, domain (none)
  kernel      6.1.0-kpanic  build-id 974c2483dabfef4633670c6d21c7f73700a0b088
  crashed     2023-11-14 22:13:20 UTC (CRASHTIME 1700000000)
  dump level  31: dropped zero pages, all cache pages, user process data pages, free pages
  CPU 0       pid 1      rip ffffffff8100c241  rsp ffffffff81038a98
  memory      2 ranges, 255.9 MiB of RAM; 1029 pages saved, 64382 excluded
"""
from __future__ import annotations

import datetime
import io
from typing import Callable, List, Sequence, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.dumplevel import dump_level_words
from kpanic_lab.formats.dump import Dump
from kpanic_lab.guest.headers import START_KERNEL_MAP
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.text import size_words, table


def file_description(dump: Dump) -> str:
    """What file(1) says about the dump."""
    src = dump.source
    if src.format == "kdump":
        h = src.header          # type: ignore[attr-defined]
        u = h.utsname
        parts = [f"Kdump compressed dump v{h.header_version}", f"system {u.sysname}", f"node {u.nodename}",
                 f"release {u.release}"] + ([f"version {u.version}"] if u.version else []) + \
                [f"machine {u.machine}", f"domain {u.domainname}"]
        return ", ".join(parts)
    return "ELF 64-bit LSB core file, x86-64, version 1 (SYSV), SVR4-style"


def describe_dump(dump: Dump) -> str:
    """A few lines a student reads first: what, which kernel, when, what was kept, each CPU."""
    vi = dump.vmcoreinfo
    kind = file_description(dump) + (" (flattened; rebuilt in memory)" if dump.format == "flattened" else "")
    lines: List[str] = [f"{dump.name}: {kind}"]
    if vi.osrelease:
        lines.append(f"  kernel      {vi.osrelease}" + (f"  build-id {vi.build_id}" if vi.build_id else ""))
    else:
        lines.append("  kernel      unknown: the dump has no VMCOREINFO")
    if vi.crashtime is not None:
        when = datetime.datetime.fromtimestamp(vi.crashtime, datetime.timezone.utc)
        lines.append(f"  crashed     {when:%Y-%m-%d %H:%M:%S} UTC (CRASHTIME {vi.crashtime})")
    level = dump.dump_level
    lines.append("  dump level  " + ("not recorded (ELF)" if level is None
                                      else f"{level}: dropped {dump_level_words(level)}"))
    for cpu, p in enumerate(dump.prstatus):
        lines.append(f"  CPU {cpu:<7} pid {p.pid:<6} rip {p.reg('rip'):016x}  rsp {p.reg('rsp'):016x}")
    ram = sum(b - a for a, b in dump.ranges)
    saved = int(dump.source.saved_bitmap().sum())
    total = int(dump.source.ram_bitmap().sum())
    lines.append(f"  memory      {len(dump.ranges)} ranges, {ram / (1 << 20):.1f} MiB of RAM; "
                 f"{saved} pages saved, {total - saved} excluded")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the bytes, as readelf and xxd show them
def _elf(data: bytes) -> ELFFile:
    return ELFFile(io.BytesIO(data))


def elf_header_line(data: bytes) -> str:
    """readelf -h, in one line: class, type, machine, how many program headers."""
    e = _elf(data)
    h = e.header
    return (f"ELF{e.elfclass} {h['e_type']} {h['e_machine']}, {h['e_phnum']} program headers "
            f"at offset {h['e_phoff']}, {h['e_shnum']} section headers")


def program_headers(data: bytes, notes: Sequence[Tuple[int, int]] = (), vmcoreinfo: str = "") -> str:
    """readelf -l of an ELF core file's head, each header said in words.

    ``notes`` (each CPU's crash_notes address and size) and ``vmcoreinfo`` (what
    /sys/kernel/vmcoreinfo says: address and size in hex) name the PT_NOTEs of kexec's ELF core
    header, which point into the crashed kernel's memory.
    """
    names = {addr: f"crash_notes of CPU {i}" for i, (addr, _) in enumerate(notes)}
    if vmcoreinfo.split():
        names[int(vmcoreinfo.split()[0], 16)] = "VMCOREINFO"
    rows = []
    for seg in _elf(data).iter_segments():
        t = seg["p_type"]
        if t == "PT_NOTE":
            what = names.get(seg["p_paddr"], "notes (NT_PRSTATUS per CPU, VMCOREINFO)")
        elif t == "PT_LOAD" and seg["p_vaddr"] >= START_KERNEL_MAP:
            what = "the kernel image (its virtual addresses)"
        elif t == "PT_LOAD":
            missing = seg["p_memsz"] - seg["p_filesz"]
            what = f"RAM at {size_words(seg['p_paddr']) if seg['p_paddr'] else '0'}" + \
                   (f", last {size_words(missing)} not in the file" if missing else "")
        else:
            what = ""
        rows.append([t[3:], f"0x{seg['p_offset']:x}", f"{seg['p_vaddr']:016x}", f"{seg['p_paddr']:08x}",
                     size_words(seg["p_memsz"]), what])
    return table(rows, ["type", "offset", "virtual", "physical", "size", "what"])


def note_table(data: bytes) -> str:
    """readelf -n of an ELF core file whose head (notes included) is ``data``."""
    rows = []
    for seg in _elf(data).iter_segments():
        if seg["p_type"] != "PT_NOTE" or seg["p_offset"] + seg["p_filesz"] > len(data):
            continue
        for n in seg.iter_notes():  # type: ignore[attr-defined]  # a NoteSegment
            desc = n["n_type"] if isinstance(n["n_type"], str) else f"type {n['n_type']:#x}"
            rows.append([n["n_name"], f"0x{n['n_descsz']:08x}", desc])
    return table(rows, ["owner", "data size", "description"])


def prstatus_table(prstatus: Sequence[PrStatus], symbolize: Callable[[int], str] = hex) -> str:
    """One line per CPU's NT_PRSTATUS note: the pid it ran and where its registers were saved."""
    rows = [[str(cpu), str(p.pid), symbolize(p.reg("rip")), f"{p.reg('rsp'):016x}"]
            for cpu, p in enumerate(prstatus)]
    return table(rows, ["CPU", "pid", "rip", "rsp"])


def hexdump(data: bytes, length: int = 64, start: int = 0) -> str:
    """xxd's layout: offset, 16 bytes as 8 groups of 4 hex digits, the printable characters.

    >>> print(hexdump(b"KDUMP   \\x06\\x00\\x00\\x00Linu", 16))
    00000000: 4b44 554d 5020 2020 0600 0000 4c69 6e75  KDUMP   ....Linu
    """
    out = []
    chunk = data[start:start + length]
    for off in range(0, len(chunk), 16):
        row = chunk[off:off + 16]
        hexes = " ".join(row[i:i + 2].hex() for i in range(0, len(row), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        out.append(f"{start + off:08x}: {hexes:<39}  {text}")
    return "\n".join(out)
