"""The analysis layer's errors: one base type, each carrying what is needed to act on it.

A failed read is the lab's one memory-fault type (:class:`kpanic_lab.errors.MemoryFault`):
every target (a live machine, a vmcore) reports it as :class:`ReadError` with the address
and size, so a command can say "cannot read 8 bytes at ffff..." whatever the target is.
``ReadError`` is defined in ``kpanic_lab.errors`` and named here for the analysis modules.
"""
from __future__ import annotations

from kpanic_lab.errors import LabError, MemoryFault, ReadError

__all__ = ["AnalysisError", "MemoryFault", "ReadError", "NotFound", "Unsupported"]


class AnalysisError(LabError):
    """Base class of the errors the analysis layer raises on purpose (not memory faults)."""


class NotFound(AnalysisError, KeyError):
    """A symbol, type, member, task or module that is not there (the message names it)."""

    def __str__(self) -> str:   # KeyError quotes its message; say it plainly
        return str(self.args[0])


class Unsupported(AnalysisError):
    """Something the target or the guest cannot provide (say what, and why)."""
