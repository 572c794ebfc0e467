"""A real distribution kernel behind the same :class:`Program` API, read with drgn.

The lab's own guest is read with pyelftools (:mod:`kpanic_lab.analysis.typeindex`), which
is fine for its few MB of DWARF but would spin for many minutes over a distribution
vmlinux (Debian's 6.1 has 633 MB of it).  For any other vmlinux this module hands the
work to drgn, which is built for that: it indexes the DWARF in about a second, relocates
the symbols by KASLR's ``KERNELOFFSET``, reads through the dump's page tables and unwinds
with the kernel's ORC tables.  The rest of the lab sees the same objects as for the guest:

* :class:`DrgnTarget` (a :class:`Target`): memory read by drgn; the dump's description,
  date, CPUs and NT_PRSTATUS registers from the lab's own dump reader;
* :class:`~kpanic_lab.analysis.drgn_symbols.DrgnSymbols` (the :class:`SymbolTable` API), named as crash names text
  addresses (the nearest symbol at or below, labels included: ``entry_SYSCALL_64_after_hwframe``);
* :class:`~kpanic_lab.analysis.drgn_types.DrgnTypes` (the :class:`TypeIndex` API): drgn types turned into the lab's
  :class:`Type` lazily, a member list only when someone asks for it;
* :class:`LinuxProgram` (a :class:`Program` with ``linux`` set, so helpers read Linux's
  own structures where the guest's differ: :mod:`kpanic_lab.analysis.linux`).

>>> prog = open_linux_program("vmcore", "/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64")  # doctest: +SKIP
>>> prog.symbols.near(prog.address_of("panic") + 0x13d)                               # doctest: +SKIP
'panic+317'
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union

from kpanic_lab.analysis.dumptarget import DumpFacts
from kpanic_lab.analysis.errors import AnalysisError, NotFound, ReadError
from kpanic_lab.analysis.lines import SourceLine
from kpanic_lab.analysis.program import Program
from kpanic_lab.analysis.target import Target
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
class DrgnTarget(DumpFacts, Target):
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
        from kpanic_lab.analysis.drgn_symbols import DrgnSymbols, section_kinds
        from kpanic_lab.analysis.drgn_types import DrgnTypes

        offset = int(target.vmcoreinfo.get("KERNELOFFSET", "0") or "0", 16)
        try:
            sections = section_kinds(self.image.path, offset)
        except Exception:          # an unreadable section table: every data symbol is "d"
            sections = []
        self.symbols = DrgnSymbols(self.drgn, sections)   # type: ignore[assignment]
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


def _name_module_text(dprog: "drgn.Program") -> None:
    """Name module text from each module's own symbol table in the dump (its kallsyms), as crash
    does: an out-of-tree module's debug info is in no package, so without this drgn names none of
    its functions and ``bt`` prints the bare address (``[exception RIP: 0xffffffffc05f7032]``)."""
    try:
        from drgn.helpers.linux.kallsyms import load_module_kallsyms

        dprog.register_symbol_finder("module_kallsyms", load_module_kallsyms(dprog), enable_index=-1)
    except Exception:       # an older drgn, or a dump without the module list: addresses stay bare
        pass


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
        _name_module_text(dprog)
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
