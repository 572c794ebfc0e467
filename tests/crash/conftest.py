"""Fixtures: crash sessions over panicked lab machines (cached: runs are deterministic)."""
from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path


@pytest.fixture(scope="session")
def session_for():
    """session_for(scenario) -> a CrashSession on the machine after the scenario (fresh context)."""
    if not vmlinux_path().is_file():
        pytest.skip(f"no guest image at {vmlinux_path()} (make guest)")
    from kpanic_lab.analysis import live_target
    from kpanic_lab.crash import CrashSession

    targets = {}

    def get(name: str = "sysrq-c"):
        if name not in targets:
            targets[name] = live_target(name)
        return CrashSession(targets[name])

    return get


@pytest.fixture
def crash(session_for):
    return session_for("sysrq-c")
