"""A real kernel's symbols through drgn, behind the :class:`~kpanic_lab.analysis.symbols.SymbolTable` API.

drgn has already relocated them by KASLR's ``KERNELOFFSET``.  Text addresses are named as crash
and kallsyms name them (the nearest symbol at or below, labels included), so ``bt`` prints
``entry_SYSCALL_64_after_hwframe`` where drgn's own symbol lookup would say ``entry_SYSCALL_64``.

>>> DrgnSymbols(dprog).near(dprog.symbol("panic").address + 317)     # doctest: +SKIP
'panic+317'
"""
from __future__ import annotations

import bisect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from kpanic_lab.analysis.drgn_backend import import_drgn
from kpanic_lab.analysis.errors import NotFound
from kpanic_lab.analysis.symbols import KSymbol, Location

if TYPE_CHECKING:
    import drgn


def nm_letter(kind: str, weak: bool, is_global: bool) -> str:
    """``nm``'s letter for a symbol in section ``kind`` (t, r, d, b), as crash's ``sym`` shows it (pure).

    >>> nm_letter("t", False, True), nm_letter("b", False, False), nm_letter("d", True, True)
    ('T', 'b', 'V')
    """
    if weak:
        return "W" if kind == "t" else "V"
    return kind.upper() if is_global else kind


