"""Progress bars for long work: makedumpfile's progress callback, and long runs.

``ProgressView`` is a callable with makedumpfile's ``progress(step, done, total)`` signature,
so it is handed straight to the library:

>>> bar = ProgressView("makedumpfile")
>>> bar("Copying data", 512, 1024); bar.step, bar.fraction
('Copying data', 0.5)
>>> from kpanic_lab.kdump.makedumpfile import makedumpfile        # doctest: +SKIP
>>> makedumpfile(dump, out, 31, "zstd", progress=bar)             # doctest: +SKIP

``run_with_progress(session_or_run)`` steps a panic (and, for a ``KdumpRun``, the capture
that follows) while a bar shows which stage the guest has reached.
"""
from __future__ import annotations

import time
from typing import Any, List, Optional

import ipywidgets as w
import traitlets as t

from kpanic_lab.i18n import _
from kpanic_lab.viz._common import describe_exception, error_html, esc

RESOLUTION = 1000


class ProgressView(w.VBox):
    """A bar and a line of text; call it as ``progress(step, done, total)``."""

    step = t.Unicode("", help="the step being done (makedumpfile's words)")
    done = t.Int(0)
    total = t.Int(0)
    fraction = t.Float(0.0, help="done / total of the current step, 0..1")
    steps = t.List(t.Unicode(), help="every step seen, in order")
    finished = t.Bool(False)
    error = t.Unicode("")

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=RESOLUTION, description=title,
                                 layout=w.Layout(width="32em", max_width="100%"),
                                 style={"description_width": "initial"})
        self.label = w.HTML("")
        self._t0 = self._created = time.monotonic()
        super().__init__([w.HBox([self.bar, self.label])], **kwargs)
        self.add_class("kpanic-progress")

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.step:
            self.steps = self.steps + [step]
            self.step = step
            self._t0 = time.monotonic()
        self.done, self.total = int(done), int(total)
        frac = 1.0 if total <= 0 or done >= total else done / total
        self.fraction = frac
        value = int(frac * RESOLUTION)
        if value != self.bar.value or not self.label.value:
            self.bar.value = value
            self.bar.bar_style = "success" if value >= RESOLUTION else "info"
            self.label.value = f"{esc(step)}: {frac * 100:5.1f} %"

    def note(self, text: str, fraction: Optional[float] = None) -> None:
        """Show a line of text (and a fraction, when one is known) without a makedumpfile step."""
        self.label.value = esc(text)
        if fraction is not None:
            self.fraction = max(0.0, min(1.0, fraction))
            self.bar.value = int(self.fraction * RESOLUTION)

    def finish(self, text: str = "done") -> None:
        self.finished = True
        self.fraction = 1.0
        self.bar.value = RESOLUTION
        self.bar.bar_style = "success"
        took = time.monotonic() - self._created
        self.label.value = esc(text) + f' <span class="kpanic-aside">({took:.2f} s)</span>'

    def fail(self, message: str) -> None:
        self.error = message
        self.bar.bar_style = "danger"
        self.label.value = error_html(message)


def run_with_progress(obj: Any, view: Optional[ProgressView] = None, expected_stages: int = 24) -> Any:
    """Run a ``PanicSession`` (or a ``KdumpRun``) to its end, one stage at a time, with a bar.

    Returns what the run returns (the ``Trace``, or the ``KdumpResult``), or None after an
    error, which the bar shows.  ``expected_stages`` only scales the bar: the number of stages
    is not known until the run ends.
    """
    from kpanic_lab.panic import PanicSession

    view = view or ProgressView("run")
    session = getattr(obj, "session", obj)
    if not isinstance(session, PanicSession):
        view.fail(f"run_with_progress needs a PanicSession or a KdumpRun, not {type(obj).__name__}")
        return None
    try:
        if not session.started:
            view.note(_("booting the guest..."))
            (obj.load() if obj is not session else session.start())
        seen: List[str] = []
        while True:
            rec = session.step()
            if rec is None:
                break
            seen.append(rec.key)
            view(f"stage {rec.index}: {rec.key}", len(session.records), max(expected_stages, len(seen) + 1))
        if obj is not session:
            view.note(_("the capture kernel boots and saves the dump..."), 0.95)
            result = obj.run()
            view.finish(_("{n} stages, then the capture: {end}").format(n=len(seen), end=result.end))
            return result
        view.finish(_("{n} stages; the run ended: {end}").format(n=len(seen), end=session.end))
        return session.trace()
    except Exception as e:              # noqa: BLE001 - shown on the bar, not as a traceback
        view.fail(describe_exception(e))
        return None
