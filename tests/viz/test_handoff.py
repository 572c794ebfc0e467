"""The kexec handoff diagram, stepped with a kdump stepper."""
from __future__ import annotations

import pytest

from kpanic_lab.viz.handoff import PHASE_KEYS, HandoffView, handoff_digraph, phase_of
from kpanic_lab.viz.stagegraph import current_node
from kpanic_lab.viz.stepper import stepper_for


@pytest.fixture(scope="module")
def linked():
    st = stepper_for("sysrq-c", kdump=True, memory="128M")
    assert st.error == ""
    view = HandoffView.for_run(st.kdump_run).link(st)
    return st, view


@pytest.mark.slow
def test_follows_the_stepper(linked):
    st, view = linked
    st.reset()
    assert view.phase == "BEFORE" and view.error == ""
    seen = []
    while st.step() is not None:
        seen.append((st.stage_key, view.phase))
    assert st.ended == "kexec"
    assert ("CRASH_KEXEC", "CRASH_KEXEC") in seen and ("KEXEC", "KEXEC") in seen
    assert ("CPU_STOPPED", "CPU_STOPPED") in seen and ("IRQS_OFF", "PANIC") in seen
    assert view.slider.value == "KEXEC" and "purgatory" in view.active
    st.reset()
    assert view.phase == "BEFORE"


@pytest.mark.slow
def test_uses_the_plan_and_the_trace(linked):
    st, view = linked
    st.run_to_end()
    plan = st.kdump_run.kexec_plan
    view.show("CPU_STOPPED")
    src = view.graph_source
    assert f"{plan.crash[0]:#x}" in src and f"{plan.elfcorehdr:#x}" in src and f"{plan.entry:#x}" in src
    panic_cpu = st.session.trace().stages[0].cpu
    assert f"CPU {panic_cpu}: panic()" in src and f"CPU {1 - panic_cpu}: crash NMI" in src
    assert view.graph.value.lstrip().startswith("<svg")


@pytest.mark.slow
def test_phases_after_the_jump(linked):
    st, view = linked
    view.slider.value = "VMCORE"
    assert view.phase == "VMCORE" and {"proc_vmcore", "elfcorehdr", "notes"} <= set(view.active)
    assert "class=active" in view.graph_source


def test_pure_diagram():
    for key in PHASE_KEYS:
        src = handoff_digraph(key).source
        assert "class=active" in src, key
    assert phase_of("NOTIFIER_CALL") == "PANIC" and phase_of("") == "BEFORE"
    assert current_node("x [class=current]") == "x"


def test_without_a_loaded_capture_kernel_it_says_so():
    from kpanic_lab.kdump.run import KdumpRun
    view = HandoffView.for_run(KdumpRun("sysrq-c"))
    assert "kexec -p has not run" in view.error and "kpanic-error" in view._error_box.value
    assert view.graph_source            # the design is still drawn
