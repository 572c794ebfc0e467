"""Progress bars: makedumpfile's callback, and a run stepped to its end."""
from __future__ import annotations

import io

import pytest

from kpanic_lab.kdump.makedumpfile import PROGRESS_COPY, PROGRESS_HOLES
from kpanic_lab.panic import PanicSession
from kpanic_lab.viz.progress import RESOLUTION, ProgressView, run_with_progress


def test_callback_signature_and_state():
    bar = ProgressView("makedumpfile")
    bar(PROGRESS_HOLES, 0, 1)
    bar(PROGRESS_HOLES, 1, 1)
    bar(PROGRESS_COPY, 250, 1000)
    assert bar.steps == [PROGRESS_HOLES, PROGRESS_COPY] and bar.fraction == 0.25
    assert bar.bar.value == RESOLUTION // 4 and PROGRESS_COPY in bar.label.value
    bar(PROGRESS_COPY, 1000, 1000)
    assert bar.bar.value == RESOLUTION and bar.bar.bar_style == "success"
    bar(PROGRESS_COPY, 0, 0)                     # makedumpfile's "nothing to copy" is done, not a division
    assert bar.fraction == 1.0


@pytest.mark.slow
def test_makedumpfile_drives_it(tmp_path):
    from kpanic_lab.formats import open_dump
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.kdump.makedumpfile import makedumpfile

    s = PanicSession("sysrq-c", cpus=1, memory="64M").start()
    bar = ProgressView("run")
    trace = run_with_progress(s, bar)
    assert trace is not None and trace.end and bar.finished and bar.error == ""
    assert bar.steps[0].startswith("stage 0: TRIGGER") and len(bar.steps) == len(trace.stages)
    path = tmp_path / "vmcore"
    with open(path, "wb") as f:
        write_vmcore_from_machine(s.machine, f)
    mk = ProgressView("makedumpfile")
    makedumpfile(open_dump(path), io.BytesIO(), 31, "zlib", progress=mk)
    assert mk.steps[-1] == PROGRESS_COPY and mk.fraction == 1.0


def test_wrong_object_fails_on_the_bar():
    bar = ProgressView()
    assert run_with_progress("sysrq-c", bar) is None
    assert "needs a PanicSession" in bar.error and bar.bar.bar_style == "danger"


def test_every_exported_name_resolves():
    import kpanic_lab.viz as viz

    for name in viz.__all__:
        assert getattr(viz, name) is not None, name
