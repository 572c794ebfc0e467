"""How types and values read, in the words gdb (and so crash) uses: the describe layer.

* :func:`type_name` and :func:`declaration`: C spelling of a type (``int (*threadfn)(void *)``);
* :func:`definition_lines`: a struct definition as crash's ``struct NAME`` shows it (gdb's
  ``ptype``), optionally with each member's offset or address (``struct -o``);
* :func:`format_value`: a value as crash's ``struct NAME ADDR`` shows it (gdb's ``print``
  with ``pretty`` on): pointers in hex with ``<symbol>``, char arrays as C strings,
  enums by name, nested structs indented.

Everything here is pure over bytes: the few facts it needs from memory (the text a
``char *`` points at, the symbol an address is in) come through a :class:`ValueContext`.

>>> print(format_char_array(b"sh" + bytes(4)))
"sh\\000\\000\\000"
"""
from __future__ import annotations

import struct as _struct
from typing import List, Optional, Protocol

from kpanic_lab.analysis.types import Member, Type

INDENT = "  "


class ValueContext(Protocol):
    """What formatting needs from the target: a string at an address, a symbol for an address."""

    def string_at(self, addr: int, limit: int = 200) -> Optional[bytes]: ...

    def symbol_for(self, addr: int) -> Optional[str]: ...


# ---------------------------------------------------------------------------- type names
def _quals(t: Type) -> str:
    return "".join(q + " " for q in t.qualifiers)


def declaration(t: Type, inner: str = "") -> str:
    """``t`` declared with the declarator ``inner``: ``char comm[16]``, ``int (*fn)(void *)``."""
    if t.kind == "pointer":
        star = "*" + (" ".join(t.qualifiers) + " " if t.qualifiers else "") + inner
        if t.target.kind in ("array", "function"):
            star = "(" + star + ")"
        return declaration(t.target, star)
    if t.kind == "array":
        n = "" if t.length is None else str(t.length)
        return declaration(t.target, f"{inner}[{n}]" if inner else f"[{n}]")
    if t.kind == "function":
        params = ", ".join(type_name(p) for p in t.params)
        if t.variadic:
            params = params + ", ..." if params else "..."
        elif not params and t.prototyped:
            params = "void"
        return declaration(t.target, f"{inner}({params})")
    base = _quals(t) + base_name(t)
    if not inner:
        return base
    sep = "" if inner.startswith("[") else " "
    return base + sep + inner


def base_name(t: Type) -> str:
    if t.kind in ("struct", "union", "enum"):
        return f"{t.kind} {t.name or '{...}'}"
    return t.name or "void"


def type_name(t: Type) -> str:
    """The type alone, as gdb's ``whatis`` spells it: ``struct task_struct *``, ``char [16]``."""
    return declaration(t, "")


# ---------------------------------------------------------------------------- definitions
def definition_lines(t: Type, offsets: bool = False, address: Optional[int] = None,
                     only: Optional[List[str]] = None) -> List[str]:
    """A struct/union definition, crash's way: ``struct task_struct {`` ... ``}``.

    ``offsets`` prefixes each member with ``[offset]`` (or ``[address]`` when ``address``
    is given); ``only`` limits it to those members (``struct task_struct.pid``).
    """
    s = t.strip()
    head = f"{s.kind} {s.name} {{" if s.name else f"{s.kind} {{"
    out = [head]
    members = [s.member(n) for n in only] if only else s.members
    width = max((len(f"[{m.offset}]") for m in members), default=3)
    _members(out, members, 1, offsets, address, 0, max(width, 3) + 2)
    out.append("}")
    return out


def _members(out: List[str], members: List[Member], depth: int, offsets: bool,
             address: Optional[int], base: int, width: int) -> None:
    pad = "    " * depth
    for m in members:
        off = base + m.offset
        mt = m.type
        prefix = ""
        if offsets:
            prefix = f"  [{address + off:x}] " if address is not None else f"{'[' + str(off) + ']':>{width}} "
        if m.name is None and mt.strip().kind in ("struct", "union") and not mt.strip().name:
            inner = mt.strip()
            out.append(("" if offsets else pad) + f"{inner.kind} {{")
            _members(out, inner.members, depth + 1, offsets, address, off, width)
            out.append(pad + "};")
            continue
        decl = declaration(mt, m.name or "")
        if m.bit_size is not None:
            decl += f" : {m.bit_size}"
        out.append((prefix if offsets else pad) + decl + ";")


# ---------------------------------------------------------------------------- values
def _int(data: bytes, size: int, signed: bool) -> int:
    return int.from_bytes(data[:size], "little", signed=signed)


