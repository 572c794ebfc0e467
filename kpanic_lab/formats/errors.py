"""The dump readers' errors: one for a malformed file, one for a page the dump does not hold.

``DumpError`` names the file, the byte offset and what is wrong, so a student can look at
the very bytes (``xxd -s OFFSET``).  ``PageExcluded`` is a kind of
``kpanic_lab.errors.MemoryFault``, like every other failed read, so code above the memory
interface catches one type for a live machine and a dump alike; its message says the page was
dropped on purpose, and by which dump level.
"""
from __future__ import annotations

from typing import Optional

from kpanic_lab.dumplevel import dump_level_words
from kpanic_lab.errors import LabError, MemoryFault
from kpanic_lab.i18n import N_, _


class DumpError(LabError):
    """A dump file that cannot be read: truncated, corrupted, wrong magic, zero-length."""

    def __init__(self, name: str, offset: Optional[int], problem: str) -> None:
        self.name, self.offset, self.problem = name, offset, problem
        where = f" at offset 0x{offset:x}" if offset is not None else ""
        super().__init__(f"{name}{where}: {problem}")


class PageExcluded(MemoryFault):
    """A read of a page that makedumpfile left out of the dump (crash: "page excluded").

    ``address`` is what was read (kernel virtual, or physical when ``physical``), ``paddr`` the
    physical address it falls on, ``name`` the dump."""

    def __init__(self, address: int, size: int, *, paddr: int, dump_level: Optional[int],
                 name: str, physical: bool = True) -> None:
        self.address, self.size, self.paddr, self.dump_level, self.name = (
            address, size, paddr, dump_level, name)
        self.why, self.physical = "page excluded", physical
        kind = "physical address" if physical else "kernel virtual address"
        where = f"{kind}: 0x{address:x}"
        if not physical:
            where += f" (physical 0x{paddr:x})"
        if dump_level is None:
            because = f"not saved in {name}"
        else:
            because = (f"not saved in {name}: makedumpfile -d {dump_level} dropped "
                       f"{dump_level_words(dump_level)}")
        LabError.__init__(self, f"page excluded: {where}: {because}")
