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
                    for note in sec.iter_notes():  # type: ignore[attr-defined]
                        if note["n_type"] == "NT_GNU_BUILD_ID":
                            self.build_id = note["n_desc"]
            symtab = elf.get_section_by_name(".symtab")
            if symtab is None:
                raise ImageError(f"{self.path}: no symbol table (was it stripped?)")
            syms: Dict[str, Symbol] = {}
            nm_lines: List[str] = []
            text_idx = {i for i, sec in enumerate(elf.iter_sections())
                        if sec["sh_flags"] & 0x4}   # SHF_EXECINSTR
            for s in symtab.iter_symbols():  # type: ignore[attr-defined]
                if s.name and isinstance(s["st_shndx"], int) and s["st_shndx"] in text_idx and \
                        s["st_info"]["type"] in ("STT_FUNC", "STT_NOTYPE"):
                    bind = s["st_info"]["bind"]
                    letter = "W" if bind == "STB_WEAK" else "T" if bind == "STB_GLOBAL" else "t"
                    nm_lines.append(f"{s['st_value']:016x} {s['st_size']:016x} {letter} {s.name}")
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
        self._kallsyms = _kallsyms_table(nm_lines)
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
        """The text symbol at or before ``addr`` and the offset into it, as kallsyms finds it:
        a symbol's size runs to the next symbol, so padding and return addresses just past a
        ``noreturn`` call belong to the function before them (the guest's own %pS agrees)."""
        addrs, rows, _ = self._kallsyms
        j = bisect.bisect_right(addrs, addr) - 1
        if j < 0:
            return None
        a, size, name = rows[j]
        if addr >= a + size:
            return None
        return Symbol(name, a, size, "func"), addr - a

    def module_of(self, addr: int) -> Optional[str]:
        """The lab module whose text holds ``addr`` (modules are linked into the image)."""
        for start, end, name in self._kallsyms[2]:
            if start <= addr < end:
                return name
        return None

    def symbolize(self, addr: int) -> str:
        """``addr`` as Linux prints it with %pS: ``panic+0x118/0x2f4``, ``f+0x2b/0x3c [mod]``, or hex."""
        hit = self.lookup(addr)
        if hit is None:
            return f"0x{addr:x}"
        s, off = hit
        mod = self.module_of(addr)
        return f"{s.name}+0x{off:x}/0x{s.size:x}" + (f" [{mod}]" if mod else "")

    def functions(self) -> List[Symbol]:
        return list(self._funcs)

    def instruction_sites(self, mnemonic: str) -> List[int]:
        """Addresses of every ``mnemonic`` instruction in .text (a capstone sweep per function)."""
        return list(_sites(self, mnemonic))


def _kallsyms_table(nm_lines: List[str]):
    """The guest's kallsyms table, built by the same code the kernel build uses
    (``scripts/kallsyms.py``), from this image's symbols: (addresses, rows, module ranges)."""
    import importlib.util

    from kpanic_lab.guest import GUEST_DIR

    spec = importlib.util.spec_from_file_location("_kpanic_kallsyms", GUEST_DIR / "scripts" / "kallsyms.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    nm_lines.sort()
    syms, mods, ends = mod.parse(nm_lines)
    rows = mod.build(syms, mods, ends)
    first: Dict[int, Tuple[int, int, str]] = {}
    for a, size, name in rows:   # aliases: the first one (Linux's choice) names the address
        first.setdefault(a, (a, size, name))
    table = sorted(first.values())
    ranges = sorted((m["start"], m["end"], name) for name, m in mods.items() if "start" in m and "end" in m)
    return [r[0] for r in table], table, ranges


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
