"""The machine's device state: the serial console, and how an IPI is encoded.

Devices only change state and tell the machine what to do next: ``ports.py`` connects
them to the guest's ``in`` and ``out``, the run loop (``runloop.py``) owns time and the
CPUs, ``interrupts.py`` sends the IPIs.  Port numbers come from ``hw.h``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Deque, Tuple

from kpanic_lab.machine.hwdefs import HW


@dataclass
class Serial:
    """COM1: bytes out to the console, bytes in from the student's keyboard."""

    output: bytearray = field(default_factory=bytearray)
    input: Deque[int] = field(default_factory=deque)
    ier: int = 0

    def write(self, byte: int) -> None:
        self.output.append(byte & 0xFF)

    def feed(self, data: bytes) -> bool:
        """Queue input; True when the guest asked for an interrupt on receive."""
        self.input.extend(data)
        return bool(self.ier & 1)

    def lsr(self) -> int:
        return HW.LSR_THR_EMPTY | (HW.LSR_DATA_READY if self.input else 0)

    def read(self) -> int:
        return self.input.popleft() if self.input else 0

    def save(self) -> Tuple[bytes, bytes, int]:
        return bytes(self.output), bytes(self.input), self.ier

    def restore(self, saved: Tuple[bytes, bytes, int]) -> None:
        out, inp, self.ier = saved
        self.output = bytearray(out)
        self.input = deque(inp)


def decode_icr(value: int) -> Tuple[int, int, int]:
    """(vector, delivery mode, destination) of an ICR write (hw.h: vector | mode << 8 | dest << 24).

    >>> decode_icr(0xff000402)
    (2, 4, 255)
    """
    return value & 0xFF, (value >> 8) & 0x7, (value >> HW.ICR_DEST_SHIFT) & 0xFF
