"""The plain-text views the notebooks print: pure halves on literals, then one real run."""
from __future__ import annotations

import doctest

from kpanic_lab.panic import report
from kpanic_lab.panic.notifiers import NotifierOutcome
from kpanic_lab.panic.trace import CpuState, NotifierCall, StageRecord, Trace


def rec(i, key, if0=True, if1=True, pc0=0, pc1=0, args=(), notifier=None):
    cpus = [CpuState(0, "idle", 0, "default_idle+0x2/0x10", if0, pc0),
            CpuState(1, "running", 0, "panic+0x86/0x32f", if1, pc1)]
    return StageRecord(i, key, 1, 0, 0, "panic+0x85/0x32f", list(args), cpus, 0, notifier)


def test_docstring_examples():
    assert doctest.testmod(report).failed == 0


def test_preempt_count_names_linux_counters():
    assert report.describe_preempt_count(0) == "0 (preemptible)"
    assert report.describe_preempt_count(0x110000) == "0x110000 (NMI, hardirq 1)"   # nmi_enter()
    assert report.describe_preempt_count(0x10001) == "0x10001 (hardirq 1, preempt 1)"
    assert report.describe_preempt_count(0x201) == "0x201 (softirq 2, preempt 1)"
    assert report.describe_preempt_count(None) == "?"


def test_taint_in_words_in_kernel_order():
    text = report.describe_taint(12416)                   # the oops reference: D, O, E
    assert text.splitlines()[0] == "tainted = 12416"
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["D", "O", "E"]
    assert "not tainted" in report.describe_taint(0)


def test_sysctls_parse_and_explain():
    v = report.parse_sysctl("kernel.panic = -1\nkernel.panic_on_oops = 1\nkernel.panic_on_warn = 0\n")
    assert v == {"kernel.panic": "-1", "kernel.panic_on_oops": "1", "kernel.panic_on_warn": "0"}
    table = report.sysctl_table(v).splitlines()
    assert table[0].startswith("kernel.panic = -1") and table[0].endswith("restart at once")
    assert "Fatal exception" in table[1]
    assert report.sysctl_meaning("kernel.panic", "0") == "after a panic: wait forever"
    assert report.sysctl_meaning("kernel.panic", "5") == "after a panic: restart after 5 s"
    assert report.sysctl_meaning("kernel.panic", "x") == ""


def test_pick_lines_keeps_the_oops_and_panic_lines():
    log = ("[    0.1] null_deref: about to dereference NULL\n"
           "[    0.2] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
           "[    0.2] #PF: supervisor write access in kernel mode\n"
           "[    0.2] Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
           "[    0.2] RIP: 0010:null_deref_write+0x3d/0x50 [null_deref]\n"
           "[    0.2] RAX: 0000000000000000 RBX: 0000000000000002\n"
           "[    0.3] ---[ end trace 0000000000000000 ]---\n"
           "Killed\n")
    out = report.pick_lines(log).splitlines()
    assert out == ["BUG: kernel NULL pointer dereference, address: 0000000000000008",
                   "#PF: supervisor write access in kernel mode", "Oops: 0002 [#1] PREEMPT SMP NOPTI",
                   "RIP: 0010:null_deref_write+0x3d/0x50 [null_deref]", "---[ end trace 0000000000000000 ]---",
                   "Killed"]
    assert report.pick_lines(log, drop_time=False).splitlines()[0].startswith("[    0.2] BUG:")


def test_outcome_names_the_panic_message_as_crash_does_and_none_when_the_kernel_went_on():
    oops = "[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[ 1.0] Oops: 0002 [#1]\n"
    panicked = Trace("oops-panic", {}, [rec(0, "OOPS")], "hang",
                     oops + "[ 1.1] Kernel panic - not syncing: Fatal exception\n")
    assert report.outcome(panicked)["panic message"] == "Kernel panic - not syncing: Fatal exception"
    kexec = Trace("oops-kdump", {}, [rec(0, "OOPS")], "kexec", oops)        # oops_end() -> crash_kexec()
    assert report.outcome(kexec)["panic message"] == "Oops: 0002 [#1]"       # crash 8's PANIC: on a real dump
    killed = Trace("oops", {}, [rec(0, "OOPS")], "task-killed", oops + "Killed\n")
    assert report.outcome(killed)["panic message"] == "(no panic)"


def test_stage_table_and_if_timeline():
    recs = [rec(0, "ENTRY"), rec(1, "IRQS_OFF", if1=False, pc1=1), rec(2, "CPU_STOPPED", if0=False, if1=False,
                                                                         pc0=0x110000, pc1=1)]
    lines = report.stage_table(recs).splitlines()
    assert lines[0].split()[:4] == ["#", "stage", "on", "at"] and len(lines) == 5
    assert lines[3].split()[:8] == ["1", "IRQS_OFF", "1", "panic+0x85", "1", "0", "idle", "(hlt)"]
    assert "0x110000" in lines[4]
    assert report.if_timeline(recs).splitlines() == ["stage   012", "CPU 0   110", "CPU 1   100"]


def test_stage_card_explains_the_stage():
    card = report.stage_card(rec(3, "IRQS_OFF", if1=False, pc1=1))
    assert card.splitlines()[0] == "stage 3: IRQS_OFF - interrupts off   (CPU 1, at panic+0x85)"
    assert "local_irq_disable()" in card and "  what:" not in card      # IRQS_OFF has no numbers to tell
    assert "  what:  CPU 0 stopped by the REBOOT_VECTOR IPI" in report.stage_card(rec(9, "CPU_STOPPED", args=(0, 3)))
    assert "CPU 1  IF=0  preempt 0x1 (preempt 1)  running  at panic+0x86" in card
    assert report.stage_card(None).startswith("(before the trigger")


