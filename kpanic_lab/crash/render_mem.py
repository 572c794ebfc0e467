"""crash's output forms for memory, symbols, types and code: ``rd``, ``sym``, ``struct``,
``dis``, ``list``, ``vm``.  Public, so the code ``--py`` prints can call them.

>>> render_rd(0x1000, b"Linux version 6", 8)
'1000:  4c 69 6e 75 78 20 76 65 72 73 69 6f 6e 20 36      Linux version 6'
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from kpanic_lab.analysis.disasm import Instruction
from kpanic_lab.analysis.typefmt import definition_lines, format_member, format_value
from kpanic_lab.analysis.types import Type

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

_PER_LINE = {8: 16, 16: 8, 32: 4, 64: 2}


# ---------------------------------------------------------------------------- rd
def render_rd(addr: int, data: bytes, bits: int = 64, ascii: bool = True,
              symbolic: Optional["Program"] = None) -> str:
    """``rd``: ``addr:  values   ascii`` lines (``symbolic``: ``rd -s``, kernel addresses as
    ``symbol+offset`` and no ASCII column)."""
    size = bits // 8
    per = _PER_LINE[bits]
    out = []
    for lo in range(0, len(data), per * size):
        chunk = data[lo:lo + per * size]
        vals = [int.from_bytes(chunk[i:i + size], "little") for i in range(0, len(chunk) - size + 1, size)]
        if symbolic is not None:
            fields = []
            for v in vals:
                name = symbolic.symbols.near(v) if v >= 0xFFFF800000000000 else None
                fields.append(f"{name or format(v, '0' + str(size * 2) + 'x'):<{size * 2}} ")
            out.append(f"{addr + lo:x}:  " + "".join(fields))
            continue
        text = " ".join(f"{v:0{size * 2}x}" for v in vals)
        if ascii:
            text = text.ljust(per * (size * 2 + 1) - 1)
            text += "   " + "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{addr + lo:x}:  {text}")
    return "\n".join(out)


def render_rd_ascii(addr: int, data: bytes) -> str:
    """``rd -a``: the printable string at ``addr`` (to its NUL), 60 characters a line."""
    text = data.split(b"\0", 1)[0].decode("latin-1")
    text = "".join(c if 32 <= ord(c) < 127 else "." for c in text)
    lines = [f"{addr + i:x}:  {text[i:i + 60]}" for i in range(0, max(len(text), 1), 60)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- sym
def sym_line(prog: "Program", addr: int, name: Optional[str] = None) -> Optional[str]:
    """``ffffffff810076c0 (T) panic kernel/panic.c: 117`` for the symbol at ``addr`` (by ``name``
    when it was asked for by a name that shares its address: ``jiffies``, not ``jiffies_64``)."""
    loc = prog.symbols.lookup(addr)
    if loc is None:
        return None
    s = loc.symbol
    asked = prog.symbols.get(name) if name else None
    if asked is not None and asked.address == addr:
        s, loc = asked, type(loc)(asked, 0)
    text = f"{addr:016x} ({s.letter}) {s.name}" + (f"+{loc.offset}" if loc.offset else "")
    if s.module:
        text += f" [{s.module}]"
    if s.is_text:
        src = prog.line_for(addr)
        if src is not None:
            text += f" {src}"
    return text


# ---------------------------------------------------------------------------- struct
def render_struct_definition(t: Type, offsets: bool = False, members: Optional[List[str]] = None) -> str:
    """``struct NAME`` (``-o``: with offsets; ``members``: only those): the definition and SIZE."""
    lines = definition_lines(t, offsets or bool(members), only=members)
    if not members:
        lines.append(f"SIZE: {t.byte_size}")
    return "\n".join(lines)


def render_struct_value(prog: "Program", t: Type, addr: int, members: Optional[List[str]] = None,
                        offsets: bool = False) -> str:
    """``struct NAME ADDR``: the contents (``members``: just those, one per line)."""
    if offsets:
        return "\n".join(definition_lines(t, True, address=addr, only=members))
    data = prog.read(addr, t.byte_size)
    if not members:
        s = t.strip()
        return f"{s.kind} {s.name or ''} ".replace("  ", " ") + format_value(t, data, prog)
    out = []
    for name in members:
        m = t.member(name)
        size = m.type.byte_size
        if m.bit_size is not None:
            text = format_member(m, data, prog, 1)
        else:
            # re-base the member at 0 so dotted (nested) members format from their own bytes
            text = f"{m.name} = " + format_value(m.type, data[m.offset:m.offset + size], prog, 1)
        out.append("  " + text)
    return "\n".join(out)


# ---------------------------------------------------------------------------- dis
def render_dis(prog: "Program", insns: Sequence[Instruction], lines: bool = False) -> str:
    """``dis``: ``0xADDR <sym+off>:<tab>insn`` (tabs expanded), source lines with ``-l``."""
    out = []
    last = None
    for i in insns:
        if lines:
            src = prog.line_for(i.address)
            if src is not None and src != last:
                out.append(str(src))
                last = src
        label = prog.symbols.near(i.address) or ""
        out.append(f"0x{i.address:x} <{label}>:\t{i}".expandtabs(8))
    return "\n".join(out)


# ---------------------------------------------------------------------------- list
def render_list(prog: "Program", entries: Sequence[int], struct: Optional[Type] = None,
                members: Optional[List[str]] = None, error: Optional[str] = None) -> str:
    """``list``: each entry's address, and with ``-s`` the structure (or members) there."""
    out = []
    for e in entries:
        out.append(f"{e:x}")
        if struct is not None:
            out.append(render_struct_value(prog, struct, e, members))
    if error:
        out.append(f"list: {error}")
    return "\n".join(out)


# ---------------------------------------------------------------------------- vm
VM_HEADER = "      VMA           START       END     FLAGS FILE"


def render_linux_vm(header: str, mm: int, pgd: int, rss_kb: int, total_kb: int,
                    vmas: Sequence[Tuple[int, int, int, int, str]]) -> str:
    """``vm`` of a real Linux task: its mm, PGD, RSS and total_vm, then each vm_area_struct
    (address, start, end, vm_flags, file), crash's columns."""
    mm_s = f"{mm:016x}" if mm else "0".center(16)          # crash centres a 0 in its column
    pgd_s = f"{pgd:016x}" if pgd else "0".center(16)
    out = [header, "       MM               PGD          RSS    TOTAL_VM",
           f"{mm_s}  {pgd_s}{str(rss_kb) + 'k':>6}    {(str(total_kb) + 'k').center(8)}"]
    if vmas:
        out.append(VM_HEADER)
        for vma, start, end, flags, name in vmas:
            out.append(f"{vma:016x}  {start:>10x} {end:>10x} {flags:>8x} {name}".rstrip())
    return "\n".join(out)


def render_vm(header: str, mm: int, pgd: int, rss_kb: int, regions: Sequence[Tuple[int, int, str, str]]) -> str:
    """``vm``: the mm, its page table root and size, then its mapped regions.  The lab kernel
    keeps no ``vm_area_struct``: regions are runs of mapped pages in the page tables,
    named after the mm's fields (code, heap, stack), so the VMA column is ``-``."""
    out = [header, "       MM               PGD          RSS    TOTAL_VM",
           f"{mm:016x}  {pgd:016x}  {str(rss_kb) + 'k':>7}  {str(rss_kb) + 'k':>9}"]
    if regions:
        out.append(VM_HEADER)
        for start, end, flags, name in regions:
            out.append(f"{'-':>16}  {start:>10x} {end:>10x} {flags:>8} {name}")
    return "\n".join(out)
