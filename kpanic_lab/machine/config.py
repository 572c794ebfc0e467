"""Machine options, parsed and checked once (the CLI and notebooks share this).

>>> parse_size("256M")
268435456
>>> MachineConfig.create(cpus=2, memory="1G").memory >> 20
1024
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from kpanic_lab.guest import DEFAULT_CMDLINE
from kpanic_lab.guest.headers import COMMAND_LINE_SIZE, NR_CPUS, PAGE_SIZE
from kpanic_lab.machine.errors import ConfigError

MIN_MEMORY = 64 << 20
MAX_MEMORY = 16 << 30
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE | re.ASCII)   # ASCII digits only
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: Union[str, int], option: str = "--memory") -> int:
    """``"256M"``, ``"1G"``, ``"65536K"`` or a byte count, as bytes (suffixes as the kernel's memparse)."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ConfigError(option, text, "not a size: use a number with an optional K, M or G suffix, e.g. 256M")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


@dataclass(frozen=True)
class MachineConfig:
    """What a machine is made of: CPUs, RAM, the kernel command line, the kernel image."""

    cpus: int = 2
    memory: int = 256 << 20
    cmdline: str = DEFAULT_CMDLINE
    vmlinux: Optional[Path] = None
    quantum: int = 50_000          # instructions a CPU runs before the next one gets its turn

    @classmethod
    def create(cls, cpus: int = 2, memory: Union[str, int] = 256 << 20, cmdline: Optional[str] = None,
               vmlinux: Optional[Union[str, Path]] = None, quantum: int = 50_000) -> "MachineConfig":
        """Check every option; a bad one raises ConfigError naming it."""
        try:
            n = int(cpus) if not isinstance(cpus, str) or cpus.isascii() else int("x")
        except (TypeError, ValueError):
            raise ConfigError("--cpus", cpus, "not a number") from None
        if not 1 <= n <= NR_CPUS:
            raise ConfigError("--cpus", cpus, f"must be between 1 and {NR_CPUS} (the guest's NR_CPUS)")
        size = parse_size(memory)
        if size % PAGE_SIZE:
            raise ConfigError("--memory", memory, "must be a whole number of 4 KiB pages")
        if size < MIN_MEMORY:
            raise ConfigError("--memory", memory,
                              f"too small: the kernel is loaded at 16 MiB and needs at least {MIN_MEMORY >> 20}M")
        if size > MAX_MEMORY:
            raise ConfigError("--memory", memory, f"too large for the lab (at most {MAX_MEMORY >> 30}G)")
        line = DEFAULT_CMDLINE if cmdline is None else cmdline
        if "\n" in line or "\0" in line:
            raise ConfigError("--cmdline", line, "must be one line without NUL bytes")
        if len(line.encode()) >= COMMAND_LINE_SIZE:
            raise ConfigError("--cmdline", line[:30] + "...",
                              f"longer than COMMAND_LINE_SIZE ({COMMAND_LINE_SIZE} bytes)")
        if not 1000 <= quantum <= 10_000_000:
            raise ConfigError("quantum", quantum, "must be between 1,000 and 10,000,000 instructions")
        return cls(n, size, line, Path(vmlinux) if vmlinux else None, quantum)

    def with_cmdline(self, cmdline: str) -> "MachineConfig":
        return replace(self, cmdline=cmdline)
