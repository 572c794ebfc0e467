"""A real distribution kernel behind the same :class:`Program` API, read with drgn.

The lab's own guest is read with pyelftools (:mod:`kpanic_lab.analysis.typeindex`), which
is fine for its few MB of DWARF but would spin for many minutes over a distribution
vmlinux (Debian's 6.1 has 633 MB of it).  For any other vmlinux this module hands the
work to drgn, which is built for that: it indexes the DWARF in about a second, relocates
the symbols by KASLR's ``KERNELOFFSET``, reads through the dump's page tables and unwinds
with the kernel's ORC tables.  The rest of the lab sees the same objects as for the guest:

* :class:`DrgnTarget` (a :class:`Target`): memory read by drgn; the dump's description,
  date, CPUs and NT_PRSTATUS registers from the lab's own dump reader;
* :class:`DrgnSymbols` (the :class:`SymbolTable` API), named as crash names text
  addresses (the nearest symbol at or below, labels included: ``entry_SYSCALL_64_after_hwframe``);
* :class:`DrgnTypes` (the :class:`TypeIndex` API): drgn types turned into the lab's
  :class:`Type` lazily, a member list only when someone asks for it;
* :class:`LinuxProgram` (a :class:`Program` with ``linux`` set, so helpers read Linux's
  own structures where the guest's differ: :mod:`kpanic_lab.analysis.linux`).

>>> prog = open_linux_program("vmcore", "/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64")  # doctest: +SKIP
>>> prog.symbols.near(prog.address_of("panic") + 0x13d)                               # doctest: +SKIP
'panic+317'
"""
from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from kpanic_lab.analysis.errors import AnalysisError, NotFound, ReadError
from kpanic_lab.analysis.lines import SourceLine
from kpanic_lab.analysis.program import Program
from kpanic_lab.analysis.regs import RegisterSet
from kpanic_lab.analysis.symbols import KSymbol, Location
from kpanic_lab.analysis.target import Target
from kpanic_lab.analysis.types import VOID, Member, Type
from kpanic_lab.i18n import _

if TYPE_CHECKING:
    import drgn

DRGN_INSTALL = "pip install drgn"
LINUX_SECTIONS = (".orc_unwind", ".data..percpu", "__ksymtab")    # what only a real Linux image has


class DrgnMissing(AnalysisError):
    """drgn is needed to read this vmlinux and is not installed (one line: how to install it)."""


def import_drgn() -> Any:
    """The drgn module, or :class:`DrgnMissing` saying how to install it."""
    try:
        import drgn
    except ImportError:
        raise DrgnMissing(_("reading a distribution kernel's debug info needs drgn, which is not installed "
                            "({install}; Linux only)").format(install=DRGN_INSTALL)) from None
    return drgn


# ---------------------------------------------------------------------------- which back end
def is_lab_vmlinux(path: Union[str, Path, None]) -> bool:
    """True for the lab's own guest kernel (read with pyelftools), False for any other vmlinux
    (a real Linux kernel: read with drgn).  Decided from the ELF section headers only, so it is
    instant even for a 633 MB file: a real x86-64 Linux image has ORC unwind tables (every
    distribution kernel since 4.14), per-CPU data in ``.data..percpu`` or exported symbols in
    ``__ksymtab`` (a frame-pointer build too); the lab's guest has none of the three."""
    if path is None:
        return True
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            return not any(elf.get_section_by_name(n) is not None for n in LINUX_SECTIONS)
    except Exception:          # not an ELF file: the lab's reader says what is wrong with it
        return True


DEBUG_VMLINUX_DIRS = ("/usr/lib/debug/boot", "/usr/lib/debug/lib/modules/{release}", "/boot")


def debug_vmlinux_for(release: Optional[str], dirs: Tuple[str, ...] = DEBUG_VMLINUX_DIRS) -> Optional[Path]:
    """Where the distribution keeps the debug vmlinux of kernel ``release`` (Debian's
    linux-image-<release>-dbg: /usr/lib/debug/boot/vmlinux-<release>), or None."""
    if not release:
        return None
    for d in dirs:
        folder = Path(d.format(release=release))
        for name in (f"vmlinux-{release}", "vmlinux"):
            p = folder / name
            if p.is_file():
                return p
    return None


def debug_info_size(path: Union[str, Path]) -> str:
    """``633 MB``: the size of a vmlinux as the progress line shows it."""
    n = os.path.getsize(path)
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n} bytes"