def section_kinds(path: Union[str, Path], offset: int = 0) -> List[Tuple[int, int, str]]:
    """[low, high) and nm's kind of each allocated section of an ELF file, moved by ``offset``
    (KASLR's KERNELOFFSET): ``t`` code, ``b`` no bits (.bss), ``d`` writable, ``r`` read-only.
    Only the section headers are read.  (Linux's .rodata is writable until init ends, so its
    symbols are ``D`` as crash shows them: ``linux_banner``.)"""
    from elftools.elf.elffile import ELFFile

    out = []
    with open(path, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            flags = sec["sh_flags"]
            if not flags & 0x2 or not sec["sh_size"]:            # SHF_ALLOC
                continue
            kind = "t" if flags & 0x4 else "b" if sec["sh_type"] == "SHT_NOBITS" else "d" if flags & 0x1 else "r"
            out.append((sec["sh_addr"] + offset, sec["sh_addr"] + sec["sh_size"] + offset, kind))
    return out


MODULES_VADDR = 0xFFFFFFFFA0000000       # x86-64: modules are mapped above the kernel image (0xffffffffc0000000 with KASLR)


class DrgnSymbols:
    """The :class:`~kpanic_lab.analysis.symbols.SymbolTable` API over drgn's symbol table
    (already relocated by KASLR).  Text addresses are named as crash and kallsyms name them:
    the nearest symbol at or below, so a label inside a function wins.  Nothing is copied
    until it is asked for: names go to drgn one at a time, and the sorted text symbols are
    built on the first text address (~0.3 s for Debian's 127,000 symbols)."""

    def __init__(self, dprog: "drgn.Program", sections: Sequence[Tuple[int, int, str]] = ()) -> None:
        self.drgn = dprog
        self._sections = list(sections)         # (low, high, nm kind) of the vmlinux's sections
        self._drgn_mod = import_drgn()
        self.text_ranges: List[Tuple[int, int]] = []
        for lo_name, hi_name in (("_stext", "_etext"), ("_sinittext", "_einittext")):
            try:       # the kernel's text, and its init text (start_kernel's callers live there)
                self.text_ranges.append((dprog.symbol(lo_name).address, dprog.symbol(hi_name).address))
            except LookupError:
                pass
        self._by_name: Dict[str, Optional[KSymbol]] = {}
        self._text: Optional[List[Tuple[int, int, str]]] = None     # (address, size == 0, name), sorted
        self._text_addrs: List[int] = []

    def _section(self, addr: int) -> str:
        if self.in_text(addr):
            return "t"
        return next((kind for lo, hi, kind in self._sections if lo <= addr < hi), "d")

    def _module_of(self, addr: int) -> Optional[str]:
        """The loaded module whose memory holds ``addr`` (crash's ``[null_deref]``), or None."""
        if addr < MODULES_VADDR or self.in_text(addr):
            return None
        try:
            from drgn.helpers.linux.module import address_to_module

            mod = address_to_module(self.drgn, addr)
            return mod.name.string_().decode(errors="replace") if mod else None
        except Exception:      # an older drgn, or a module list the dump left out
            return None

    def _ksymbol(self, s: Any) -> KSymbol:
        b = self._drgn_mod.SymbolBinding
        kind = "t" if s.kind == self._drgn_mod.SymbolKind.FUNC else self._section(s.address)
        return KSymbol(s.name, s.address, s.size, nm_letter(kind, s.binding == b.WEAK, s.binding == b.GLOBAL),
                       self._module_of(s.address))

    def get(self, name: str) -> Optional[KSymbol]:
        if name not in self._by_name:
            try:
                found = self.drgn.symbols(name)
            except (LookupError, ValueError):
                found = []
            # several symbols may share a name (static functions): the one with a size first
            best = max(found, key=lambda s: (s.size > 0, s.binding == self._drgn_mod.SymbolBinding.GLOBAL),
                       default=None)
            self._by_name[name] = self._ksymbol(best) if best is not None else None
        return self._by_name[name]

    def by_name(self, name: str) -> KSymbol:
        k = self.get(name)
        if k is None:
            raise NotFound(f"no symbol {name!r}")
        return k

    def names(self) -> List[str]:
        return sorted({s.name for s in self.drgn.symbols() if s.name})

    def in_text(self, addr: int) -> bool:
        return any(lo <= addr < hi for lo, hi in self.text_ranges)

    def _text_table(self) -> List[Tuple[int, int, str]]:
        if self._text is None:
            ranges = self.text_ranges
            rows = []
            for s in self.drgn.symbols():
                a = s.address
                for lo, hi in ranges:
                    if lo <= a < hi:
                        rows.append((a, s.size == 0, s.name))
                        break
            rows.sort()
            self._text = rows
            self._text_addrs = [r[0] for r in rows]
        return self._text

    def lookup(self, addr: int) -> Optional[Location]:
        """The symbol ``addr`` falls in: text by the nearest symbol at or below (crash's way;
        among several at one address, one with a size), data by the symbol that covers it."""
        if self.in_text(addr):
            table = self._text_table()
            i = bisect.bisect_right(self._text_addrs, addr) - 1
            if i < 0:
                return None
            name = table[i][2]
            j = i
            while j >= 0 and self._text_addrs[j] == table[i][0]:
                if not table[j][1]:
                    name = table[j][2]
                j -= 1
            k = self.get(name)
            if k is None or k.address != table[i][0]:
                k = KSymbol(name, table[i][0], 0, "t")
            return Location(k, addr - k.address)
        try:
            s = self.drgn.symbol(addr)
        except LookupError:
            return None
        k = self.get(s.name)
        if k is None or k.address != s.address:
            k = self._ksymbol(s)
        return Location(k, addr - s.address)

    def symbolize(self, addr: int) -> str:
        """``panic+0x13d/0x2f4`` (the kernel's %pS) or hex."""
        loc = self.lookup(addr)
        if loc is None:
            return f"{addr:#x}"
        return f"{loc.symbol.name}+{loc.offset:#x}/{loc.symbol.size:#x}"

    def near(self, addr: int) -> Optional[str]:
        loc = self.lookup(addr)
        return str(loc) if loc else None

    def matching(self, pattern: str) -> List[KSymbol]:
        """Symbols whose name contains ``pattern`` (``sym -q``), by address."""
        hits = sorted((s for s in self.drgn.symbols() if s.name and pattern in s.name
                       and s.address >= 0xFFFF800000000000), key=lambda s: (s.address, s.name))
        return [self._ksymbol(s) for s in hits]
