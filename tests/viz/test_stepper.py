"""The panic stepper over a SysRq-c session: stepping, the IF lamps, the graph, the chain."""
from __future__ import annotations

import pytest

from kpanic_lab.machine import Machine
from kpanic_lab.panic import PanicSession, Scenario
from kpanic_lab.viz.stagegraph import BEFORE, current_node
from kpanic_lab.viz.stepper import PanicStepper, notifier_rows, stepper_for

# the tests here step a booted session (all but one quick check of wrong inputs)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stepper():
    st = stepper_for("sysrq-c", cmdline="panic=0")
    assert st.error == ""
    return st


@pytest.fixture(scope="module")
def full_trace(stepper):
    """The whole run, recorded once (the stepper is put back before the trigger)."""
    stepper.run_to_end()
    trace = stepper.session.trace()
    stepper.reset()
    return trace


def test_starts_before_the_trigger(stepper):
    stepper.reset()
    assert stepper.position == -1 and stepper.stage_key == ""
    assert stepper.if_flags == [True, True]            # both CPUs idle at the prompt
    assert stepper.current_node == BEFORE
    assert stepper.back_button.disabled and not stepper.step_button.disabled
    assert "before the trigger" in stepper.stage_label.value


def test_step_moves_forward_and_back(stepper):
    stepper.reset()
    stepper.step()
    assert (stepper.position, stepper.stage_key) == (0, "TRIGGER")
    assert "echo c > /proc/sysrq-trigger" in stepper.console_text
    stepper.step()
    assert (stepper.position, stepper.stage_key) == (1, "ENTRY")
    assert stepper.slider.value == 1 and stepper.slider.max >= 1
    stepper.back()
    assert (stepper.position, stepper.stage_key) == (0, "TRIGGER")
    assert stepper.session.position == 0


def test_step_button_steps(stepper):
    stepper.reset()
    stepper.step_button.click()
    assert stepper.position == 0
    assert stepper.step_button.description == "Step" and "kpanic-step" in stepper.step_button._dom_classes
    assert "kpanic-stage" in stepper.stage_label._dom_classes


def test_if_flags_follow_the_trace(stepper, full_trace):
    for rec in full_trace.stages:
        stepper.goto(rec.index)
        want = [c.interrupts_enabled for c in rec.cpus]
        assert stepper.if_flags == want, rec.key
        for cpu, (on, lamp) in enumerate(zip(want, stepper.lamps)):
            assert (f"kpanic-if-cpu{cpu} kpanic-if-on" in lamp) == on
            assert (f"kpanic-if-cpu{cpu} kpanic-if-off" in lamp) == (not on)
            assert lamp in stepper.cpus_view.value
    keys = full_trace.keys()
    irqs_off = keys.index("IRQS_OFF")
    assert full_trace.stages[irqs_off].cpus[full_trace.stages[irqs_off].cpu].interrupts_enabled is False


def test_graph_marks_the_current_node(stepper, full_trace):
    for i in (-1, 0, 5, len(full_trace.stages) - 1):
        stepper.goto(i)
        expect = BEFORE if i < 0 else str(i)
        assert stepper.current_node == expect
        assert current_node(stepper.graph_source) == expect
    assert stepper.graph.value.lstrip().startswith("<svg")
    assert "end: hang" in stepper.graph_source and "em\"" in stepper.graph.value


def test_slider_scrubs_to_a_stage(stepper, full_trace):
    stepper.slider.value = 6
    assert stepper.position == 6 and stepper.stage_key == full_trace.stages[6].key
    stepper.reset()
    assert stepper.slider.value == -1


def test_run_to_end_and_the_end(stepper, full_trace):
    stepper.run_to_end()
    assert stepper.ended == "hang" and stepper.position == len(full_trace.stages) - 1
    assert stepper.step_button.disabled and stepper.end_button.disabled
    assert stepper.step() is None and stepper.error == ""


def test_notifier_being_called_is_highlighted(stepper, full_trace):
    call = next(r for r in full_trace.stages if r.key == "NOTIFIER_CALL")
    stepper.goto(call.index)
    assert stepper.notifier_current == call.notifier.name
    assert "kpanic-notifier-current" in stepper.notifiers.value
    stepper.goto(call.index - 1)
    assert stepper.notifier_current == ""
    done = full_trace.keys().index("NOTIFIERS_DONE")
    stepper.goto(done)
    assert stepper.notifier_current == "" and "returned NOTIFY_DONE" in stepper.notifiers.value


def test_console_grows_and_highlights_new_lines(stepper, full_trace):
    msg = full_trace.keys().index("MESSAGE")
    stepper.goto(msg - 1)
    before = stepper.console_text
    stepper.goto(msg)
    assert stepper.console_text.startswith(before)
    assert "Kernel panic - not syncing: sysrq triggered crash" in stepper.console_text
    assert '<span class="kpanic-new">' in stepper.console.value


def test_explanations_come_from_the_library(stepper, full_trace):
    from kpanic_lab.panic.describe import STAGE_INFO
    stepper.goto(full_trace.keys().index("IRQS_OFF"))
    assert STAGE_INFO["IRQS_OFF"].explain.split(":")[0] in stepper.why
    stepper.goto(full_trace.keys().index("CPU_STOPPED"))      # not a panic_stages.h stage
    assert "NMI" in stepper.why


