"""The lab and real Linux side by side: two consoles aligned, the stage list, two shells' outputs.

Views only: the rows come from ``kpanic_lab.real.compare`` (which lines match), the real side from
``kpanic_lab.real.recorded`` (run here or recorded, and why).  Matched rows are tinted green; a run
of lines that only one kernel printed (most of real Linux's boot) is folded behind a toggle.

>>> from kpanic_lab.real.compare import Row
>>> html = pair_html([Row("[ 0.1] a", "[ 7.1] a", True)] + [Row(None, f"r{i}", False) for i in range(9)])
>>> "kpanic-match" in html and "<details" in html
True
"""
from __future__ import annotations

import html
from typing import List, Optional, Sequence, Tuple

import ipywidgets as w

from kpanic_lab.i18n import _
from kpanic_lab.panic.describe import STAGE_INFO
from kpanic_lab.real.compare import Row, StageLine, strip_timestamp
from kpanic_lab.real.recorded import RealSide, Transcript
from kpanic_lab.viz._common import LAB_CSS, esc

MATCH = "#e8f5e9"
# Two columns of equal width whatever the lines' lengths: a line too long for its half is cut with an
# ellipsis, and shows whole when the pointer rests on it (its title).
_CELL = ('style="font-family:monospace; font-size:0.8em; white-space:pre; overflow:hidden; '
         'text-overflow:ellipsis; padding:0 0.6em 0 0; vertical-align:top"')
_TABLE = '<table class="kpanic-real" style="border-collapse:collapse; width:100%; table-layout:fixed">'


def _cell(line: Optional[str]) -> str:
    if line is None:
        return f"<td {_CELL}></td>"
    return f'<td {_CELL} title="{html.escape(line, quote=True)}">{esc(line)}</td>'


def _th(text: str, width: str = "") -> str:
    size = f" width:{width};" if width else ""
    return f'<th style="text-align:left;{size}">{esc(text)}</th>'


def _row(r: Row) -> str:
    cls = ' class="kpanic-match" style="background:%s"' % MATCH if r.matched else ""
    return f"<tr{cls}>{_cell(r.lab)}{_cell(r.real)}</tr>"


def pair_html(rows: Sequence[Row], titles: Tuple[str, str] = ("", ""), fold: int = 6) -> str:
    """HTML: two columns, matched rows tinted; runs of more than ``fold`` unmatched rows folded."""
    head = f'<tr>{_th(titles[0] or _("the lab"))}{_th(titles[1] or _("real Linux"))}</tr>'
    out: List[str] = [_TABLE, head]
    run: List[Row] = []

    def flush() -> None:
        if len(run) > fold:
            only = sum(r.real is not None for r in run)
            label = _("{n} lines only one kernel printed ({real} real, {lab} lab): click to open").format(
                n=len(run), real=only, lab=len(run) - only)
            out.append(f'<tr><td colspan="2"><details><summary style="cursor:pointer; font-size:0.85em">'
                       f'{esc(label)}</summary>{_TABLE}{"".join(_row(r) for r in run)}</table></details></td></tr>')
        else:
            out.extend(_row(r) for r in run)
        run.clear()

    for r in rows:
        if r.matched:
            flush()
            out.append(_row(r))
        else:
            run.append(r)
    flush()
    out.append("</table>")
    return "".join(out)


def consoles_side_by_side(rows: Sequence[Row], titles: Tuple[str, str] = ("", ""), fold: int = 6) -> w.HTML:
    """A widget of :func:`pair_html`: what the notebook displays for two aligned consoles.

    The column titles default to "the lab" and "real Linux" in the student's language.
    """
    view = w.HTML(LAB_CSS + '<div style="max-height:40em; overflow:auto">' + pair_html(rows, titles, fold)
                  + "</div>")
    view.add_class("kpanic-real-consoles")
    return view


def stage_lines_html(stages: Sequence[StageLine]) -> str:
    """HTML: the lab's stages, each with the line that shows it in the lab's console and the real one."""
    head = _th("#", "2.5em") + _th(_("stage"), "17em") + _th(_("the lab's console")) + _th(_("real Linux's console"))
    out = [_TABLE, f"<tr>{head}</tr>"]
    for s in stages:
        info = STAGE_INFO.get(s.key)
        title = f"{s.key} ({_(info.title)})" if info else s.key
        if s.silent:
            lab = real = "—  " + _("prints nothing")
        else:
            lab = strip_timestamp(s.lab) if s.lab else "—"
            real = strip_timestamp(s.real) if s.real else "—"
        tint = "" if s.silent else ' style="background:%s"' % MATCH if s.lab and s.real else ""
        out.append(f"<tr{tint}><td {_CELL}>{s.index}</td><td {_CELL}>{esc(title)}</td>{_cell(lab)}{_cell(real)}</tr>")
    out.append("</table>")
    return "".join(out)


def stage_lines_view(stages: Sequence[StageLine]) -> w.HTML:
    """A widget of :func:`stage_lines_html`."""
    view = w.HTML(LAB_CSS + stage_lines_html(stages))
    view.add_class("kpanic-real-stages")
    return view


def source_html(source: str, note: str) -> str:
    """One line: whether the real side ran here or is recorded, and why."""
    label = _("run on this machine") if source == "run" else _("recorded")
    colour = "#2e7d32" if source == "run" else "#8d6e00"
    return f'<div class="kpanic-aside"><b style="color:{colour}">{esc(label)}</b>: {esc(note)}</div>'


def real_source(side: RealSide) -> w.HTML:
    """Where the real consoles come from (run here, or recorded and what to install)."""
    return w.HTML(LAB_CSS + source_html(side.source, side.note))


def transcripts_side_by_side(left: str, right: Transcript, left_title: str = "") -> w.HTML:
    """Two shells' transcripts in two columns: ``left`` the lab shell's text on the lab's dump, ``right`` a
    :class:`Transcript` on the real dump (its title says the tool and whether it ran here or is recorded)."""
    left_title = left_title or _("kpanic-lab crash on the lab's dump")
    pre = '<pre class="kpanic-console" style="max-height:36em; overflow:auto">{}</pre>'
    title = _("{tool} on the real dump ({how})").format(
        tool=right.tool, how=_("run on this machine") if right.source == "run" else _("recorded"))
    html = (f'{LAB_CSS}{source_html(right.source, right.note or right.tool)}'
            f'<table style="width:100%; table-layout:fixed"><tr><th>{esc(left_title)}</th><th>{esc(title)}</th></tr>'
            f'<tr><td style="vertical-align:top; overflow:auto">{pre.format(esc(left))}</td>'
            f'<td style="vertical-align:top; overflow:auto">{pre.format(esc(right.text()))}</td></tr></table>')
    return w.HTML(html)
