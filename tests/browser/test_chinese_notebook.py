"""notebooks/zh/stepper_dashboard.ipynb in JupyterLab, in a real browser: the widgets speak Chinese, and a
Chinese label of the stage graph (graphviz SVG) is drawn with glyphs, not boxes.

"Not boxes": the browser draws the label's first Chinese characters on a canvas in the label's own font,
and the same number of characters no font has (U+10FFFD, always drawn as the missing-glyph box); without
a CJK font the two are the same boxes, with one they differ.  A screenshot is saved in
tests/browser/artifacts/ for a person to look at."""
from __future__ import annotations

from typing import Any, Dict

import pytest

from tests.browser.conftest import ARTIFACTS, LabServer
from tests.browser.test_stepper_in_jupyterlab import KERNEL_SECONDS, STEP_SECONDS, open_and_run, stage_text, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "zh/stepper_dashboard.ipynb"
GLYPHS_VS_BOXES = """() => {
    const han = /[\\u4e00-\\u9fff]/;
    const label = [...document.querySelectorAll('.kpanic-stage-graph svg text')].find(e => han.test(e.textContent));
    if (!label) return null;
    const family = getComputedStyle(label).fontFamily;
    const text = [...label.textContent].filter(c => han.test(c)).slice(0, 4).join('');
    const draw = (s) => {
        const c = document.createElement('canvas');
        c.width = 320; c.height = 72;
        const g = c.getContext('2d');
        g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
        g.fillStyle = '#000'; g.font = `48px ${family}`; g.fillText(s, 4, 56);
        return g.getImageData(0, 0, c.width, c.height).data;
    };
    const glyphs = draw(text), boxes = draw('\\u{10FFFD}'.repeat([...text].length));
    let differ = 0, ink = 0;
    for (let i = 0; i < glyphs.length; i += 4) {
        if (glyphs[i] !== boxes[i]) differ++;
        if (glyphs[i] < 128) ink++;
    }
    return {family, text, label: label.textContent, differ, ink};
}"""


def test_a_chinese_notebook_draws_chinese_labels(lab_server: LabServer, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    errors: list = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_and_run(page, lab_server, NOTEBOOK)
    step = page.locator("button.kpanic-step")
    step.first.wait_for(state="visible", timeout=KERNEL_SECONDS * 1000)
    # the kernel runs in notebooks/zh/, whose .kpanic-lab-language says zh: the widget speaks Chinese
    wait_for("the stepper's label in Chinese", lambda: "触发之前" in stage_text(page), STEP_SECONDS)
    assert step.first.inner_text().strip() == "单步"
    result: Dict[str, Any] = wait_for("a Chinese label in the stage graph",  # type: ignore[assignment]
                                      lambda: page.evaluate(GLYPHS_VS_BOXES), STEP_SECONDS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "zh_stepper_dashboard.png"), full_page=True)
    assert "Noto Sans CJK SC" in result["family"], result
    assert len(result["text"]) >= 2 and result["ink"] > 200, result
    # glyphs, not the missing-glyph boxes: at least a tenth of the inked pixels differ
    assert result["differ"] > result["ink"] // 10, result
    assert not errors, errors
