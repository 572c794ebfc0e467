"""What every view shares: the error line shown in place, HTML escaping, the lab's CSS.

A view never lets a traceback reach the student.  ``guarded`` wraps a button handler so
that a ``LabError`` (the library's "you can act on this" error) becomes one line in the
view's error widget, and anything else becomes one line naming the exception type.

>>> error_html("no capture kernel loaded")
'<div class="kpanic-error" style="color:#b00020"><b>kpanic_lab:</b> no capture kernel loaded</div>'
"""
from __future__ import annotations

import functools
import html
from typing import Any, Callable, Optional, TypeVar

import ipywidgets as w

from kpanic_lab.errors import LabError

F = TypeVar("F", bound=Callable[..., Any])


class ViewError(LabError):
    """A view was given something it cannot show (the wrong object, or one in the wrong state)."""

# Colours shared by the views (and the legend a student reads against them).
IF_ON = "#2e7d32"       # a lit lamp: the CPU accepts interrupts
IF_OFF = "#c62828"      # a red lamp: the CPU ignores maskable interrupts (IF=0)
CURRENT = "#ffb300"     # the current stage / notifier / step
PAST = "#e3f2fd"
FUTURE = "#f5f5f5"

# One <style> for the whole lab: an HTML widget's <style> applies in JupyterLab and Voila alike.
# Sizes are relative (em), so JupyterLab's font size and presentation mode scale every view; console
# lines never wrap mid-word (they scroll sideways, as on a terminal).
LAB_CSS = """<style>
.kpanic-console pre, pre.kpanic-console {font-size: 0.85em; line-height: 1.25; margin: 0; white-space: pre;}
.kpanic-new {background: #fff3c4;}
.kpanic-stage {font-size: 1.15em;}
.kpanic-stepper .widget-html-content, .kpanic-handoff .widget-html-content, .kpanic-page-kinds .widget-html-content {line-height: 1.35;}
.kpanic-stepper .widget-html-content table td, .kpanic-stepper .widget-html-content table th {padding: 0 0.4em 0 0;}
.kpanic-aside {font-size: 0.85em; color: #455a64;}
.kpanic-if-on .kpanic-lamp {color: %s;}
.kpanic-if-off .kpanic-lamp {color: %s;}
.kpanic-notifier-current {background: %s; font-weight: bold;}
</style>""" % (IF_ON, IF_OFF, CURRENT)


def esc(text: object) -> str:
    """HTML-escape anything (str() first)."""
    return html.escape(str(text), quote=False)


def error_html(message: str) -> str:
    """The one-line error a view shows in place of what it cannot draw."""
    return (f'<div class="kpanic-error" style="color:#b00020"><b>kpanic_lab:</b> {esc(message)}</div>')


def describe_exception(e: BaseException) -> str:
    """One line for any exception: the message of a LabError, else 'Type: message'."""
    if isinstance(e, LabError):
        return str(e)
    text = str(e) or repr(e)
    return f"{type(e).__name__}: {text}"


def error_widget() -> w.HTML:
    """An (initially empty) HTML line for errors, hidden while it is empty."""
    box = w.HTML("")
    box.add_class("kpanic-error-line")
    return box


def show_error(box: w.HTML, message: Optional[str]) -> None:
    box.value = error_html(message) if message else ""


def guarded(method: F) -> F:
    """Run a view method; an exception becomes the view's ``error`` (a line), not a traceback.

    The view must have an ``error`` trait (or attribute) and an ``_error_box`` HTML widget.
    The method's return value is passed through; on error it returns None.
    """
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = self.error
        try:
            result = method(self, *args, **kwargs)
        except Exception as e:          # noqa: BLE001 - every failure becomes one line in place
            self.error = describe_exception(e)
            show_error(self._error_box, self.error)
            return None
        if before and self.error == before:     # a stale error is cleared; one a nested call set stays
            self.error = ""
            show_error(self._error_box, None)
        return result
    return wrapper  # type: ignore[return-value]


def pre(text: str, css_class: str = "kpanic-console", max_height: str = "22em") -> str:
    """Text in a scrollable <pre>."""
    return (f'<div class="{css_class}" style="max-height:{max_height}; overflow:auto; '
            f'border:1px solid #ddd; padding:4px; background:#fafafa"><pre>{esc(text)}</pre></div>')