def test_what_and_why_are_the_describe_module_s_words_in_the_student_s_language(stepper, full_trace):
    from kpanic_lab.i18n import using
    from kpanic_lab.panic import describe
    from kpanic_lab.viz._common import esc

    rec = stepper.goto(full_trace.keys().index("CPU_STOPPED"))
    english = (stepper.what, stepper.why)
    assert esc(describe.stage_detail(rec)) in stepper.what and esc(describe.stage_explanation(rec)) in stepper.why
    try:
        with using("zh"):
            stepper.refresh()
            chinese = (stepper.what, stepper.why, stepper.stage_label.value)
            assert esc(describe.stage_detail(rec)) in chinese[0] and esc(describe.stage_explanation(rec)) in chinese[1]
            assert esc(describe.stage_title(rec)) in chinese[2]
    finally:
        stepper.refresh()
    assert chinese[:2] != english and (stepper.what, stepper.why) == english


def test_notifier_rows_pure(full_trace):
    stages = full_trace.stages
    call = next(r.index for r in stages if r.key == "NOTIFIER_CALL")
    rows = notifier_rows(stages, call)
    assert rows[0][2] == "running" and rows[0][3]
    assert all(r[2] == "not called yet" and not r[3] for r in rows[1:])
    assert all(not r[3] for r in notifier_rows(stages, len(stages) - 1))


# ---------------------------------------------------------------------------- wrong state
def test_a_machine_that_never_panicked_is_a_message():
    m = Machine(cpus=1, memory="64M")
    m.boot()
    st = PanicStepper(m)
    assert "never panicked" in st.error
    assert "kpanic-error" in st.children[0].value and "Traceback" not in st.children[0].value


def test_wrong_objects_and_scenarios_are_messages():
    assert "not str" in PanicStepper("sysrq-c").error
    bad = stepper_for("no-such-scenario")
    assert "unknown scenario" in bad.error and "kpanic-error" in bad.children[0].value


def test_a_session_that_cannot_boot_is_a_message():
    broken = Scenario("broken", "a setup line that fails", "echo c > /proc/sysrq-trigger",
                      setup=("insmod no_such_module",))
    st = PanicStepper(PanicSession(broken, cpus=1, memory="64M"))
    assert "setup line 'insmod no_such_module' failed" in st.error and "Traceback" not in st.error
    assert "kpanic-error" in st._error_box.value


def test_without_dot_the_graph_says_how_to_get_it(stepper, monkeypatch):
    import graphviz

    import kpanic_lab.viz.stepper as mod

    def no_dot(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Tsvg"])

    monkeypatch.setattr(mod, "layout_svg", no_dot)
    stepper._graph_layout = ()          # as if the graph had never been laid out
    stepper.goto(2)
    assert "apt-get install graphviz" in stepper.graph.value and "digraph" in stepper.graph.value
    assert stepper.error == "" and stepper.current_node == "2"


def test_stepping_over_recorded_stages_lays_the_graph_out_once(stepper, full_trace, monkeypatch):
    import kpanic_lab.viz.stepper as mod

    stepper.goto(len(full_trace.stages) - 1)
    calls = []
    real = mod.layout_svg
    monkeypatch.setattr(mod, "layout_svg", lambda *a, **k: calls.append(1) or real(*a, **k))
    svg = stepper.graph.value
    for i in (3, 4, 5, 4, -1, 9):
        stepper.goto(i)
        assert stepper.current_node == (BEFORE if i < 0 else str(i))
        node = BEFORE if i < 0 else str(i)
        assert f".{stepper._graph_scope} .kpanic_n_{node} path" in stepper.graph_style.value
        assert "#ffb300" in stepper.graph_style.value.split(f"kpanic_n_{node} path")[1].split("}")[0]
    assert calls == [] and stepper.graph.value == svg       # the SVG was not redrawn, only restyled
    assert f"kpanic_n_{len(full_trace.stages) - 1}" in svg and 'width="' in svg and 'em"' in svg


def test_if_lamps_are_red_or_green_and_say_so(stepper, full_trace):
    from kpanic_lab.viz._common import IF_OFF, IF_ON

    stepper.goto(full_trace.keys().index("IRQS_OFF"))
    values = list(stepper.lamps)
    assert any(IF_OFF in v and "IF=0" in v and "interrupts off" in v for v in values), values
    stepper.goto(-1)
    assert all(IF_ON in lamp and "IF=1" in lamp and "interrupts on" in lamp for lamp in stepper.lamps)
    assert IF_OFF.lower() in ("#c62828", "#d32f2f", "#b71c1c")   # red, not grey


def test_registers_in_hex(stepper):
    stepper.goto(0)
    assert all("(rip <code>0xffffffff" in t for t in stepper.cpu_texts if "user mode" not in t)
    assert all(t in stepper.cpus_view.value for t in stepper.cpu_texts)


def test_in_a_kernel_a_new_stage_is_laid_out_just_after_the_click():
    """With an event loop running (a Jupyter kernel), the click's other updates go out first and the
    graph is laid out right after; only the newest layout asked for is drawn."""
    import asyncio

    from kpanic_lab.viz.stepper import stepper_for

    st = stepper_for("sysrq-c", cmdline="panic=0")

    async def clicks():
        svg = st.graph.value
        st.step()
        st.step()
        assert st.stage_key == "ENTRY" and st.graph.value == svg        # not yet laid out
        await asyncio.sleep(0.01)
        assert "kpanic_n_1" in st.graph.value and st.graph.value != svg

    asyncio.run(clicks())
    assert st.error == ""


def test_the_end_marker_sits_on_the_cpu_in_the_final_loop(stepper, full_trace):
    loop = next(s for s in full_trace.stages if s.key == "LOOP")
    stepper.goto(len(full_trace.stages) - 1)
    marked = [i for i, text in enumerate(stepper.cpu_texts) if "&#9664;" in text]
    assert marked == [loop.cpu], (marked, loop.cpu, stepper.stage_key)
