"""The guest kernel: its sources, its build, and the shipped image."""
from __future__ import annotations

import os
from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parent
KERNEL_SRC = GUEST_DIR / "kernel"
SHIPPED_VMLINUX = GUEST_DIR / "images" / "vmlinux"
# the command line the lab boots the guest with unless told otherwise: its console is the serial port
DEFAULT_CMDLINE = "console=ttyS0"


def vmlinux_path() -> Path:
    """Path of the guest kernel image the lab boots.

    ``KPANIC_VMLINUX`` overrides it (CI points it at an image rebuilt from source).
    """
    override = os.environ.get("KPANIC_VMLINUX")
    return Path(override) if override else SHIPPED_VMLINUX


def hw_header() -> Path:
    """The hardware contract shared by the guest (C) and the machine (Python)."""
    return KERNEL_SRC / "hw.h"
