"""Fixtures: panicked lab machines as analysis targets (runs are deterministic, so cached)."""
from __future__ import annotations

import shutil

import pytest

from kpanic_lab.guest import vmlinux_path

PANIC_SCENARIOS = ["sysrq-c", "my-panic", "oops-panic", "oops-in-irq", "warn-panic", "init-exit"]


def require_image() -> None:
    if not vmlinux_path().is_file():
        pytest.skip(f"no guest image at {vmlinux_path()} (make guest)")


@pytest.fixture(scope="session")
def live():
    """live(scenario) -> (Program, LiveTarget) of a machine that ran the scenario to its end."""
    require_image()
    from kpanic_lab.analysis import Program, live_target

    cache = {}

    def get(name: str = "sysrq-c"):
        if name not in cache:
            t = live_target(name)
            cache[name] = (Program(t), t)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def prog(live):
    return live("sysrq-c")[0]


@pytest.fixture(scope="session")
def gdb_batch():
    """gdb_batch([commands]) -> gdb's output for those commands on the guest vmlinux."""
    require_image()
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    import subprocess

    def run(commands):
        args = ["gdb", "-nx", "-batch"]
        for c in commands:
            args += ["-ex", c]
        args.append(str(vmlinux_path()))
        return subprocess.run(args, capture_output=True, text=True, timeout=120).stdout

    return run


def console_call_trace(lines, unreliable=False):
    """The last "Call Trace:" of a console: reliable entries ('name+0xoff') and the RIP:
    lines of entry frames, in order; with ``unreliable``, the '?' entries instead."""
    import re

    start = max(i for i, l in enumerate(lines) if l.endswith("Call Trace:"))
    out = []
    for l in lines[start + 1:]:
        body = l.split("] ", 1)[1] if l.startswith("[") and "] " in l else l
        mark = body.strip()
        if mark in ("</TASK>",):
            break
        if mark in ("<TASK>", "<IRQ>", "</IRQ>", "<NMI>", "</NMI>"):
            continue
        m = re.match(r"^ (\? )?(\S+\+0x[0-9a-f]+)/0x[0-9a-f]+( \[\w+\])?$", body)
        if m:
            if bool(m.group(1)) == unreliable:
                out.append(m.group(2))
        elif body.startswith("RIP: ") and not unreliable:
            out.append(body.split(" ", 1)[1].split("/")[0])
    return out


def console_kernel_lines(lines):
    """The kernel's lines of a console: time-stamped, a shell prompt ("# ") in front
    of one when the kernel printed while the shell waited."""
    import re

    out = []
    for l in lines:
        m = re.match(r"^(?:[#$] )?(\[\s*\d+\.\d{6}\] .*)$", l)
        if m:
            out.append(m.group(1))
    return out
