"""The machine's errors: one base type, each carrying the facts needed to act on it.

A memory access the machine cannot satisfy raises the lab's one memory-fault type,
:class:`kpanic_lab.errors.MemoryFault` (a read: its kind ``ReadError``), which analysis and
the dump readers raise too; it is named here only for the machine's own modules, like the machine's base error, a bad option and
a host tool's failure, which the front ends and the host tools catch or raise from kpanic_lab.errors.
"""
from __future__ import annotations

from typing import List, Optional

from kpanic_lab.errors import ConfigError, MachineError, MemoryFault, ToolFailed

__all__ = ["MachineError", "ConfigError", "ToolFailed", "MemoryFault", "BudgetExceeded", "TripleFault", "GuestError"]


class BudgetExceeded(MachineError):
    """A run hit its instruction or wall-clock budget; ``where`` says what each CPU was doing."""

    def __init__(self, kind: str, limit: object, where: List[str]) -> None:
        self.kind, self.limit, self.where = kind, limit, where
        lines = "; ".join(where)
        super().__init__(f"{kind} budget of {limit} exceeded; {lines}")


class TripleFault(MachineError):
    """The guest faulted while delivering a double fault: a real PC resets here."""

    def __init__(self, cpu: int, vector: int, rip: int, where: str) -> None:
        self.cpu, self.vector, self.rip = cpu, vector, rip
        super().__init__(f"triple fault on CPU {cpu} delivering vector {vector} at {where}")


class GuestError(MachineError):
    """The guest did something the machine cannot emulate (names the CPU and where)."""

    def __init__(self, cpu: int, rip: int, where: str, why: str, detail: Optional[str] = None) -> None:
        self.cpu, self.rip, self.why = cpu, rip, why
        super().__init__(f"CPU {cpu} at {where}: {why}" + (f" ({detail})" if detail else ""))
