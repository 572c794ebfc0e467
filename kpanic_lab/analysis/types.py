"""C types from the guest kernel's DWARF: what ``struct``, ``ptype`` and every helper read.

A :class:`Type` is one DWARF type (base type, pointer, array, struct, union, enum, typedef,
function) with its qualifiers; struct members and pointer targets are resolved lazily
through the :class:`~kpanic_lab.analysis.typeindex.TypeIndex` that made it, so
``struct task_struct`` costs a few DIEs, not the whole ``.debug_info``.

Base type names are printed as gdb prints them (``unsigned long``, not GCC's
``long unsigned int``), so declarations read like gdb's ``ptype``.

>>> types = TypeIndex.for_image(KernelImage.open())   # typeindex.py    # doctest: +SKIP
>>> t = types.lookup("struct task_struct")                      # doctest: +SKIP
>>> t.member("pid").offset, t.size                              # doctest: +SKIP
(88, 360)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Tuple

from kpanic_lab.analysis.errors import NotFound

if TYPE_CHECKING:
    from kpanic_lab.analysis.typeindex import TypeIndex

# GCC's DWARF base type names, as gdb prints them
_GDB_NAMES = {
    "long int": "long", "long unsigned int": "unsigned long", "short int": "short",
    "short unsigned int": "unsigned short", "long long int": "long long",
    "long long unsigned int": "unsigned long long", "sizetype": "unsigned long",
}
@dataclass(eq=False)
class Member:
    """One member of a struct or union (``name`` is None for an anonymous struct/union)."""

    name: Optional[str]
    type: "Type"
    offset: int                      # bytes from the start of the enclosing struct
    bit_size: Optional[int] = None   # bitfields: width and position (from bit 0 of the
    bit_offset: int = 0              # storage unit at ``offset``, little-endian)


@dataclass(eq=False)
class Type:
    """A C type.  ``kind`` is one of void, int, bool, float, pointer, array, struct, union,
    enum, typedef, function; ``name`` is the tag or type name (None when anonymous)."""

    kind: str
    name: Optional[str] = None
    size: Optional[int] = None
    signed: bool = False
    qualifiers: Tuple[str, ...] = ()
    length: Optional[int] = None                         # arrays: element count
    enumerators: List[Tuple[str, int]] = field(default_factory=list)
    variadic: bool = False
    prototyped: bool = True
    _index: Optional["TypeIndex"] = field(default=None, repr=False)
    _target_ref: Optional[int] = field(default=None, repr=False)
    _target: Optional["Type"] = field(default=None, repr=False)
    _die_offset: Optional[int] = field(default=None, repr=False)
    _members: Optional[List[Member]] = field(default=None, repr=False)
    _params: Optional[List["Type"]] = field(default=None, repr=False)

    # ---------------------------------------------------------------- structure
    @property
    def target(self) -> "Type":
        """What a pointer points at, an array's element, a typedef's type, a function's return."""
        if self._target is None:
            if self._target_ref is None or self._index is None:
                self._target = VOID
            else:
                self._target = self._index.type_at(self._target_ref)
        return self._target

    @property
    def members(self) -> List[Member]:
        if self._members is None:
            self._members = self._index._members_of(self) if self._index and self._die_offset else []
        return self._members

    @property
    def params(self) -> List["Type"]:
        if self._params is None:
            self._params = self._index._params_of(self) if self._index and self._die_offset else []
        return self._params

    def strip(self) -> "Type":
        """Without typedefs: the type the compiler really lays out."""
        t = self
        while t.kind == "typedef":
            t = t.target
        return t

    @property
    def byte_size(self) -> int:
        """Size in bytes (through typedefs; arrays multiply out; 0 when unknown)."""
        t = self.strip()
        if t.kind == "array":
            return (t.length or 0) * t.target.byte_size
        if t.kind == "pointer":
            return 8
        return t.size or 0

    def member(self, name: str) -> Member:
        """A member by name; members of anonymous structs/unions are found through them.
        Dotted paths (``thread.sp``) go into nested structs, offsets added up."""
        t = self.strip()
        if t.kind == "pointer":
            t = t.target.strip()
        first, _, rest = name.partition(".")
        found = _find_member(t, first)
        if found is None:
            raise NotFound(f"{self.describe()} has no member {first!r}")
        if rest:
            inner = found.type.member(rest)
            return Member(inner.name, inner.type, found.offset + inner.offset, inner.bit_size, inner.bit_offset)
        return found

    def has_member(self, name: str) -> bool:
        try:
            self.member(name)
            return True
        except NotFound:
            return False

    def pointer(self) -> "Type":
        return Type("pointer", size=8, _target=self)

    def describe(self) -> str:
        """The type's name as C writes it: ``struct task_struct *``, ``char [16]``."""
        from kpanic_lab.analysis.typefmt import type_name

        return type_name(self)

    @property
    def is_integer(self) -> bool:
        return self.strip().kind in ("int", "bool", "enum")

    @property
    def is_char(self) -> bool:
        t = self.strip()
        return t.kind == "int" and t.size == 1 and (t.name or "").endswith("char")


def _find_member(t: Type, name: str) -> Optional[Member]:
    for m in t.members:
        if m.name == name:
            return m
        if m.name is None and m.type.strip().kind in ("struct", "union"):
            inner = _find_member(m.type.strip(), name)
            if inner is not None:
                return Member(inner.name, inner.type, m.offset + inner.offset, inner.bit_size, inner.bit_offset)
    return None


VOID = Type("void", "void")
