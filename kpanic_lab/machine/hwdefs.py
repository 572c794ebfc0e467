"""The machine's hardware interface, read from the guest's own ``hw.h``.

The numbers (ports, vectors, lab events, selectors) are written once, in C, in
``kpanic_lab/guest/kernel/hw.h``; this module parses its ``#define`` lines so the
Python side can never disagree with the guest.

>>> parse_defines("#define COM1_BASE 0x3f8  /* data */\\n")["COM1_BASE"]
1016
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict

from kpanic_lab.guest import KERNEL_SRC

_DEFINE = re.compile(r"^#define\s+([A-Z][A-Z0-9_]*)\s+(0x[0-9a-fA-F]+|\d+)(?:ULL|UL|U)?\b")


def parse_defines(text: str) -> Dict[str, int]:
    """Integer ``#define NAME value`` lines of a C header, as a dict (pure)."""
    out: Dict[str, int] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            out[m.group(1)] = int(m.group(2), 0)
    return out


@lru_cache(maxsize=None)
def header(name: str) -> Dict[str, int]:
    """The integer defines of one guest header (``hw.h``, ``bootparam.h``, ``memlayout.h``)."""
    return parse_defines((KERNEL_SRC / name).read_text())


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
