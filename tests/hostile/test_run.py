"""Issue 10, item 7: a long panic= wait costs virtual time, not the instruction budget, and
whatever ends a run, the console so far is printed."""
from __future__ import annotations

import time

import pytest

from kpanic_lab.guest import vmlinux_path

pytestmark = pytest.mark.slow          # every test here boots a machine


@pytest.fixture(autouse=True)
def image():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")


def test_panic_7200_waits_two_hours_of_guest_time_and_reboots():
    from kpanic_lab.panic import PanicSession

    t0 = time.monotonic()
    s = PanicSession("sysrq-c", cmdline="console=ttyS0 panic=7200").start()
    trace = s.run_to_end()
    assert time.monotonic() - t0 < 60
    assert "Rebooting in 7200 seconds.." in trace.console
    assert trace.stages[-1].key == "END" and trace.stages[-1].end == "restart"
    assert s.machine.clock_ns >= 7200 * 10**9


def test_a_run_that_fails_still_prints_the_console(monkeypatch, capsys):
    from kpanic_lab import cli
    from kpanic_lab.panic import PanicSession

    def fail(self):  # type: ignore[no-untyped-def]
        self.machine.run("prompt", max_instructions=1)     # boots a little, then runs out
        raise AssertionError("not reached")

    monkeypatch.setattr(PanicSession, "run_to_end", fail)
    assert cli.main(["run", "sysrq-c"]) == 1
    out, err = capsys.readouterr()
    assert "Linux version" in out and err.startswith("kpanic-lab: instruction budget of 1 exceeded")
