"""drgn's types as the lab's :class:`~kpanic_lab.analysis.types.Type`, made when they are asked for.

The shell's ``struct``, ``p`` and every helper read lab Types (members, offsets, bitfields, gdb's
names); for a real kernel they come from drgn's DWARF index instead of the lab's pyelftools
:class:`~kpanic_lab.analysis.typeindex.TypeIndex`, with the same lazy callbacks (``type_at``,
``_members_of``, ``_params_of``), so ``struct task_struct`` converts its members, not the kernel.

>>> DrgnTypes(dprog, "vmlinux").lookup("struct task_struct").member("pid").offset   # doctest: +SKIP
2456
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from kpanic_lab.analysis.drgn_backend import import_drgn
from kpanic_lab.analysis.errors import NotFound
from kpanic_lab.analysis.types import VOID, Member, Type

if TYPE_CHECKING:
    import drgn


_KINDS = {"VOID": "void", "INT": "int", "BOOL": "bool", "FLOAT": "float", "POINTER": "pointer",
          "ARRAY": "array", "STRUCT": "struct", "UNION": "union", "CLASS": "struct", "ENUM": "enum",
          "TYPEDEF": "typedef", "FUNCTION": "function"}


class DrgnTypes:
    """The :class:`~kpanic_lab.analysis.typeindex.TypeIndex` API over drgn: a drgn type becomes
    a lab :class:`Type` when it is looked up, its members and targets when they are asked for."""

    def __init__(self, dprog: "drgn.Program", name: str) -> None:
        self.drgn = dprog
        self.name = name
        self._refs: Dict[int, Any] = {}          # id -> drgn.Type, for Type._target_ref/_die_offset
        self._made: Dict[int, Type] = {}

    def lookup(self, spec: str) -> Type:
        """A type by C name, as :meth:`TypeIndex.lookup` takes it; ``task_struct`` alone
        finds the struct (crash's ``struct`` command takes it so)."""
        s = " ".join(spec.replace("*", " * ").split())
        tries = [s]
        if not s.split(" ", 1)[0] in ("struct", "union", "enum") and "*" not in s:
            tries += [f"struct {s}", f"union {s}"]
        for t in tries:
            try:
                return self.convert(self.drgn.type(t))
            except (LookupError, SyntaxError, ValueError):
                continue
        raise NotFound(f"no type {spec!r} in the DWARF of {self.name}")

    def variable_type(self, name: str) -> Optional[Type]:
        try:
            return self.convert(self.drgn.object(name).type_)
        except (LookupError, KeyError):
            return None

    def function_die(self, name: str) -> None:
        return None

    def convert(self, dt: Any) -> Type:
        """The lab's :class:`Type` for drgn type ``dt`` (cached by identity)."""
        key = id(dt)
        hit = self._made.get(key)
        if hit is not None and self._refs.get(key) is dt:
            return hit
        self._refs[key] = dt
        kind = _KINDS.get(dt.kind.name, "void")
        drgn = import_drgn()
        quals = tuple(q for q, flag in (("const", drgn.Qualifiers.CONST), ("volatile", drgn.Qualifiers.VOLATILE))
                      if dt.qualifiers & flag)
        name = getattr(dt, "tag", None) if kind in ("struct", "union", "enum") else getattr(dt, "name", None)
        if kind == "void":
            name = "void"
        size = None
        if kind in ("int", "bool", "float", "struct", "union", "enum", "pointer") and dt.is_complete():
            size = drgn.sizeof(dt)
        t = Type(kind, name, size, qualifiers=quals, _index=self)  # type: ignore[arg-type]
        if kind in ("pointer", "array", "typedef", "function"):
            t._target_ref = key
        if kind in ("struct", "union", "function"):
            t._die_offset = key
        if kind == "int":
            t.signed = bool(dt.is_signed)
        elif kind == "enum":
            t.enumerators = [(e.name, e.value) for e in (dt.enumerators or ())]
            t.signed = bool(dt.type.is_signed) if dt.type is not None else False
        elif kind == "array":
            t.length = dt.length
        elif kind == "function":
            t.variadic = bool(dt.is_variadic)
        self._made[key] = t
        return t

    # what Type calls back for its lazy parts
    def type_at(self, ref: int) -> Type:
        dt = self._refs[ref]
        inner = dt.type
        return self.convert(inner) if inner is not None else VOID

    def _members_of(self, t: Type) -> List[Member]:
        dt = self._refs[t._die_offset]  # type: ignore[index]
        out = []
        for m in dt.members or ():
            mt = self.convert(m.type)
            bits = m.bit_field_size
            off = m.bit_offset // 8
            bit_offset = 0
            if bits:
                unit = mt.byte_size or 1
                off = (m.bit_offset // (unit * 8)) * unit
                bit_offset = m.bit_offset - off * 8
            out.append(Member(m.name, mt, off, bits or None, bit_offset))
        return out

    def _params_of(self, t: Type) -> List[Type]:
        dt = self._refs[t._die_offset]  # type: ignore[index]
        return [self.convert(p.type) for p in dt.parameters]

    def all_names(self, kind: str) -> List[str]:
        return []
