"""The emulated machine: Unicorn CPUs over one shared memory, devices, the boot loader.

``Machine`` and the rest of machine.py (which load Unicorn and numpy) are imported when first
asked for: the errors and MachineConfig are not, so the formats and commands that only read a
dump (``kpanic-lab makedumpfile``) do not pay for starting an emulator.
"""
from typing import TYPE_CHECKING, Any

from kpanic_lab.machine.config import MachineConfig, parse_size
from kpanic_lab.machine.errors import (BudgetExceeded, ConfigError, GuestError, MachineError, MemoryFault,
                                       TripleFault)

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import (CpuView, Delivery, LabEvent, Machine, RunResult, Snapshot, ToolFailed,
                                            ToolRequest, parse_tool_request)

_LAZY = ("Machine", "CpuView", "Delivery", "LabEvent", "RunResult", "Snapshot", "ToolFailed", "ToolRequest",
         "parse_tool_request")

__all__ = ["Machine", "MachineConfig", "parse_size", "CpuView", "Delivery", "LabEvent", "RunResult", "Snapshot", "ToolFailed", "ToolRequest", "parse_tool_request",
           "MachineError", "ConfigError", "MemoryFault", "BudgetExceeded", "GuestError", "TripleFault"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from kpanic_lab.machine import machine

        return getattr(machine, name)
    raise AttributeError(f"module 'kpanic_lab.machine' has no attribute {name!r}")