def test_notifier_table_matches_python_outcomes_to_calls():
    stages = [rec(0, "NOTIFIER_RET", notifier=NotifierCall("python:mine", 100, 0)),
              rec(1, "NOTIFIER_RET", notifier=NotifierCall("pvpanic_panic_notify", 1, 0)),
              rec(2, "NOTIFIER_RET", notifier=NotifierCall("python:bad", -5, 0))]
    t = Trace("sysrq-c", {}, stages, "hang")
    outs = [NotifierOutcome("mine", 100, 0, None, "hello\n"), NotifierOutcome("bad", -5, 0, "raised KeyError: 'x'")]
    lines = report.notifier_table(t, outs).splitlines()
    assert lines[2].split() == ["1", "python:mine", "100", "NOTIFY_DONE", "hello"]
    assert lines[3].split() == ["2", "pvpanic_panic_notify", "1", "NOTIFY_DONE"]
    assert lines[4].endswith("raised KeyError: 'x'")


def test_since_trigger_starts_at_the_typed_trigger():
    before = "boot\n# "
    now = before + "sysctl kernel.panic\nkernel.panic = 0\n# echo c > /proc/sysrq-trigger\n[ 1.0] sysrq: x\n"
    assert report.since_trigger(before, now, "echo c > /proc/sysrq-trigger") == \
        "# echo c > /proc/sysrq-trigger\n[ 1.0] sysrq: x\n"
    # typed straight after the prompt the base ended with
    assert report.since_trigger(before, before + "echo c\npanic\n", "echo c") == "# echo c\npanic\n"
    assert report.since_trigger(before, before + "no trigger here\n", "echo c") == "no trigger here\n"


def test_stage_card_explains_session_only_stages():
    assert "stop_this_cpu()" in report.stage_card(rec(7, "CPU_STOPPED"))
    assert "REBOOT_VECTOR" in report.stage_card(rec(7, "CPU_STOPPED"))
    assert "killed" in report.stage_card(rec(4, "TASK_EXIT"))


def test_scenario_table_lists_every_scenario():
    from kpanic_lab.panic import SCENARIOS

    lines = report.scenario_table(SCENARIOS).splitlines()
    assert len(lines) == len(SCENARIOS) + 2
    assert [line.split()[0] for line in lines[2:]] == list(SCENARIOS)


def test_panic_outline_with_each_notifier():
    keys = ["ENTRY", "IRQS_OFF", "CRASH_KEXEC", "NOTIFIER_CALL", "NOTIFIER_RET", "NOTIFIERS_DONE", "LOOP", "END"]
    stages = [rec(i, k, notifier=NotifierCall("pvpanic_panic_notify", 1, 0) if k == "NOTIFIER_RET" else None)
              for i, k in enumerate(keys)]
    t = Trace("sysrq-c", {}, stages, "hang")
    assert report.panic_outline(t) == ["IRQS_OFF", "CRASH_KEXEC", "notifiers (1 called)", "LOOP"]
    assert report.panic_outline(t, notifiers=True) == ["IRQS_OFF", "CRASH_KEXEC", "  pvpanic_panic_notify -> NOTIFY_DONE",
                                                       "notifier chain done", "LOOP"]


def test_side_by_side_marks_differences():
    out = report.side_by_side(["A", "B", "C"], ["A", "C"], ("left", "right")).splitlines()
    assert out[0].split() == ["left", "right"]
    assert out[1].startswith("  ") and out[2].startswith("<>") and out[3].startswith("<>")


# ---------------------------------------------------------------------------- on real runs
def test_on_a_real_sysrq_c_run(run_scenario):
    s = run_scenario("sysrq-c")
    t = s.trace()
    table = report.stage_table(t.stages).splitlines()
    assert len(table) == len(t.stages) + 2
    timeline = report.if_timeline(t.stages).splitlines()
    irqs_off = report.find_stage(t, "IRQS_OFF").index
    loop = report.find_stage(t, "LOOP").index
    panicking = t.stages[irqs_off].cpu
    row = timeline[1 + panicking][8:]
    assert row[:irqs_off] == "1" * irqs_off and set(row[irqs_off:loop]) == {"0"} and row[loop] == "1"
    outline = report.panic_outline(t)
    assert outline.index("CRASH_KEXEC") < outline.index("notifiers (3 called)")
    text = report.lecture_vs_linux(t, 7, 7)
    assert text.count("lecture:") == 6 and "7 before the trigger, 7 at the end" in text
    assert "BEFORE the notifiers" in text
    assert report.outcome(t)["panic message"] == "Kernel panic - not syncing: sysrq triggered crash"
    assert report.pick_lines(report.console_since_trigger(s)).splitlines()[1] == \
        "Kernel panic - not syncing: sysrq triggered crash"
    assert report.console_since_trigger(s).startswith("# echo c > /proc/sysrq-trigger\n")
    # pvpanic is silent, as in Linux: what it did is the byte it wrote to the device
    assert report.notifier_output(s).splitlines()[:3] == [
        "pvpanic_panic_notify:", "    (nothing printed)", "    did: wrote PVPANIC_PANICKED to the pvpanic port"]


def test_lecture_comparison_with_post_notifiers(run_scenario):
    t = run_scenario("sysrq-c", cmdline="crash_kexec_post_notifiers").trace()
    outline = report.panic_outline(t)
    assert outline.index("CRASH_KEXEC") > outline.index("notifiers (3 called)")
    assert "comes after the notifiers" in report.lecture_vs_linux(t)
