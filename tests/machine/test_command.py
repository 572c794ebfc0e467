"""A shell line's status is the guest's report of its process's end (LAB_EV_TASK_EXIT), not a word in the console."""
from __future__ import annotations

import doctest

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.machine import LabEvent, command
from kpanic_lab.machine.command import CommandResult, exit_status, run_line


def test_docstring_examples():
    assert doctest.testmod(command).failed == 0


def test_status_decodes_as_wait_does():
    assert CommandResult("x", "", 5, 0, "prompt").ok
    failed = CommandResult("x", "", 5, 127 << 8, "prompt")
    assert failed.exit_code == 127 and failed.signal is None and not failed.ok
    killed = CommandResult("x", "", 5, 9, "prompt")
    assert killed.signal == 9 and killed.exit_code is None and not killed.ok
    gone = CommandResult("x", "", 5, None, "panic-loop")
    assert gone.exit_code is None and gone.signal is None and not gone.ok


def test_the_status_is_the_one_reported_for_that_pid():
    events = [LabEvent(0, 0, "tty_wait", (0, 0, 0), 0), LabEvent(1, 1, "task_exit", (8, 9, 0), 0),
              LabEvent(2, 0, "task_exit", (7, 1 << 8, 0), 0)]
    assert exit_status(events, 7) == 0x100 and exit_status(events, 8) == 9 and exit_status(events, 6) is None


@pytest.fixture(scope="module")
def machine():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    from kpanic_lab.machine import Machine

    m = Machine(cpus=1, memory="64M")
    assert m.boot(max_seconds=120).reason == "prompt"
    return m


@pytest.mark.slow
@pytest.mark.parametrize("line, code", [
    ("echo hello", 0),
    ("insmod no_such_module", 1),          # insmod: ERROR: could not insert module ...
    ("sysctl kernel.no_such_sysctl", 1),   # sysctl: cannot stat ... (no "ERROR", no "not found" printed)
    ("no_such_command", 127),              # sh: no_such_command: not found
])
def test_a_line_reports_its_exit_code(machine, line, code):
    r = run_line(machine, line)
    assert (r.exit_code, r.reason) == (code, "prompt"), r
    assert r.ok == (code == 0)


@pytest.mark.slow
def test_an_oops_in_a_line_is_a_signal_not_an_exit_code(machine):
    assert run_line(machine, "insmod null_deref").ok
    r = run_line(machine, "echo 1 > /proc/null_deref")
    assert r.signal is not None and r.exit_code is None and "Killed" in r.output.splitlines()[-1]
    assert run_line(machine, "echo still here").output.strip() == "still here"
