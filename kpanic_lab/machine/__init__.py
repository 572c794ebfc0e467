"""The emulated machine: Unicorn CPUs over one shared memory, devices, the boot loader."""
from kpanic_lab.machine.config import MachineConfig, parse_size
from kpanic_lab.machine.errors import (BudgetExceeded, ConfigError, GuestError, MachineError, MemoryFault,
                                       TripleFault)
from kpanic_lab.machine.machine import (CpuView, Delivery, LabEvent, Machine, RunResult, Snapshot, ToolFailed,
                                        ToolRequest, parse_tool_request)

__all__ = ["Machine", "MachineConfig", "parse_size", "CpuView", "Delivery", "LabEvent", "RunResult", "Snapshot", "ToolFailed", "ToolRequest", "parse_tool_request",
           "MachineError", "ConfigError", "MemoryFault", "BudgetExceeded", "GuestError", "TripleFault"]
