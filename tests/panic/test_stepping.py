"""Stepping back and forward gives back the same machine, byte for byte."""
from __future__ import annotations

import json

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.panic import PanicSession, Scenario, ScenarioError, Trace, UnknownScenario

# the tests here boot and step a machine (all but one quick check of an unknown scenario)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    return PanicSession("sysrq-c").start()


def test_back_then_forward_reproduces_registers_and_memory(session):
    s = session
    digests = []
    for _ in range(8):
        s.step()
        digests.append(s.machine.state_digest())
    s.goto(2)
    assert s.machine.state_digest() == digests[2]
    assert s.step().index == 3 and s.machine.state_digest() == digests[3]
    s.back()
    s.back()
    assert s.position == 1 and s.machine.state_digest() == digests[1]
    s.goto(7)
    assert s.machine.state_digest() == digests[7]
    s.goto(-1)
    assert s.current is None and "sysrq" not in s.machine.console_text.split("# ")[-1]


def test_jump_forward_runs_to_stages_not_yet_seen(session):
    s = session
    s.goto(-1)
    rec = s.goto(12)
    assert rec.index == 12 and len(s.records) >= 13


def test_same_run_twice_gives_the_same_trace():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    a = PanicSession("sysrq-c").start().run_to_end()
    b = PanicSession("sysrq-c").start().run_to_end()
    assert a.to_json() == b.to_json()
    assert Trace.from_json(a.to_json()).to_json() == a.to_json()
    assert json.loads(a.to_json())["end"] == "hang"


def test_a_setup_line_fails_by_the_status_the_guest_reports():
    """sysctl prints neither "ERROR" nor "not found" for a knob that does not exist: its exit status says it."""
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    bad = Scenario("bad", "a setup line that fails quietly", "echo c > /proc/sysrq-trigger",
                   setup=("sysctl kernel.no_such_knob=1",))
    with pytest.raises(ScenarioError, match=r"setup line 'sysctl kernel.no_such_knob=1' failed \(exit status 1\)"):
        PanicSession(bad, cpus=1, memory="64M").start()
    # an oops in a setup line kills its process by a signal: what oops-limit sets up, not a failure
    assert PanicSession("oops-limit", cpus=1, memory="64M").start().started


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(UnknownScenario, match="unknown scenario 'nope'; choose one of: .*sysrq-c"):
        PanicSession("nope")


def test_contradictory_panic_settings_are_reported_and_resolved_as_linux_does():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    s = PanicSession("oops", cmdline="sysctl.kernel.panic_on_oops=0 oops=panic")
    assert s.warnings and "sysctl.kernel.panic_on_oops=0 wins" in s.warnings[0]
    assert s.start().run_to_end().end == "task-killed"     # the guest agrees: the sysctl, applied later


def test_panic_on_oops_is_not_a_boot_parameter_in_6_1():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    s = PanicSession("oops", cmdline="panic_on_oops=1")
    assert s.warnings and "not a Linux 6.1 boot parameter" in s.warnings[0]
    t = s.start().run_to_end()
    assert t.end == "task-killed"                           # no effect, as in 6.1
    assert 'Unknown kernel command line parameters "panic_on_oops=1", will be passed to user space.' in t.console


def test_step_to_runs_forward_to_the_named_stage():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    s = PanicSession("sysrq-c").start()
    rec = s.step_to("CPU_STOPPED")
    assert rec is not None and rec.key == "CPU_STOPPED" and s.records[rec.index - 1].key == "STOP_IPI"
    with pytest.raises(KeyError, match="no stage 'NOPE'"):
        s.step_to("NOPE")
