"""The machine's hardware interface, read from the guest's own ``hw.h``.

The numbers (ports, vectors, lab events, selectors) are written once, in C, in
``kpanic_lab/guest/kernel/hw.h``; :mod:`kpanic_lab.guest.headers` parses its ``#define``
lines so the Python side can never disagree with the guest.

>>> HW.COM1_BASE
1016
"""
from __future__ import annotations

from typing import Dict

from kpanic_lab.guest.headers import header


class _HW:
    """Attribute access to hw.h, bootparam.h and memlayout.h defines: ``HW.COM1_BASE``."""

    def __getattr__(self, name: str) -> int:
        for h in ("hw.h", "bootparam.h", "memlayout.h"):
            d = header(h)
            if name in d:
                return d[name]
        raise AttributeError(f"no #define {name} in the guest's hw.h, bootparam.h or memlayout.h")


HW = _HW()

# lab event codes by name, and names by code (for traces and error messages)
def lab_events() -> Dict[int, str]:
    return {v: k[len("LAB_EV_"):].lower() for k, v in header("hw.h").items() if k.startswith("LAB_EV_")}
