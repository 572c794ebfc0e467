"""Panic notifiers written in Python run at their place in the guest's chain."""
from __future__ import annotations

import time

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.panic import PanicSession
from kpanic_lab.panic.notifiers import NOTIFY_DONE, NOTIFY_STOP, NotifierError

pytestmark = pytest.mark.slow          # every test here boots a machine


@pytest.fixture(scope="module")
def chain():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    s = PanicSession("sysrq-c")
    heard = []

    def goodbye(ctx):
        heard.append((ctx.cpu, ctx.message, ctx.read_u64(ctx.symbol("jiffies")) > 0))
        print("goodbye from", ctx.cpu)
        return NOTIFY_DONE

    def broken(ctx):
        return {}["no such key"]

    def stuck(ctx):
        time.sleep(30)
        return NOTIFY_DONE

    def stopper(ctx):
        return NOTIFY_STOP

    s.add_notifier(goodbye, priority=200)
    s.add_notifier(broken, priority=50)
    s.add_notifier(stuck, priority=10)
    s.add_notifier(stopper, priority=1)     # after pvpanic (1, registered first), before the 0s
    s.notifiers.timeout = 0.5
    s.start()
    return s, s.run_to_end(), heard


def test_called_in_priority_order_among_the_kernels_own(chain):
    s, t, heard = chain
    names = [c.name for c in t.notifier_calls()]
    assert names[:3] == ["python:goodbye", "python:broken", "python:stuck"]
    prios = [c.priority for c in t.notifier_calls()]
    assert prios == sorted(prios, reverse=True)


def test_a_notifier_reads_guest_memory_and_the_panic_message(chain):
    _, _, heard = chain
    assert heard and heard[0][1] == "sysrq triggered crash" and heard[0][2]


def test_exceptions_and_timeouts_are_reported_and_the_chain_goes_on(chain):
    s, t, _ = chain
    out = {o.name: o for o in s.notifiers.outcomes}
    assert out["broken"].error.startswith("raised KeyError")
    assert "did not return within 0.5 s" in out["stuck"].error
    assert out["goodbye"].output == "goodbye from 1\n" or out["goodbye"].output.startswith("goodbye from")
    assert "python:stopper" in [c.name for c in t.notifier_calls()]
    assert t.end == "hang"


def test_notify_stop_ends_the_chain(chain):
    _, t, _ = chain
    calls = t.notifier_calls()
    assert calls[-1].name == "python:stopper" and calls[-1].ret == NOTIFY_STOP
    names = [c.name for c in calls]
    assert names[-2] == "pvpanic_panic_notify"
    # priority 0 (kernel offset, and ledtrig-panic with the default priority): never reached
    assert "dump_kernel_offset" not in names and "led_trigger_panic_notifier" not in names
    assert "Kernel Offset:" not in t.console


def test_notifiers_must_be_added_before_start(chain):
    s, _, _ = chain
    with pytest.raises(NotifierError, match="before start"):
        s.add_notifier(lambda ctx: 0)
