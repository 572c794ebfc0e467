"""The kernel log of a program (what crash's ``log`` prints), laid out as its DWARF says.

The records are read by :func:`kpanic_lab.formats.printk.read_log`, the one reader of both ring
formats (the guest's ``log_buf``, Linux 5.10+'s lockless ``prb``); this module answers its
questions from the program's symbols and DWARF (:class:`ProgramFacts`) instead of VMCOREINFO,
which also finds the sequence numbers and each record's level.  Records print as the console
printed them: ``[    0.028150] sysrq: Trigger a crash``, one prefix per line of text.

>>> log_lines([LogRecord(28150000, b"sysrq: Trigger a crash")])
['[    0.028150] sysrq: Trigger a crash']
>>> kernel_panic_message(prog)                                     # doctest: +SKIP
'Kernel panic - not syncing: sysrq triggered crash'
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Optional, Tuple

from kpanic_lab.formats.printk import LogRecord, LogRecords, panic_message, read_log

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

__all__ = ["LogRecord", "LogRecords", "ProgramFacts", "kernel_log", "log_lines", "kernel_panic_message"]


class ProgramFacts:
    """:class:`~kpanic_lab.formats.printk.KernelFacts` from a program's symbols and DWARF."""

    def __init__(self, prog: "Program") -> None:
        self.prog = prog

    def has_symbol(self, name: str) -> bool:
        return self.prog.symbols.get(name) is not None

    def symbol(self, name: str) -> int:
        return self.prog.address_of(name)

    def size(self, struct_name: str) -> int:
        return self.prog.sizeof(f"struct {struct_name}")

    def offset(self, struct_name: str, member: str) -> int:
        return self.prog.offsetof(struct_name, member)

    def bits(self, struct_name: str, member: str) -> Optional[Tuple[int, int]]:
        try:
            m = self.prog.type(f"struct {struct_name}").member(member)
        except KeyError:
            return None
        return m.offset, m.bit_offset


def kernel_log(prog: "Program") -> LogRecords:
    """The records in the kernel's log buffer, oldest first (``error`` set if it is corrupt)."""
    return read_log(prog.read, ProgramFacts(prog))


def log_lines(records: Iterable[LogRecord]) -> List[str]:
    """The console lines of ``records`` (crash's ``log`` output)."""
    return [line for r in records for line in r.lines()]


def kernel_panic_message(prog: "Program") -> Optional[str]:
    """The panic message of ``prog``'s log (see :func:`kpanic_lab.formats.printk.panic_message`)."""
    return panic_message("\n".join(log_lines(kernel_log(prog))))
