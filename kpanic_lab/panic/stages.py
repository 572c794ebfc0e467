"""The stages of the panic path as numbers: they come from the guest's own
``panic_stages.h`` (the kernel reports each with ``lab_event(LAB_EV_STAGE, ...)``);
what they mean, in words, is ``describe.py``'s.

>>> parse_enum("enum x {\\n A = 1, /* one */\\n B = 2,\\n};", "A")
{'A': 1}
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, Tuple

from kpanic_lab.guest import KERNEL_SRC

_ENUM_ITEM = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*([0-9]+|[A-Z][A-Z0-9_]*)\s*,?", re.MULTILINE)


def parse_enum(text: str, prefix: str) -> Dict[str, int]:
    """``NAME = value`` items of C enums whose names start with ``prefix`` (pure)."""
    out: Dict[str, int] = {}
    for name, value in _ENUM_ITEM.findall(text):
        if name.startswith(prefix):
            out[name] = int(value) if value.isdigit() else out[value]
    return out


@lru_cache(maxsize=None)
def stage_numbers() -> Dict[str, int]:
    """{"ENTRY": 4, ...}: the guest's PANIC_STAGE_* numbers."""
    text = (KERNEL_SRC / "panic_stages.h").read_text()
    return {k[len("PANIC_STAGE_"):]: v for k, v in parse_enum(text, "PANIC_STAGE_").items()}


@lru_cache(maxsize=None)
def trigger_names() -> Dict[int, str]:
    text = (KERNEL_SRC / "panic_stages.h").read_text()
    return {v: k[len("TRIGGER_"):].lower().replace("_", "-") for k, v in parse_enum(text, "TRIGGER_").items()}


# Stages the session records that are not panic_stages.h stages: events of their own (hw.h).
EVENT_KEYS = ("EXCEPTION", "CPU_STOPPED", "TASK_EXIT", "END")

# LAB_EV_CPU_STOPPED's second argument (hw.h; smp.c and machine_kexec.c report it): how a CPU stopped
STOPPED_BY_NMI, STOPPED_SELF, STOPPED_BY_CRASH_NMI, STOPPED_BY_IPI = 0, 1, 2, 3


def stage_keys() -> Tuple[str, ...]:
    """Every key a ``StageRecord`` can have: the guest's stages, then the session's own."""
    return tuple(stage_numbers()) + EVENT_KEYS


def signed(value: int, bits: int = 64) -> int:
    """A number the guest reported as unsigned, read as the signed C type it was (pure).

    >>> signed((1 << 64) - 1), signed(0xFFFFFFFF, 32), signed(5)
    (-1, -1, 5)
    """
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def stage_name(number: int) -> str:
    for k, v in stage_numbers().items():
        if v == number:
            return k
    return f"STAGE_{number}"
