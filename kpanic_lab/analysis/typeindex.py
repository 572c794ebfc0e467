"""The DWARF index of a kernel image: types found by name, parsed on demand (see types.py).

Names are indexed a compilation unit at a time, and only the CUs whose bytes can name
what is looked up are parsed (a name is an offset into .debug_str, or an inline string):
``struct task_struct`` costs one CU, not the whole ``.debug_info``.

>>> types = TypeIndex.for_image(KernelImage.open())             # doctest: +SKIP
>>> types.lookup("pid_t").strip().name                          # doctest: +SKIP
'int'
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.analysis.errors import NotFound
from kpanic_lab.analysis.types import _GDB_NAMES, VOID, Member, Type
from kpanic_lab.guest.image import KernelImage

_TAG_KIND = {
    "DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
    "DW_TAG_enumeration_type": "enum", "DW_TAG_typedef": "typedef", "DW_TAG_base_type": "base",
    "DW_TAG_pointer_type": "pointer", "DW_TAG_array_type": "array",
    "DW_TAG_subroutine_type": "function", "DW_TAG_unspecified_type": "void",
}
_QUALIFIERS = {"DW_TAG_const_type": "const", "DW_TAG_volatile_type": "volatile"}


class TypeIndex:
    """Types of one kernel image, found by name or by DWARF offset, parsed on demand."""

    _instances: Dict[Tuple[str, Optional[str]], "TypeIndex"] = {}

    def __init__(self, image: KernelImage) -> None:
        self.image = image
        self._file = open(image.path, "rb")
        elf = ELFFile(self._file)
        if not elf.has_dwarf_info():
            raise NotFound(f"{image.path.name} has no DWARF (built without -g?)")
        self.dwarf = elf.get_dwarf_info()
        self._cus = list(self.dwarf.iter_CUs())          # headers only: cheap
        self._scanned: set = set()
        info = elf.get_section_by_name(".debug_info")
        strs = elf.get_section_by_name(".debug_str")
        # names are offsets into .debug_str (DW_FORM_strp) or inline strings: a CU whose bytes
        # hold neither cannot name the type, so it need not be parsed (str_offsets: no filter)
        self._info = info.data() if info is not None else b""
        self._str = strs.data() if strs is not None and elf.get_section_by_name(".debug_str_offsets") is None \
            else None
        self._names: Dict[Tuple[str, str], int] = {}      # (namespace, name) -> DIE offset
        self._by_offset: Dict[int, Type] = {}

    @classmethod
    def for_image(cls, image: KernelImage) -> "TypeIndex":
        """One index per image file and build (types are immutable, so it is shared)."""
        key = (str(image.path), image.build_id)
        if key not in cls._instances:
            cls._instances[key] = cls(image)
        return cls._instances[key]

    # ---------------------------------------------------------------- names
    def _scan(self, i: int) -> None:
        """Index the named top-level DIEs of CU number ``i``."""
        self._scanned.add(i)
        for die in self._cus[i].get_top_DIE().iter_children():
            kind: Optional[str] = _TAG_KIND.get(str(die.tag))
            if die.tag == "DW_TAG_variable":
                kind = "var"
            elif die.tag == "DW_TAG_subprogram":
                kind = "func"
            if not isinstance(kind, str) or "DW_AT_name" not in die.attributes:
                continue
            name = die.attributes["DW_AT_name"].value.decode(errors="replace")
            if kind == "base":
                name = _GDB_NAMES.get(name, name)
            key = (kind, name)
            declaration = "DW_AT_declaration" in die.attributes
            if key not in self._names or (not declaration and self._is_declaration(self._names[key])):
                self._names[key] = die.offset

    def _candidates(self, name: str) -> List[int]:
        """CUs (not parsed yet) whose bytes could name ``name``, in order."""
        todo = [i for i in range(len(self._cus)) if i not in self._scanned]
        if self._str is None:
            return todo
        raw = name.encode() + b"\0"
        needles = [raw]
        pos = self._str.find(raw)
        while pos >= 0:          # the linker merges string tails: "pcpu" may end "this_pcpu"
            needles.append(pos.to_bytes(4, "little"))
            pos = self._str.find(raw, pos + 1)
        out = []
        for i in todo:
            cu = self._cus[i]
            chunk = self._info[cu.cu_offset:cu.cu_offset + cu.size]
            if any(n in chunk for n in needles):
                out.append(i)
        return out

    def _is_declaration(self, offset: int) -> bool:
        return "DW_AT_declaration" in self.dwarf.get_DIE_from_refaddr(offset).attributes

    def _find_first(self, kinds: Tuple[str, ...], name: str) -> Optional[int]:
        """The DIE of the first of ``kinds`` named ``name`` (a definition rather than a
        declaration), parsing only the CUs that can hold it."""
        def hit() -> Optional[int]:
            for k in kinds:
                off = self._names.get((k, name))
                if off is not None and not self._is_declaration(off):
                    return off
            return None

        found = hit()
        if found is None:
            for i in self._candidates(name):
                self._scan(i)
                found = hit()
                if found is not None:
                    break
        if found is None:       # only declarations (an opaque struct): take one
            found = next((self._names[(k, name)] for k in kinds if (k, name) in self._names), None)
        return found

    def _find(self, kind: str, name: str) -> Optional[int]:
        return self._find_first((kind,), name)

    def lookup(self, spec: str) -> Type:
        """A type by C name: ``struct task_struct``, ``task_struct`` (struct, union or typedef),
        ``union x``, ``enum module_state``, ``pid_t``, ``unsigned long``, ``char *``."""
        s = " ".join(spec.replace("*", " * ").split())
        stars = 0
        while s.endswith("*"):
            stars += 1
            s = s[:-1].strip()
        t = self._lookup_plain(s)
        for _ in range(stars):
            t = t.pointer()
        return t

    def _lookup_plain(self, s: str) -> Type:
        if not s:
            raise NotFound("no type name given")
        first, _, rest = s.partition(" ")
        if first in ("struct", "union", "enum") and rest:
            off = self._find(first, rest)
            if off is None:
                raise NotFound(f"no {first} {rest} in the DWARF of {self.image.path.name}")
            return self.type_at(off)
        if s == "void":
            return VOID
        s = _GDB_NAMES.get(s, s)
        off = self._find_first(("struct", "typedef", "base", "union", "enum"), s)
        if off is not None:
            return self.type_at(off)
        raise NotFound(f"no type {s!r} in the DWARF of {self.image.path.name}")

    def variable_type(self, name: str) -> Optional[Type]:
        """The declared type of the global variable ``name`` (None when DWARF has no entry)."""
        off = self._find("var", name)
        if off is None:
            return None
        die = self.dwarf.get_DIE_from_refaddr(off)
        ref = _ref(die)
        return self.type_at(ref) if ref is not None else None

    def function_die(self, name: str):
        """The DWARF DIE of function ``name`` (for its declared line), or None."""
        off = self._find("func", name)
        return self.dwarf.get_DIE_from_refaddr(off) if off is not None else None

    # ---------------------------------------------------------------- DIEs to types
    def type_at(self, offset: int) -> Type:
        """The type whose DIE is at ``offset`` in .debug_info (cached)."""
        t = self._by_offset.get(offset)
        if t is None:
            t = self._build(self.dwarf.get_DIE_from_refaddr(offset))
            self._by_offset[offset] = t
        return t

    def _build(self, die) -> Type:
        quals: List[str] = []
        while die.tag in _QUALIFIERS or die.tag == "DW_TAG_restrict_type":
            if die.tag in _QUALIFIERS:
                quals.append(_QUALIFIERS[die.tag])
            ref = _ref(die)
            if ref is None:
                return Type("void", "void", qualifiers=tuple(quals))
            die = self.dwarf.get_DIE_from_refaddr(ref)
        if quals:
            base = self.type_at(die.offset)
            return Type(**{**base.__dict__, "qualifiers": tuple(dict.fromkeys(list(base.qualifiers) + quals))})
        a = die.attributes
        name = a["DW_AT_name"].value.decode(errors="replace") if "DW_AT_name" in a else None
        size = a["DW_AT_byte_size"].value if "DW_AT_byte_size" in a else None
        kind = _TAG_KIND.get(die.tag)
        t = Type(kind or "void", name, size, _index=self, _target_ref=_ref(die), _die_offset=die.offset)
        if die.tag == "DW_TAG_base_type":
            enc = a["DW_AT_encoding"].value if "DW_AT_encoding" in a else 5
            t.kind = {2: "bool", 4: "float"}.get(enc, "int")
            t.signed = enc in (5, 6, 0xd)          # DW_ATE_signed, signed_char, signed_fixed
            t.name = _GDB_NAMES.get(name or "", name)
        elif die.tag == "DW_TAG_pointer_type":
            t.size = size or 8
        elif die.tag == "DW_TAG_enumeration_type":
            t.enumerators = [(c.attributes["DW_AT_name"].value.decode(), c.attributes["DW_AT_const_value"].value)
                             for c in die.iter_children() if c.tag == "DW_TAG_enumerator"]
            t.signed = any(v < 0 for _, v in t.enumerators)
        elif die.tag == "DW_TAG_array_type":
            dims = [_subrange_count(c) for c in die.iter_children() if c.tag == "DW_TAG_subrange_type"] or [None]
            elem: Optional[Type] = None
            for n in reversed(dims[1:]):         # int a[2][3]: an array of 2 arrays of 3
                elem = Type("array", length=n, _index=self, _target_ref=t._target_ref, _target=elem)
            t.length, t._target = dims[0], elem
        elif die.tag == "DW_TAG_subroutine_type":
            t.prototyped = bool(a["DW_AT_prototyped"].value) if "DW_AT_prototyped" in a else False
            t.variadic = any(c.tag == "DW_TAG_unspecified_parameters" for c in die.iter_children())
        elif die.tag in ("DW_TAG_structure_type", "DW_TAG_union_type") and "DW_AT_declaration" in a and name:
            full = self._find(t.kind, name)               # an opaque declaration: the definition
            if full is not None and full != die.offset:
                return self.type_at(full)
        return t

    def _members_of(self, t: Type) -> List[Member]:
        out = []
        assert t._die_offset is not None
        for c in self.dwarf.get_DIE_from_refaddr(t._die_offset).iter_children():
            if c.tag != "DW_TAG_member":
                continue
            a = c.attributes
            mtype = self.type_at(_ref(c))  # type: ignore[arg-type]
            name = a["DW_AT_name"].value.decode() if "DW_AT_name" in a else None
            offset = _member_location(c)
            bit_size = a["DW_AT_bit_size"].value if "DW_AT_bit_size" in a else None
            bit_offset = 0
            if bit_size is not None:
                unit = mtype.byte_size or 1
                if "DW_AT_data_bit_offset" in a:                      # DWARF 4/5
                    bits = a["DW_AT_data_bit_offset"].value
                    offset = (bits // (unit * 8)) * unit
                    bit_offset = bits - offset * 8
                elif "DW_AT_bit_offset" in a:                         # DWARF 2/3: from the MSB
                    unit = a["DW_AT_byte_size"].value if "DW_AT_byte_size" in a else unit
                    bit_offset = unit * 8 - a["DW_AT_bit_offset"].value - bit_size
            out.append(Member(name, mtype, offset, bit_size, bit_offset))
        return out

    def _params_of(self, t: Type) -> List[Type]:
        assert t._die_offset is not None
        return [self.type_at(_ref(c)) for c in self.dwarf.get_DIE_from_refaddr(t._die_offset).iter_children()  # type: ignore[arg-type]
                if c.tag == "DW_TAG_formal_parameter" and _ref(c) is not None]

    def all_names(self, kind: str) -> Iterator[str]:
        """Every name of one kind (``struct``, ``typedef``, ``var`` ...): scans all CUs."""
        for i in range(len(self._cus)):
            if i not in self._scanned:
                self._scan(i)
        return iter(sorted(n for k, n in self._names if k == kind))


def _ref(die) -> Optional[int]:
    """The DIE offset DW_AT_type refers to (None for void)."""
    a = die.attributes.get("DW_AT_type")
    if a is None:
        return None
    if a.form in ("DW_FORM_ref_addr", "DW_FORM_ref_sig8"):
        return a.value
    return a.value + die.cu.cu_offset


def _subrange_count(die) -> Optional[int]:
    a = die.attributes
    if "DW_AT_count" in a and isinstance(a["DW_AT_count"].value, int):
        return a["DW_AT_count"].value
    if "DW_AT_upper_bound" in a and isinstance(a["DW_AT_upper_bound"].value, int):
        return a["DW_AT_upper_bound"].value + 1
    return None   # a flexible array member: []


def _member_location(die) -> int:
    loc = die.attributes.get("DW_AT_data_member_location")
    if loc is None:
        return 0
    if isinstance(loc.value, int):
        return loc.value
    if isinstance(loc.value, list) and len(loc.value) >= 2 and loc.value[0] == 0x23:   # DW_OP_plus_uconst ULEB
        val, shift = 0, 0
        for b in loc.value[1:]:
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return val
    return 0
