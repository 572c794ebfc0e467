"""Kernel symbols: names to addresses and back, with ``nm`` type letters and modules.

Text addresses are named the way the kernel names them (kallsyms rules, through
:class:`~kpanic_lab.guest.image.KernelImage`), so ``bt`` agrees with the guest's own
Call Trace; data addresses are named by the closest data symbol at or below them.
Each symbol carries its ``nm`` letter (``T``/``t`` text, ``R``/``r`` rodata, ``D``/``d``
data, ``B``/``b`` bss), which ``sym`` prints as crash does: ``ffffffff810076c0 (T) panic``.

>>> syms = SymbolTable.for_image(KernelImage.open())      # doctest: +SKIP
>>> syms.by_name("panic").letter                         # doctest: +SKIP
'T'
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.analysis.errors import NotFound
from kpanic_lab.guest.image import KernelImage

KERNEL_SPACE = 0xFFFF800000000000


@dataclass(frozen=True)
class KSymbol:
    """One kernel symbol, as ``nm`` and crash's ``sym`` list it."""

    name: str
    address: int
    size: int
    letter: str          # nm type letter
    module: Optional[str] = None

    @property
    def is_text(self) -> bool:
        return self.letter in "Tt"


@dataclass(frozen=True)
class Location:
    """Where an address falls: a symbol and the offset into it (crash's ``sym+off``)."""

    symbol: KSymbol
    offset: int

    def __str__(self) -> str:
        return self.symbol.name + (f"+{self.offset}" if self.offset else "")


def _letter(section: str, bind: str) -> str:
    base = {".text": "t", ".rodata": "r", ".data": "d", ".bss": "b"}.get(section)
    if base is None:
        base = "t" if section.startswith(".text") else "r" if section.startswith(".rodata") else \
            "b" if section.startswith(".bss") else "d"
    if bind == "STB_WEAK":
        return "W" if base == "t" else "V"
    return base.upper() if bind == "STB_GLOBAL" else base


class SymbolTable:
    """Every named symbol of one kernel image, by name and by address."""

    _instances: Dict[Tuple[str, Optional[str]], "SymbolTable"] = {}

    def __init__(self, image: KernelImage) -> None:
        self.image = image
        by_name: Dict[str, KSymbol] = {}
        with open(image.path, "rb") as f:
            elf = ELFFile(f)
            sections = [s.name for s in elf.iter_sections()]
            symtab = elf.get_section_by_name(".symtab")
            for s in symtab.iter_symbols() if symtab is not None else ():  # type: ignore[attr-defined]
                kind = s["st_info"]["type"]
                shndx = s["st_shndx"]
                if not s.name or kind not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") or not isinstance(shndx, int):
                    continue
                if s["st_value"] < KERNEL_SPACE:
                    continue
                sym = KSymbol(s.name, s["st_value"], s["st_size"], _letter(sections[shndx], s["st_info"]["bind"]),
                              image.module_of(s["st_value"]))
                old = by_name.get(s.name)
                if old is None or (old.size == 0 and sym.size):
                    by_name[s.name] = sym
        self._by_name = by_name
        ordered = sorted(by_name.values(), key=lambda k: (k.address, k.size == 0, k.name))
        self._sorted = ordered
        self._addrs = [k.address for k in ordered]
        lo = min((sg.vaddr for sg in image.segments), default=0)
        hi = max((sg.vaddr + sg.memsz for sg in image.segments), default=0)
        self.image_range = (lo, hi)

    @classmethod
    def for_image(cls, image: KernelImage) -> "SymbolTable":
        key = (str(image.path), image.build_id)
        if key not in cls._instances:
            cls._instances[key] = cls(image)
        return cls._instances[key]

    def by_name(self, name: str) -> KSymbol:
        try:
            return self._by_name[name]
        except KeyError:
            raise NotFound(f"no symbol {name!r}") from None

    def get(self, name: str) -> Optional[KSymbol]:
        return self._by_name.get(name)

    def names(self) -> List[str]:
        return sorted(self._by_name)

    def lookup(self, addr: int) -> Optional[Location]:
        """The symbol ``addr`` falls in, or None outside the kernel image.

        Text is named as kallsyms names it (a symbol runs to the next one), so a return
        address just past a ``noreturn`` call still belongs to its caller; data is named
        by the nearest symbol at or below it that covers it (or any, for padding)."""
        hit = self.image.lookup(addr)
        if hit is not None:
            s, off = hit
            k = self._by_name.get(s.name)
            if k is None or k.address != s.address:
                k = KSymbol(s.name, s.address, s.size, "t", self.image.module_of(addr))
            return Location(k, off)
        if not self.image_range[0] <= addr < self.image_range[1]:
            return None
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        # prefer a sized symbol covering addr among those at the same address
        best = self._sorted[i]
        j = i
        while j >= 0 and self._addrs[j] == best.address:
            if self._sorted[j].size and addr < self._sorted[j].address + self._sorted[j].size:
                best = self._sorted[j]
                break
            j -= 1
        return Location(best, addr - best.address)

    def symbolize(self, addr: int) -> str:
        """``addr`` as the kernel's %pS prints it (``panic+0x17d/0x32f``), or hex."""
        return self.image.symbolize(addr)

    def near(self, addr: int) -> Optional[str]:
        """``sym`` or ``sym+off`` (decimal), crash's short form; None outside the image."""
        loc = self.lookup(addr)
        return str(loc) if loc else None

    def in_text(self, addr: int) -> bool:
        """True for an address in the kernel's text (what a return address must be)."""
        return self.image.in_text(addr)

    def matching(self, pattern: str) -> List[KSymbol]:
        """Symbols whose name contains ``pattern`` (crash's ``sym -q``), by address."""
        return [k for k in self._sorted if pattern in k.name]
