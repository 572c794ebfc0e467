"""The analysis layer's errors: one base type, each carrying what is needed to act on it.

Every reader (a live machine, a vmcore) reports a failed read as :class:`ReadError`
with the address and size, so a command can say "cannot read 8 bytes at ffff..."
whatever the target is.
"""
from __future__ import annotations

from kpanic_lab.errors import LabError


class AnalysisError(LabError):
    """Base class of the errors the analysis layer raises on purpose."""


class ReadError(AnalysisError):
    """Memory at ``address`` could not be read (unmapped, outside RAM, excluded from the dump)."""

    def __init__(self, address: int, size: int, why: str, physical: bool = False) -> None:
        address &= (1 << 64) - 1         # pointer arithmetic on guest data wraps as on the CPU
        self.address, self.size, self.why, self.physical = address, size, why, physical
        kind = "physical" if physical else "virtual"
        super().__init__(f"cannot read {size} byte(s) at {kind} address {address:x}: {why}")


class NotFound(AnalysisError, KeyError):
    """A symbol, type, member, task or module that is not there (the message names it)."""

    def __str__(self) -> str:   # KeyError quotes its message; say it plainly
        return str(self.args[0])


class Unsupported(AnalysisError):
    """Something the target or the guest cannot provide (say what, and why)."""
