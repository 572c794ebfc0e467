"""The guest kernel image: segments to load, symbols to name addresses, and the
few instruction sites the machine watches.

Everything here is read from the ELF file with pyelftools (and capstone for
the instruction sites); nothing is typed by hand.

>>> img = KernelImage.open()                               # doctest: +SKIP
>>> img.symbolize(img.symbol("panic").address + 0x10)      # doctest: +SKIP
'panic+0x10/0x2f4'
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.errors import LabError
from kpanic_lab.guest import vmlinux_path


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str  # "func" or "object"


@dataclass(frozen=True)
class Segment:
    vaddr: int
    paddr: int
    data: bytes
    memsz: int


class ImageError(LabError):
    """The kernel image is missing or is not a kpanic_lab guest kernel."""


class KernelImage:
    """One guest ``vmlinux``: its loadable segments, symbols and build-id."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ImageError(
                f"guest kernel image not found: {self.path} "
                "(build it with `make -C kpanic_lab/guest`)"
            )
        with open(self.path, "rb") as f:
            try:
                elf = ELFFile(f)
            except Exception as e:  # pyelftools raises several types for non-ELF input
                raise ImageError(f"{self.path}: not an ELF file ({e})") from None
            if elf.get_machine_arch() != "x64":
                raise ImageError(f"{self.path}: not an x86-64 kernel ({elf.get_machine_arch()})")
            self.entry: int = elf.header.e_entry
            self.segments: List[Segment] = [
                Segment(s["p_vaddr"], s["p_paddr"], s.data(), s["p_memsz"])
                for s in elf.iter_segments()
                if s["p_type"] == "PT_LOAD"
            ]
            self.build_id: Optional[str] = None
            for sec in elf.iter_sections():
                if sec["sh_type"] == "SHT_NOTE":
                    for note in sec.iter_notes():
                        if note["n_type"] == "NT_GNU_BUILD_ID":
                            self.build_id = note["n_desc"]
            symtab = elf.get_section_by_name(".symtab")
            if symtab is None:
                raise ImageError(f"{self.path}: no symbol table (was it stripped?)")
            syms: Dict[str, Symbol] = {}
            for s in symtab.iter_symbols():
                t = s["st_info"]["type"]
                if not s.name or t not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                    continue
                if s["st_shndx"] == "SHN_UNDEF" or s["st_shndx"] == "SHN_ABS" and t != "STT_NOTYPE":
                    continue
                kind = "func" if t == "STT_FUNC" else "object" if t == "STT_OBJECT" else "label"
                sym = Symbol(s.name, s["st_value"], s["st_size"], kind)
                if s.name not in syms or syms[s.name].kind == "label":
                    syms[s.name] = sym
            text = elf.get_section_by_name(".text")
            self._text_range = (text["sh_addr"], text["sh_addr"] + text["sh_size"]) if text else (0, 0)
            self._text_bytes = text.data() if text else b""
        self.symbols = syms
        funcs = sorted(
            (s for s in syms.values() if s.kind in ("func", "label") and self.in_text(s.address)),
            key=lambda s: (s.address, s.kind != "func"),
        )
        self._func_addrs = [s.address for s in funcs]
        self._funcs = funcs
        lo = min((sg.paddr for sg in self.segments), default=0)
        hi = max((sg.paddr + sg.memsz for sg in self.segments), default=0)
        self.phys_range: Tuple[int, int] = (lo, hi)

    @classmethod
    def open(cls, path: Optional[Path] = None) -> "KernelImage":
        """The image at ``path`` (default: the shipped one), cached per path and mtime."""
        p = Path(path) if path else vmlinux_path()
        try:
            mtime = p.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return _open_cached(str(p.resolve()), mtime)

    def in_text(self, addr: int) -> bool:
        return self._text_range[0] <= addr < self._text_range[1]

    def symbol(self, name: str) -> Symbol:
        try:
            return self.symbols[name]
        except KeyError:
            raise KeyError(f"no symbol {name!r} in {self.path.name}") from None

    def address_of(self, name: str) -> int:
        return self.symbol(name).address

    def lookup(self, addr: int) -> Optional[Tuple[Symbol, int]]:
        """The function containing ``addr`` and the offset into it, or None.

        A sized function (from C) that contains ``addr`` wins; otherwise the nearest
        preceding assembly label (``.size``-less symbols in entry.S).
        """
        j = bisect.bisect_right(self._func_addrs, addr) - 1
        label: Optional[Symbol] = None
        while j >= 0:
            s = self._funcs[j]
            if s.size:
                if addr < s.address + s.size:
                    return s, addr - s.address
                break
            if label is None:
                label = s
            j -= 1
        if label is not None and self.in_text(addr):
            return label, addr - label.address
        return None

    def symbolize(self, addr: int) -> str:
        """``addr`` as Linux prints it with %pS: ``panic+0x118/0x2f4``, or hex."""
        hit = self.lookup(addr)
        if hit is None:
            return f"0x{addr:x}"
        s, off = hit
        return f"{s.name}+0x{off:x}/0x{s.size:x}"

    def functions(self) -> List[Symbol]:
        return list(self._funcs)

    def instruction_sites(self, mnemonic: str) -> List[int]:
        """Addresses of every ``mnemonic`` instruction in .text (a capstone sweep per function)."""
        return list(_sites(self, mnemonic))


def _sites(img: KernelImage, mnemonic: str) -> Tuple[int, ...]:
    key = (str(img.path), img.build_id, mnemonic)
    if key not in _SITE_CACHE:
        from capstone import CS_ARCH_X86, CS_MODE_64, Cs

        md = Cs(CS_ARCH_X86, CS_MODE_64)
        md.skipdata = True
        base = img._text_range[0]
        found = []
        addrs = img._func_addrs
        for k, s in enumerate(img._funcs):
            size = s.size
            if size == 0:   # an assembly label: sweep to the next symbol
                nxt = next((a for a in addrs[k + 1:] if a > s.address), img._text_range[1])
                size = nxt - s.address
            lo = s.address - base
            code = img._text_bytes[lo : lo + size]
            for ins in md.disasm_lite(code, s.address):
                if ins[2] == mnemonic:
                    found.append(ins[0])
        _SITE_CACHE[key] = tuple(sorted(set(found)))
    return _SITE_CACHE[key]


_SITE_CACHE: Dict[Tuple[str, Optional[str], str], Tuple[int, ...]] = {}


@lru_cache(maxsize=8)
def _open_cached(path: str, mtime: int) -> KernelImage:
    return KernelImage(Path(path))
