"""The side-by-side views hold what the library gave them (state, not pixels)."""
from __future__ import annotations

import doctest

from kpanic_lab.real.compare import Row, StageLine
from kpanic_lab.real.recorded import Transcript
from kpanic_lab.viz import real


def test_matched_rows_are_tinted_and_long_one_sided_runs_folded():
    rows = [Row("[ 0.1] a", "[ 7.1] a", True)] + [Row(None, f"real {i}", False) for i in range(8)] + \
        [Row("[ 0.2] lab only", None, False), Row("[ 0.3] b", "[ 7.3] b", True)]
    html = real.pair_html(rows, ("lab", "real"))
    assert html.count('class="kpanic-match"') == 2
    assert html.count("<details>") == 1 and "9 lines only one kernel printed (8 real, 1 lab)" in html
    assert html.index("real 7") < html.index("[ 0.3] b")
    short = real.pair_html(rows[:3])
    assert "<details>" not in short and "real 1" in short


def test_stage_table_marks_silent_stages():
    stages = [StageLine(0, "TRIGGER", "[ 0.02] sysrq: Trigger a crash", "[ 7.8] sysrq: Trigger a crash", False),
              StageLine(1, "ENTRY", None, None, True)]
    html = real.stage_lines_html(stages)
    assert "TRIGGER (trigger)" in html and "prints nothing" in html and "[ 7.8]" not in html
    assert real.stage_lines_view(stages).value.count("<tr") == 3


def test_source_and_transcripts():
    t = Transcript("crash 8.0.2", {"sys": "PANIC: x"}, "recorded", "recorded outputs: no crash", ["sys"])
    view = real.transcripts_side_by_side("crash> sys\n PANIC: y", t)
    assert "recorded outputs: no crash" in view.value and "crash&gt; sys" in view.value
    assert "kpanic-lab crash on the lab's dump" in view.value and "crash 8.0.2 on the real dump (recorded)" in view.value
    assert "run on this machine" in real.source_html("run", "QEMU 18 s")
    assert doctest.testmod(real).failed == 0
