"""A vmcore as an analysis target: ``kpanic_lab.formats.open_dump`` behind :class:`Target`.

The dump is refused, as crash refuses it, when the vmlinux is not the kernel that
crashed: a different build-id or release in the dump's VMCOREINFO than in the image.
Each CPU's registers come from the dump's NT_PRSTATUS notes; reads of pages that
makedumpfile left out fail with a :class:`ReadError` that says so (and by which -d).

>>> t = open_dump_target("vmcore")                 # doctest: +SKIP
>>> Program(t).target.cpu_count                    # doctest: +SKIP
2
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Union

from kpanic_lab.analysis.errors import AnalysisError, ReadError
from kpanic_lab.analysis.regs import RegisterSet
from kpanic_lab.analysis.system import parse_banner
from kpanic_lab.analysis.target import Target
from kpanic_lab.errors import LabError
from kpanic_lab.guest.image import ImageError, KernelImage


class MismatchError(AnalysisError):
    """The vmlinux is not the kernel that wrote the dump."""


def image_release(image: KernelImage) -> Optional[str]:
    """The release in the image's own ``linux_banner`` (read from its file, not memory)."""
    try:
        sym = image.symbol("linux_banner")
    except KeyError:
        return None
    for seg in image.segments:
        if seg.vaddr <= sym.address < seg.vaddr + len(seg.data):
            off = sym.address - seg.vaddr
            text = seg.data[off:off + 512].split(b"\0", 1)[0].decode(errors="replace")
            return parse_banner(text)[0]
    return None


class DumpFacts:
    """What a dump itself says, whichever reader its memory goes through (the lab's or drgn):
    CPUs and their NT_PRSTATUS registers, size, date and crash's labels.  Needs ``self.dump``."""

    dump: Any

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
        """What ``sys`` adds behind DUMPFILE besides [PARTIAL DUMP]: TRUNCATED, INCOMPLETE."""
        return (["TRUNCATED"] if self.dump.truncated else []) + (["INCOMPLETE"] if self.dump.incomplete else [])

    @property
    def warnings(self) -> List[str]:
        """What crash warns about when it opens this dump (a truncated or incomplete file)."""
        return list(self.dump.warnings)

    def close(self) -> None:
        self.dump.close()


class DumpTarget(DumpFacts, Target):
    """A vmcore (ELF, kdump-compressed or flattened) and the vmlinux that matches it."""

    kind = "dump"

    def __init__(self, dump, image: KernelImage, check: bool = True) -> None:  # type: ignore[no-untyped-def]
        self.dump = dump
        self.image = image
        self.vmcoreinfo = dict(dump.vmcoreinfo)
        if check:
            self.check_match()

    def check_match(self) -> None:
        """Refuse a vmlinux that did not write this dump (build-id, then OSRELEASE)."""
        vi = self.vmcoreinfo
        dump_id = vi.get("BUILD-ID")
        release = vi.get("OSRELEASE")
        mine = image_release(self.image)
        if mine is None:
            raise MismatchError(f"{self.image.path} is not the kernel that wrote {self.dump.name}: it has no "
                                "linux_banner, so it is not a Linux kernel image (give the dump's vmlinux)")
        if dump_id and not self.image.build_id:
            raise MismatchError(f"{self.image.path} and {self.dump.name} do not match: the dump was written by "
                                f"build-id {dump_id}, the vmlinux has no build-id")
        if dump_id and self.image.build_id and dump_id.lower() != self.image.build_id.lower():
            raise MismatchError(f"{self.image.path} and {self.dump.name} do not match: the dump was written by "
                                f"build-id {dump_id}, the vmlinux is build-id {self.image.build_id} "
                                f"(`kpanic-lab vmlinux --build-id {dump_id}` finds the lab's image that wrote it)")
        if release and release != mine:
            raise MismatchError(f"{self.image.path} and {self.dump.name} do not match: the dump's kernel is "
                                f"{release}, the vmlinux is {mine}")
        offset = int(vi.get("KERNELOFFSET", "0") or "0", 16)
        if offset:
            # every symbol would be read 'offset' bytes too low: refuse rather than read the wrong memory
            raise MismatchError(f"{self.dump.name}: the kernel was moved by KASLR (KERNELOFFSET={offset:x}) and "
                                "this analysis reads the vmlinux's link-time addresses, which it does not "
                                "relocate yet; boot the kernel with nokaslr (kpanic-lab real run --nokaslr), "
                                "or read its log with kpanic-lab makedumpfile --dump-dmesg")

    def read_physical(self, addr: int, size: int) -> bytes:
        try:
            return self.dump.read(addr, size, physical=True)
        except LabError as e:
            raise ReadError(addr, size, _why(e), physical=True) from None

    def read(self, addr: int, size: int, physical: bool = False) -> bytes:
        if physical:
            return self.read_physical(addr, size)
        try:
            return self.dump.read(addr, size)
        except LabError as e:
            raise ReadError(addr, size, _why(e)) from None

def _why(e: LabError) -> str:
    text = str(e)
    return text if text.startswith("page excluded") else getattr(e, "why", text)


def open_dump_target(vmcore: Union[str, "os.PathLike[str]"], vmlinux: Union[str, Path, None] = None,
                     check: bool = True) -> DumpTarget:
    """Open ``vmcore`` with ``vmlinux`` (default: the shipped guest kernel) as a target."""
    from kpanic_lab.formats import open_dump

    try:
        image = KernelImage.open(Path(vmlinux) if vmlinux else None)
    except LabError:
        raise
    except Exception as e:      # pyelftools' ELFParseError, struct.error ... on a truncated file
        raise ImageError(f"{vmlinux}: not a usable vmlinux (truncated or malformed ELF: "
                         f"{type(e).__name__}: {e})") from None
    dump = open_dump(vmcore)
    try:
        return DumpTarget(dump, image, check=check)
    except BaseException:
        dump.close()
        raise