# ---------------------------------------------------------------------------- target
class DrgnTarget(Target):
    """A dump of a real kernel: memory through drgn, the rest from the lab's dump reader."""

    kind = "dump"

    def __init__(self, dprog: "drgn.Program", dump: Any, image: "VmlinuxFile") -> None:
        self.drgn = dprog
        self.dump = dump
        self.image = image               # type: ignore[assignment]
        self.vmcoreinfo = dict(dump.vmcoreinfo)
        self._fault = import_drgn().FaultError

    def read_physical(self, addr: int, size: int) -> bytes:
        try:
            return self.drgn.read(addr, size, True)
        except (self._fault, ValueError) as e:
            raise ReadError(addr, size, _fault_why(e), physical=True) from None

    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        if physical:
            return self.read_physical(addr, size)
        if addr < 0 or addr + size > 1 << 64:
            raise ReadError(addr, size, "not a 64-bit address")
        try:
            return self.drgn.read(addr, size)
        except (self._fault, ValueError) as e:
            raise ReadError(addr, size, _fault_why(e)) from None

    def virt_to_phys(self, va: int) -> Optional[int]:
        from drgn.helpers.linux.mm import follow_phys

        try:
            return int(follow_phys(self.drgn["init_mm"].address_of_(), va))
        except Exception:
            return None

    def read_user(self, pgd: int, addr: int, size: int) -> bytes:
        raise ReadError(addr, size, "user memory of a real kernel's task is not read here")

    @property
    def cpu_count(self) -> int:
        return self.dump.nr_cpus

    def cpu_registers(self, cpu: int) -> Optional[RegisterSet]:
        if not 0 <= cpu < len(self.dump.prstatus):
            return None
        return RegisterSet.from_mapping(self.dump.prstatus[cpu].regs)

    @property
    def description(self) -> str:
        return str(self.dump.name)

    @property
    def memory_size(self) -> int:
        return sum(end - start for start, end in self.dump.ranges)

    @property
    def date(self) -> Optional[float]:
        t = self.dump.vmcoreinfo.crashtime
        return float(t) if t else None

    @property
    def partial(self) -> bool:
        return bool(self.dump.dump_level)

    @property
    def labels(self) -> List[str]:
        return (["TRUNCATED"] if self.dump.truncated else []) + (["INCOMPLETE"] if self.dump.incomplete else [])

    @property
    def warnings(self) -> List[str]:
        return list(self.dump.warnings)

    def close(self) -> None:
        self.dump.close()


def _fault_why(e: Exception) -> str:
    """drgn's fault as the lab words it (``page excluded: ...`` for a page makedumpfile left out)."""
    text = str(e)
    if "excluded" in text.lower() or "filtered" in text.lower():
        return "page excluded from the dump (makedumpfile -d)"
    return text.split(":", 1)[0] if ":" in text else text


def fault_to_read_error(e: Exception) -> ReadError:
    """A drgn FaultError raised inside a drgn helper, as the lab's one memory-fault type."""
    address = getattr(e, "address", 0) or 0
    return ReadError(address, 8, _fault_why(e))


class VmlinuxFile:
    """What the lab needs of a vmlinux it does not parse itself: its path and build-id."""

    def __init__(self, path: Union[str, Path], build_id: Optional[str]) -> None:
        self.path = Path(path)
        self.build_id = build_id


# ---------------------------------------------------------------------------- symbols
def _letter(dsym: Any, in_text: bool, drgn: Any) -> str:
    if in_text:
        base = "t"
    elif dsym.kind == drgn.SymbolKind.FUNC:
        base = "t"
    else:
        base = "d"
    if dsym.binding == drgn.SymbolBinding.WEAK:
        return "W" if base == "t" else "V"
    return base.upper() if dsym.binding == drgn.SymbolBinding.GLOBAL else base


class DrgnSymbols:
    """The :class:`~kpanic_lab.analysis.symbols.SymbolTable` API over drgn's symbol table
    (already relocated by KASLR).  Text addresses are named as crash and kallsyms name them:
    the nearest symbol at or below, so a label inside a function wins.  Nothing is copied
    until it is asked for: names go to drgn one at a time, and the sorted text symbols are
    built on the first text address (~0.3 s for Debian's 127,000 symbols)."""

    def __init__(self, dprog: "drgn.Program") -> None:
        self.drgn = dprog
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

    def _ksymbol(self, s: Any) -> KSymbol:
        return KSymbol(s.name, s.address, s.size, _letter(s, self.in_text(s.address), self._drgn_mod))

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


# ---------------------------------------------------------------------------- types
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


# ---------------------------------------------------------------------------- lines
class DrgnLines:
    """Source lines of text addresses, from drgn's DWARF index."""

    def __init__(self, dprog: "drgn.Program") -> None:
        self.drgn = dprog

    def line_for(self, addr: int) -> Optional[SourceLine]:
        try:
            loc = self.drgn.source_location(addr)
        except (LookupError, ValueError):
            return None
        for frame in loc:       # the innermost (inlined) line, as the line table and gdb give it
            return SourceLine(frame.filename, frame.line) if frame.line else None
        return None


# ---------------------------------------------------------------------------- the program
class LinuxProgram(Program):
    """A :class:`Program` over a real Linux kernel, its debug info read by drgn.

    ``linux`` tells the helpers to read Linux's structures where the guest's are its own
    (per-CPU data, stacks, modules); ``drgn`` is the drgn program, for what only it does
    (ORC unwinding)."""

    linux = True

    def __init__(self, target: DrgnTarget) -> None:      # noqa: super().__init__ parses with pyelftools
        self.target = target
        self.image = target.image               # type: ignore[assignment]
        self.drgn = target.drgn
        self.symbols = DrgnSymbols(self.drgn)   # type: ignore[assignment]
        self._types = DrgnTypes(self.drgn, self.image.path.name)  # type: ignore[assignment]
        self._lines = DrgnLines(self.drgn)      # type: ignore[assignment]
        self.cache: dict = {}

    def symbolize(self, addr: int) -> str:
        return self.symbols.symbolize(addr)

    def __repr__(self) -> str:
        return f"LinuxProgram(dump: {self.target.description}, {self.image.path.name})"


