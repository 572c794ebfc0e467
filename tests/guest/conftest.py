"""Tests of the guest kernel booted on the lab machine.

One booted machine per CPU count is shared by the tests of a session (booting
is deterministic, so sharing loses nothing); tests that change the guest take
a snapshot and restore it.
"""
from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.machine import Machine


def require_image() -> None:
    if not vmlinux_path().is_file():
        pytest.skip(f"no guest image at {vmlinux_path()} (build it: make guest)")


@pytest.fixture(scope="session")
def booted():
    """A factory: booted(cpus) -> a machine at the shell prompt (cached per CPU count)."""
    require_image()
    cache = {}

    def get(cpus: int = 2) -> Machine:
        if cpus not in cache:
            m = Machine(cpus=cpus, memory="256M")
            r = m.boot(max_seconds=120)
            assert r.reason == "prompt", f"boot ended with {r.reason}:\n{m.console_text[-3000:]}"
            cache[cpus] = (m, m.snapshot())
        m, snap = cache[cpus]
        m.restore(snap)
        return m

    return get
