from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.panic import PanicSession


@pytest.fixture(scope="session")
def run_scenario():
    """run_scenario(name, **options) -> a finished PanicSession (cached: runs are deterministic)."""
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    cache = {}

    def run(name: str, **kw) -> PanicSession:
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            s = PanicSession(name, **kw).start()
            s.run_to_end()
            cache[key] = s
        return cache[key]

    return run


def in_order(keys, wanted):
    """True when ``wanted`` appears in ``keys`` in this order (other keys may come between)."""
    it = iter(keys)
    return all(any(k == w for k in it) for w in wanted)
