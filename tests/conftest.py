"""What makes a test ``slow``, decided in one place.

``make test-fast`` (``pytest -m "not slow" tests``) runs the tests that boot nothing; ``make test``
runs everything.  A test is slow when it

- sits in a folder that drives a whole stack: ``tests/browser`` (JupyterLab in chromium),
  ``tests/hub`` (JupyterHub), ``tests/voila``, ``tests/real`` (Linux under QEMU);
- uses, directly or through another fixture, one of :data:`BOOTING_FIXTURES`, the fixtures that
  boot a lab machine (or build and boot the machine's own test kernel);
- or says so itself with ``@pytest.mark.slow`` or a module's ``pytestmark``: the tests that boot a
  machine in their own body, run ``kpanic-lab`` on one, execute a notebook or build the guest.

Booting is what costs (a second or more each, minutes over the suite), so it is also checked: a
test not marked slow that boots a ``Machine`` fails, saying to mark it.  (A boot in a subprocess,
such as ``kpanic-lab boot``, is not seen: mark those by hand.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional

import pytest

HERE = Path(__file__).resolve().parent

SLOW_FOLDERS = {"browser", "hub", "voila", "real"}

BOOTING_FIXTURES = {
    "booted",          # tests/guest: the guest at its shell prompt
    "live",            # tests/analysis: a machine after a scenario; tests/kdump: one and its ELF vmcore
    "session_for",     # tests/crash: crash sessions over machines after a scenario (and "crash")
    "run_scenario",    # tests/panic: finished PanicSessions
    "class_dumps",     # tests/exercises: two students' dumps, each from a kdump cycle
    "dumps",           # tests/hostile: a panicked machine's vmcore through makedumpfile
    "minikernel",      # tests/machine: built with gcc; every test that takes it boots it
}


def is_slow(item: pytest.Item) -> bool:
    try:
        folder = Path(str(item.path)).resolve().relative_to(HERE).parts[0]
    except ValueError:
        return True                     # outside tests/: the notebooks that make test runs (nbmake)
    return (folder in SLOW_FOLDERS or bool(BOOTING_FIXTURES & set(getattr(item, "fixturenames", ())))
            or item.get_closest_marker("slow") is not None)


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        if is_slow(item) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


# -- the check: a test not marked slow boots no machine --------------------------------------------
_fast_test: Optional[str] = None        # the node id of the running test when it is not slow


def _guard_power_on() -> None:
    from kpanic_lab.machine import Machine

    original = Machine.power_on
    if getattr(original, "_slow_guard", False):
        return

    def power_on(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if _fast_test is not None:
            pytest.fail(f"{_fast_test} boots a machine but is not marked slow: mark it "
                        "(@pytest.mark.slow) or take a booting fixture (tests/conftest.py)", pytrace=False)
        return original(self, *args, **kwargs)

    power_on._slow_guard = True  # type: ignore[attr-defined]
    Machine.power_on = power_on  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Iterator[None]:
    global _fast_test
    if item.get_closest_marker("slow") is None:
        _guard_power_on()
        _fast_test = item.nodeid
    try:
        yield
    finally:
        _fast_test = None