def member_bytes_value(m: Member, data: bytes) -> int:
    """The integer value of a (possibly bitfield) member, from the enclosing struct's bytes."""
    t = m.type.strip()
    size = t.byte_size or 8
    signed = t.signed
    raw = data[m.offset:m.offset + size]
    if m.bit_size is None:
        return _int(raw, size, signed)
    v = (int.from_bytes(raw, "little") >> m.bit_offset) & ((1 << m.bit_size) - 1)
    if signed and v >> (m.bit_size - 1):
        v -= 1 << m.bit_size
    return v


_ESC = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}


def _escape(data: bytes) -> str:
    out = []
    after_octal = False
    for b in data:
        if b in _ESC:
            out.append(_ESC[b])
            after_octal = False
        elif 32 <= b < 127 and not (after_octal and 48 <= b <= 57):
            out.append(chr(b))
            after_octal = False
        else:
            out.append(f"\\{b:03o}")
            after_octal = True
    return "".join(out)


def format_char_array(data: bytes) -> str:
    """A ``char[N]`` as gdb prints it: every element, the one final NUL left out."""
    if data.endswith(b"\0"):
        data = data[:-1]
    return '"' + _escape(data) + '"'


def format_char(v: int) -> str:
    b = v & 0xFF
    c = "\\'" if b == 39 else _escape(bytes([b])).replace('\\"', '"')
    return f"{v} '{c}'"


def format_scalar(t: Type, v: int, ctx: Optional[ValueContext]) -> str:
    """One integer-like value of type ``t`` (int, char, bool, enum, pointer)."""
    s = t.strip()
    if s.kind == "bool":
        return "true" if v else "false"
    if s.kind == "enum":
        names = {val: n for n, val in s.enumerators}
        return names.get(v, str(v))
    if s.kind == "pointer":
        v &= 0xFFFFFFFFFFFFFFFF
        text = f"0x{v:x}"
        if v == 0 or ctx is None:
            return text
        if s.target.is_char:
            data = ctx.string_at(v)
            if data is None:
                return text + f" <error: Cannot access memory at address 0x{v:x}>"
            return text + " " + '"' + _escape(data) + '"'
        sym = ctx.symbol_for(v)
        return text + (f" <{sym}>" if sym else "")
    if s.kind == "float":
        return repr(v)
    if s.is_char:
        return format_char(v)
    return str(v)


def format_value(t: Type, data: bytes, ctx: Optional[ValueContext] = None, depth: int = 0) -> str:
    """The value of type ``t`` held in ``data`` (``len(data) >= t.byte_size``), gdb-style.
    Nested structs and arrays of structs span several lines, indented from ``depth``."""
    s = t.strip()
    if s.kind in ("struct", "union"):
        return _format_struct(s, data, ctx, depth)
    if s.kind == "array":
        return _format_array(s, data, ctx, depth)
    if s.kind == "float":
        fmt = {4: "<f", 8: "<d"}.get(s.size or 0)
        return repr(_struct.unpack(fmt, data[:s.size])[0]) if fmt else "<float>"
    if s.kind == "function":
        return "{<text variable, no debug info>}"
    if s.kind == "void":
        return "void"
    size = s.byte_size or 8
    return format_scalar(s, _int(data, size, s.signed and s.kind != "pointer"), ctx)


def format_member(m: Member, data: bytes, ctx: Optional[ValueContext], depth: int) -> str:
    """``name = value`` for one member of a struct held in ``data``."""
    s = m.type.strip()
    if m.bit_size is not None:
        value = format_scalar(s, member_bytes_value(m, data), ctx)
    else:
        size = m.type.byte_size
        value = format_value(m.type, data[m.offset:m.offset + size], ctx, depth)
    return f"{m.name} = {value}" if m.name else value


def _format_struct(s: Type, data: bytes, ctx: Optional[ValueContext], depth: int) -> str:
    members = s.members
    if not members:
        return "{}"
    pad = INDENT * (depth + 1)
    lines = [pad + format_member(m, data, ctx, depth + 1) for m in members]
    return "{\n" + ",\n".join(lines) + "\n" + INDENT * depth + "}"


def _format_array(s: Type, data: bytes, ctx: Optional[ValueContext], depth: int) -> str:
    elem = s.target
    n = s.length or 0
    if elem.is_char:
        return format_char_array(data[:n])
    esize = elem.byte_size
    if not n or not esize:
        return "{}" if n == 0 else "0x0"
    parts = [format_value(elem, data[i * esize:(i + 1) * esize], ctx, depth + 1) for i in range(n)]
    if elem.strip().kind in ("struct", "union"):
        # gdb: {{ ... }, { ... }}, each element one level deeper
        return "{" + ", ".join(parts) + "}"
    return "{" + ", ".join(parts) + "}"
