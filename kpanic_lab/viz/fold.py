"""Long outputs folded: the key lines first, the whole text behind a ``<details>`` toggle.

A full oops or a capture kernel's console is a hundred lines; a student needs five of them first.
``folded(text)`` shows the key lines the library picks (``panic.report.pick_lines``: ``BUG:``,
``Oops:``, ``RIP:``, ``Kernel panic - not syncing`` ...) and folds the rest, which one click opens.
Console lines keep their width: they scroll sideways, never break mid-word.

>>> html = folded_html("a\\nKernel panic - not syncing: x\\nb")
>>> "<details" in html and "Kernel panic - not syncing: x" in html.split("<details")[0]
True
"""
from __future__ import annotations

from typing import Optional

import ipywidgets as w

from kpanic_lab.panic.report import pick_lines
from kpanic_lab.viz._common import LAB_CSS, esc

_PRE = ('<pre class="kpanic-console" style="max-height:28em; overflow:auto; border:1px solid #ddd; '
        'padding:4px; background:#fafafa">{}</pre>')


def folded_html(text: str, key_lines: Optional[str] = None, title: str = "the whole output") -> str:
    """HTML: ``key_lines`` (default: the library's pick of ``text``) shown, all of ``text`` folded."""
    keys = pick_lines(text) if key_lines is None else key_lines
    n = text.count("\n") + 1
    shown = _PRE.format(esc(keys)) if keys.strip() else ""
    return (f'{shown}<details class="kpanic-fold"><summary style="cursor:pointer"><b>{esc(title)}</b> '
            f'({n} lines): click to open</summary>{_PRE.format(esc(text))}</details>')


def folded(text: str, key_lines: Optional[str] = None, title: str = "the whole output") -> w.HTML:
    """A widget of ``folded_html``: what a notebook cell displays in place of ``print(text)``."""
    view = w.HTML(LAB_CSS + folded_html(text, key_lines, title))
    view.add_class("kpanic-folded")
    return view