def vmlinux_build_id(path: Union[str, Path]) -> Optional[str]:
    """The GNU build-id note of a vmlinux (hex), read from its note sections only."""
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            for sec in ELFFile(f).iter_sections():
                if sec["sh_type"] == "SHT_NOTE":
                    for note in sec.iter_notes():  # type: ignore[attr-defined]
                        # the "GNU" one: Linux's .notes also holds Xen notes whose type numbers collide
                        if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                            return str(note["n_desc"])
    except Exception:
        return None
    return None


def check_linux_match(vmcoreinfo: Dict[str, str], release: Optional[str], build_id: Optional[str],
                      vmlinux: str, vmcore: str) -> None:
    """Refuse a vmlinux that did not write this dump, as crash does: the dump's OSRELEASE (and
    BUILD-ID when it has one) against the vmlinux's (pure).  KASLR is no reason to refuse:
    drgn relocates every symbol by the dump's KERNELOFFSET."""
    from kpanic_lab.analysis.dumptarget import MismatchError

    dump_id = vmcoreinfo.get("BUILD-ID")
    if dump_id and build_id and dump_id.lower() != build_id.lower():
        raise MismatchError(f"{vmlinux} and {vmcore} do not match: the dump was written by build-id {dump_id}, "
                            f"the vmlinux is build-id {build_id}")
    dump_release = vmcoreinfo.get("OSRELEASE")
    if dump_release and release and dump_release != release:
        raise MismatchError(f"{vmlinux} and {vmcore} do not match: the dump's kernel is {dump_release}, "
                            f"the vmlinux is {release}")


def vmlinux_release(path: Union[str, Path], banner_address: int) -> Optional[str]:
    """The release in the vmlinux file's own ``linux_banner`` at its link-time address
    (read from the section that holds it; only section headers are parsed)."""
    from elftools.elf.elffile import ELFFile

    from kpanic_lab.analysis.system import parse_banner

    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            lo, size = sec["sh_addr"], sec["sh_size"]
            if sec["sh_type"] == "SHT_PROGBITS" and lo <= banner_address < lo + size:
                f.seek(sec["sh_offset"] + banner_address - lo)
                text = f.read(512).split(b"\0", 1)[0].decode(errors="replace")
                return parse_banner(text)[0] if text.startswith("Linux version") else None
    return None


def open_linux_program(vmcore: Union[str, "os.PathLike[str]"], vmlinux: Union[str, Path],
                       progress: Optional[Callable[[str], None]] = None, check: bool = True) -> LinuxProgram:
    """Open ``vmcore`` with a distribution kernel's ``vmlinux`` through drgn (about a second for
    Debian's 633 MB one).  ``progress`` gets one line before the debug info is read, so a slow
    load never looks like a hang."""
    drgn = import_drgn()
    from kpanic_lab.formats import open_dump
    vmlinux = Path(vmlinux)
    dump = open_dump(vmcore)
    try:
        if progress is not None:
            progress(_("reading debug info of {name} ({size}) with drgn ...").format(
                name=vmlinux.name, size=debug_info_size(vmlinux)))
        build_id = vmlinux_build_id(vmlinux)
        if check:          # before drgn reads anything: a different build is named as such
            check_linux_match(dict(dump.vmcoreinfo), None, build_id, str(vmlinux), str(dump.name))
        dprog = drgn.Program()
        try:
            dprog.set_core_dump(os.fspath(vmcore))
            dprog.load_debug_info([os.fspath(vmlinux)])
        except drgn.MissingDebugInfoError as e:
            raise AnalysisError(f"{vmlinux}: drgn found no usable debug info for this dump's kernel ({e})") from None
        except (ValueError, OSError, drgn.FaultError) as e:
            raise AnalysisError(f"drgn cannot open {vmcore} with {vmlinux}: {e}".replace("\n", " ")) from None
        try:          # drgn ignores a file that is no kernel of this dump: say so rather than go on without types
            dprog.type("struct task_struct")
        except LookupError:
            raise AnalysisError(f"{vmlinux}: no debug info for the kernel of {dump.name} in it (not its vmlinux, "
                                "or stripped; Debian's is in linux-image-<release>-dbg)") from None
        target = DrgnTarget(dprog, dump, VmlinuxFile(vmlinux, build_id))
        prog = LinuxProgram(target)
        if check:
            offset = int(target.vmcoreinfo.get("KERNELOFFSET", "0") or "0", 16)
            try:
                release = vmlinux_release(vmlinux, prog.address_of("linux_banner") - offset)
            except (NotFound, OSError):
                release = None
            check_linux_match(target.vmcoreinfo, release, build_id, str(vmlinux), str(dump.name))
        return prog
    except BaseException:
        dump.close()
        raise
