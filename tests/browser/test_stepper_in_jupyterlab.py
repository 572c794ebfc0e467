"""notebooks/stepper_dashboard.ipynb in JupyterLab, in a real browser: run it, press Step, and see
the stage label and an IF lamp change, as a student would.  A screenshot is saved in
tests/browser/artifacts/ for a person to look at."""
from __future__ import annotations

import time
from typing import Callable, Dict, Optional

import pytest

from tests.browser.conftest import ARTIFACTS, LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "stepper_dashboard.ipynb"
KERNEL_SECONDS = 120        # kernel start + the first cell booting the guest
STEP_SECONDS = 30           # one Step: the guest runs to the next stage
MAX_STEPS = 8               # SysRq-c: TRIGGER, ENTRY, IRQS_OFF (IF drops) come first


def wait_for(what: str, check: Callable[[], Optional[object]], seconds: float) -> object:
    """Poll ``check`` until it returns something true; fail, saying what, after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:.0f} s for {what}", pytrace=False)
        time.sleep(0.25)


def lamps(page) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    """Each CPU's IF lamp as the page shows it: {"cpu0": "on", "cpu1": "off"}."""
    return page.evaluate("""() => {
        const out = {};
        document.querySelectorAll('.kpanic-if').forEach(el => {
            const cpu = [...el.classList].find(c => /^kpanic-if-cpu\\d+$/.test(c));
            if (!cpu) return;
            out[cpu.slice('kpanic-if-'.length)] = el.classList.contains('kpanic-if-on') ? 'on'
                : el.classList.contains('kpanic-if-off') ? 'off' : '?';
        });
        return out;
    }""")


def stage_text(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator(".kpanic-stage").first.inner_text().strip()


def test_step_changes_the_stage_and_an_if_lamp(lab_server: LabServer, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    errors: list = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_and_run(page, lab_server, NOTEBOOK)

    step = page.locator("button.kpanic-step")
    step.first.wait_for(state="visible", timeout=KERNEL_SECONDS * 1000)
    wait_for("the stepper to show the prompt before the trigger",
             lambda: "before the trigger" in stage_text(page) and lamps(page), STEP_SECONDS)
    first_stage, first_lamps = stage_text(page), lamps(page)
    assert set(first_lamps.values()) == {"on"}, first_lamps     # at the prompt both CPUs take interrupts

    stages = [first_stage]
    for _ in range(MAX_STEPS):
        before = stage_text(page)
        step.first.click()
        wait_for("the stage label to change after Step", lambda: stage_text(page) != before and stage_text(page),
                 STEP_SECONDS)
        stages.append(stage_text(page))
        if lamps(page) != first_lamps:
            break
    now = lamps(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stepper_dashboard.png"), full_page=True)

    assert stages[-1] != first_stage and "stage" in stages[-1], stages
    assert now != first_lamps and "off" in now.values(), (first_lamps, now, stages)
    assert "IRQS_OFF" in " ".join(stages), stages        # panic() turned its CPU's IF off
    assert not errors, errors


def open_and_run(page, lab_server: LabServer, notebook: str) -> None:  # type: ignore[no-untyped-def]
    """Open ``notebook`` in a workspace of its own, wait for an idle kernel, then run all cells."""
    # a workspace of its own: the server's other tests' notebooks are not reopened behind this one
    workspace = notebook.split(".")[0].replace("_", "-").replace("/", "-")
    page.goto(lab_server.page_url(f"lab/workspaces/{workspace}/tree/{notebook}"), wait_until="domcontentloaded",
              timeout=60_000)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_for("the kernel to be idle", lambda: page.evaluate("""() => {
                 const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                 const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                 return k && k.status === 'idle';
             }"""), KERNEL_SECONDS)
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
