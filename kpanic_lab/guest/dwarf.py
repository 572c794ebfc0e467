"""Struct layouts from the guest kernel's DWARF (pyelftools), never typed twice.

>>> layout = struct_layout(KernelImage.open(), "task_struct")     # doctest: +SKIP
>>> layout.offset("pid"), layout.size                              # doctest: +SKIP
(108, 344)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.errors import LabError
from kpanic_lab.guest.image import KernelImage


class TypeNotFound(LabError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return str(self.args[0])


@dataclass(frozen=True)
class Member:
    name: str
    offset: int
    size: Optional[int]
    type_name: str


@dataclass(frozen=True)
class StructLayout:
    name: str
    size: int
    members: Dict[str, Member]

    def offset(self, member: str) -> int:
        try:
            return self.members[member].offset
        except KeyError:
            raise TypeNotFound(f"struct {self.name} has no member {member!r}") from None


def _type_name_and_size(die) -> Tuple[str, Optional[int]]:
    """A readable name for a DWARF type ('struct list_head', 'int *', 'char [16]') and its size."""
    quals = ""
    while die is not None:
        tag = die.tag
        if tag in ("DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_typedef") and "DW_AT_type" in die.attributes:
            if tag == "DW_TAG_typedef":
                n = die.attributes["DW_AT_name"].value.decode()
                size = _type_name_and_size(die.get_DIE_from_attribute("DW_AT_type"))[1]
                return n + quals, size
            die = die.get_DIE_from_attribute("DW_AT_type")
            continue
        if tag == "DW_TAG_pointer_type":
            inner = die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None
            base = _type_name_and_size(inner)[0] if inner is not None else "void"
            return base + " *", 8
        if tag == "DW_TAG_array_type":
            inner_name, inner_size = _type_name_and_size(die.get_DIE_from_attribute("DW_AT_type"))
            dims = []
            for child in die.iter_children():
                if child.tag == "DW_TAG_subrange_type" and "DW_AT_upper_bound" in child.attributes:
                    dims.append(child.attributes["DW_AT_upper_bound"].value + 1)
            total = inner_size
            for d in dims:
                total = total * d if total is not None else None
            return inner_name + "".join(f"[{d}]" for d in dims), total
        name = die.attributes.get("DW_AT_name")
        size = die.attributes.get("DW_AT_byte_size")
        prefix = {"DW_TAG_structure_type": "struct ", "DW_TAG_union_type": "union ",
                  "DW_TAG_enumeration_type": "enum "}.get(tag, "")
        return prefix + (name.value.decode() if name else "(anonymous)"), (size.value if size else None)
    return "void", None


_CACHE: Dict[Tuple[str, Optional[str]], Dict[str, StructLayout]] = {}


def _all_structs(image: KernelImage) -> Dict[str, StructLayout]:
    key = (str(image.path), image.build_id)
    if key in _CACHE:
        return _CACHE[key]
    out: Dict[str, StructLayout] = {}
    with open(image.path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info():
            raise TypeNotFound(f"{image.path.name} has no DWARF (built without -g?)")
        for cu in elf.get_dwarf_info().iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag != "DW_TAG_structure_type" or "DW_AT_declaration" in die.attributes:
                    continue
                name = die.attributes.get("DW_AT_name")
                size = die.attributes.get("DW_AT_byte_size")
                if not name or not size:
                    continue
                sname = name.value.decode()
                if sname in out:
                    continue
                members = {}
                for child in die.iter_children():
                    if child.tag != "DW_TAG_member" or "DW_AT_name" not in child.attributes:
                        continue
                    loc = child.attributes.get("DW_AT_data_member_location")
                    off = loc.value if loc is not None and isinstance(loc.value, int) else 0
                    tname, tsize = _type_name_and_size(child.get_DIE_from_attribute("DW_AT_type"))
                    mname = child.attributes["DW_AT_name"].value.decode()
                    members[mname] = Member(mname, off, tsize, tname)
                out[sname] = StructLayout(sname, size.value, members)
    _CACHE[key] = out
    return out


def struct_layout(image: KernelImage, name: str) -> StructLayout:
    """The layout of ``struct name`` as the compiler laid it out."""
    structs = _all_structs(image)
    try:
        return structs[name]
    except KeyError:
        raise TypeNotFound(f"no struct {name} in the DWARF of {image.path.name}") from None
