"""What the machine remembers between quanta besides the CPUs, RAM and devices.

The run loop (``runloop.py``) and the ports (``ports.py``) keep a few facts from one quantum
to the next: whose turn it is, whether the guest asked for a reset, which CPU takes the
serial interrupt, the clock's high half latched by a read of the low half.  They live here,
named and typed, and a snapshot keeps a copy (``snapshot.py``): restoring a machine restores
the turn order too, so the future after a restore is the same as the first time.

>>> s = RunState(); s.clock_hi[1] = 0; c = s.copy(); c.clock_hi[1] = 7; s.clock_hi[1]
0
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict


@dataclass(slots=True)
class RunState:
    """The run loop's and the ports' memory between quanta (power-on clears it, snapshots keep it)."""

    rr: int = 0                   # the CPU whose turn is next in the round-robin
    ran: bool = False             # some CPU ran in this round (none: the clock may jump ahead)
    reset: bool = False           # the guest wrote the reset port: the run ends with "reset"
    poweroff: bool = False        # the guest wrote the power-off port: the run ends with "poweroff"
    serial_cpu: int = 0           # the CPU that enabled COM1's interrupt, which gets it
    # per CPU, the clock's high 32 bits latched when it read the low half (a 64-bit read
    # in two port reads sees one instant); a CPU that never read the low half sees the clock's
    clock_hi: Dict[int, int] = field(default_factory=dict)

    def copy(self) -> "RunState":
        return replace(self, clock_hi=dict(self.clock_hi))
