"""Stage records in words: one module, from the records' numbers, in either language."""
from __future__ import annotations

import doctest

import pytest

from kpanic_lab.i18n import using
from kpanic_lab.panic import describe
from kpanic_lab.panic.describe import (STAGE_INFO, cpu_doing, notifier_effect, stage_detail, stage_explanation,
                                       stage_graph, stage_title)
from kpanic_lab.panic.stages import stage_keys
from kpanic_lab.panic.trace import DOING, CpuState, NotifierCall, StageRecord, Trace

MINUS_ONE = (1 << 64) - 1


def rec(key, *args, index=0, notifier=None, caller=None, end=None, symbol="panic+0x85/0x32f"):
    return StageRecord(index, key, 0, 0, 0, symbol, list(args), [CpuState(0, "running", 0, symbol, False, 1)], 0,
                       notifier, caller, end)


def test_docstring_examples():
    assert doctest.testmod(describe).failed == 0


def test_every_stage_has_a_title_and_an_explanation():
    assert set(STAGE_INFO) == set(stage_keys())
    for key in stage_keys():
        assert stage_title(rec(key)) and stage_explanation(rec(key)), key


def test_every_cpu_state_has_words():
    for doing in DOING:
        assert cpu_doing(doing) != doing or doing in ("running", "offline"), doing
    assert cpu_doing("self-stop", short=True) == "self-stop spin" and cpu_doing("idle", short=True) == "idle (hlt)"
    assert cpu_doing("something new") == "something new"           # a state this lab does not know yet


@pytest.mark.parametrize("record, words", [
    (rec("TRIGGER", 1, 0), "sysrq-crash"),
    (rec("TRIGGER", 3, 0x8), "page-fault (0x8)"),
    (rec("ENTRY", 0, caller="my_panic_init+0x1e/0x30 [my_panic]"), "called from my_panic_init+0x1e/0x30 [my_panic]"),
    (rec("CPU_CLAIMED", 1, MINUS_ONE), "panic_cpu = 1 (was -1)"),
    (rec("SELF_STOP", 0, 1), "CPU 0 finds CPU 1 already panicking"),
    (rec("STACK_DUMPED", 0), "skipped: an oops printed the stack"),
    (rec("CRASH_KEXEC", 1, 1), "capture kernel loaded (after the notifiers)"),
    (rec("CRASH_KEXEC", 0, 2), "no capture kernel loaded (from oops_end, before panic())"),
    (rec("CPUS_STOPPED", 0x2), "online CPUs now 0x2"),
    (rec("NOTIFIER_CALL", 0, 1, notifier=NotifierCall("pvpanic_panic_notify", 1)), "pvpanic_panic_notify (priority 1)"),
    (rec("NOTIFIER_RET", 0, 0, notifier=NotifierCall("python:bad", 10, 0, error="raised KeyError: 'x'")),
     "python:bad returned NOTIFY_DONE (Python notifier raised KeyError: 'x')"),
    (rec("NOTIFIER_RET", 0, 0, notifier=NotifierCall("led_trigger_panic_notifier", 0, 0, led_brightness=255)),
     "led_trigger_panic_notifier returned NOTIFY_DONE; panic LED brightness 255"),
    (rec("TIMEOUT", MINUS_ONE), "panic_timeout = -1: restart now"),
    (rec("TIMEOUT", 5), "panic_timeout = 5: restart in 5 s"),
    (rec("OOPS_END", 9, 3), "crash_kexec() first (kexec_should_crash), then oops_end() panics (in interrupt or "
                            "panic_on_oops)"),
    (rec("OOPS_END", 9, 0), "make_task_dead(): kill the task"),
    (rec("STOP_NMI", 0b101), "CPUs 0,2 still online after 1 s: 'Shutting down cpus with NMI'"),
    (rec("SYS_INFO", 0x20, 1), "panic_print = 0x20 (replay the whole log (0x20))"),
    (rec("RESTART", MINUS_ONE, 1), "emergency_restart() (panic_timeout = -1, reboot_mode = warm)"),
    (rec("EXCEPTION", 14, 2, 8, symbol="null_deref_write+0x3d/0x50 [null_deref]"),
     "page fault at null_deref_write+0x3d/0x50 [null_deref], address 0x8, error code 0x2"),
    (rec("EXCEPTION", 6, 0, 0, symbol="bug_on_init+0x4/0x10"), "invalid opcode at bug_on_init+0x4/0x10"),
    (rec("CPU_STOPPED", 0, 3), "CPU 0 stopped by the REBOOT_VECTOR IPI (sysvec_reboot, hard-IRQ context)"),
    (rec("CPU_STOPPED", 1, 1), "CPU 1 spins in panic_smp_self_stop, interrupts off"),
    (rec("TASK_EXIT", 42, 9), "pid 42 killed by signal 9"),
    (rec("TASK_EXIT", 1, 0x100), "pid 1 exited, exit code 0x100"),
    (rec("END", end="hang"), "the final loop: interrupts on, forever"),
    (rec("END", end="poweroff"), "poweroff"),
    (rec("IRQS_OFF"), ""),
])
def test_a_stage_in_words_from_its_numbers(record, words):
    assert stage_detail(record) == words


def test_a_silent_notifier_says_what_it_did():
    assert notifier_effect(NotifierCall("pvpanic_panic_notify", 1, 0)) == "sent nothing"
    assert notifier_effect(NotifierCall("pvpanic_panic_notify", 1, 0, pvpanic_event=2)) == \
        "wrote PVPANIC_CRASH_LOADED to the pvpanic port"
    assert notifier_effect(NotifierCall("dump_kernel_offset", 0, 0)) == ""


def test_the_end_is_titled_with_how_it_ended():
    assert stage_title(rec("END", end="restart")) == "end: restart"
    assert stage_title(rec("IRQS_OFF")) == "interrupts off"
    assert stage_explanation(None).startswith("The shell waits at its prompt")


def test_the_other_language_is_the_same_data_in_other_words():
    r = rec("CPU_STOPPED", 0, 3)
    with using("zh"):
        detail, title, why, doing = stage_detail(r), stage_title(r), stage_explanation(r), cpu_doing("stopped-ipi")
        end = stage_title(rec("END", end="hang"))
    assert detail != stage_detail(r) and "REBOOT_VECTOR" in detail and "0" in detail
    assert title != stage_title(r) and why != stage_explanation(r) and doing != cpu_doing("stopped-ipi")
    assert "hang" in end and end != "end: hang"


def test_the_graph_carries_the_titles():
    g = stage_graph([rec("ENTRY", index=0), rec("END", index=1, end="hang")])
    assert [n["label"] for n in g["nodes"]] == ["panic() entered", "end: hang"]
    assert g["edges"] == [{"from": "0", "to": "1"}]


def test_a_trace_keeps_data_and_reads_one_written_with_words():
    t = Trace("x", {}, [rec("ENTRY", 0xffffffff81000000, caller="f+0x1/0x2")], "hang")
    assert Trace.from_json(t.to_json()) == t
    old = t.to_dict()
    old["stages"][0].update(title="panic() entered", detail="called from f+0x1/0x2")
    import json
    assert Trace.from_json(json.dumps(old)) == t
