"""The panic stepper: a thin view over a ``PanicSession``.

Buttons call the session (``step``, ``back``, ``run_to_end``, ``goto(-1)``); after each
move the view reads the session's record of the stage and shows it:

- the stage label (``kpanic-stage``) and a timeline slider over every recorded stage;
- one panel per CPU: an IF lamp (``kpanic-if-on`` lit / ``kpanic-if-off`` dark), what the CPU
  is doing, its symbolised RIP and its preempt count;
- what the stage did and why (``panic/describe.py``'s words, never parsed from printed text),
  the notifier chain with the notifier being called highlighted, the console as it grows (the
  lines the stage printed highlighted), and the stage graph.

Everything a test needs is state on the widget (``position``, ``stage_key``, ``if_flags``,
``graph_source``, ``current_node``, ``error`` ...), and every button is a method:

>>> st = stepper_for("sysrq-c", cmdline="panic=0")        # doctest: +SKIP
>>> st.step(); st.stage_key, st.if_flags                  # doctest: +SKIP
('TRIGGER', [True, True])
"""
from __future__ import annotations

import asyncio
import itertools
from typing import Any, List, Optional, Sequence, Tuple

import ipywidgets as w
import traitlets as t

from kpanic_lab.i18n import _
from kpanic_lab.panic import PanicSession
from kpanic_lab.panic import describe, report
from kpanic_lab.panic.trace import StageRecord
from kpanic_lab.viz._common import (IF_OFF, IF_ON, LAB_CSS, ViewError, describe_exception, error_html,
                                    error_widget, esc, guarded, pre)
from kpanic_lab.viz.stagegraph import BEFORE, current_node, layout_svg, stage_css, stage_digraph

CONSOLE_LINES = 40          # the console panel shows this many last lines
_SCOPES = itertools.count()  # each stepper's graph gets its own CSS scope


# ---------------------------------------------------------------------------- pure helpers
def notifier_rows(records: Sequence[StageRecord], position: int) -> List[Tuple[str, int, str, bool]]:
    """The notifier chain at ``position``: (name, priority, status, being_called) per call.

    A call is "being called" from its NOTIFIER_CALL stage up to and including its NOTIFIER_RET.
    """
    rows = []
    for j, rec in enumerate(records):
        if rec.key != "NOTIFIER_CALL" or rec.notifier is None:
            continue
        ret = next((r for r in records[j + 1:] if r.key == "NOTIFIER_RET"), None)
        k = ret.index if ret is not None else None
        if position < j:
            status = _("not called yet")
        elif k is None or position < k:
            status = _("running")
        else:
            status = _("returned {value}").format(
                value=describe.notify_name(ret.notifier.ret if ret and ret.notifier else None))
        rows.append((rec.notifier.name, rec.notifier.priority, status, j <= position and (k is None or position <= k)))
    return rows


def new_text(before: str, now: str) -> Tuple[str, str]:
    """(old, new): what ``now`` adds to ``before`` (all new when it does not extend it)."""
    return (before, now[len(before):]) if now.startswith(before) else ("", now)


def _lamp(on: bool) -> str:
    """A lamp: IF=1 green and "interrupts on", IF=0 red and "interrupts off" (never colour alone)."""
    colour = IF_ON if on else IF_OFF
    words = _("interrupts on") if on else _("interrupts off")
    return (f'<span style="white-space:nowrap"><span class="kpanic-lamp" style="color:{colour}; font-size:1.4em" '
            f'title="RFLAGS.IF = {int(on)}">&#9679;</span> <b style="color:{colour}">IF={int(on)}</b> '
            f'<span style="font-size:0.85em">{words}</span></span>')


# ---------------------------------------------------------------------------- the widget
class PanicStepper(w.VBox):
    """Step a panic forward and back, and see every CPU, the console and the chain."""

    position = t.Int(-1, help="the session's position: -1 before the trigger")
    stage_key = t.Unicode("", help="the current stage's key ('' before the trigger)")
    if_flags = t.List(t.Bool(), help="each CPU's RFLAGS.IF at the current stage")
    doing = t.List(t.Unicode(), help="what each CPU is doing, in words")
    symbols = t.List(t.Unicode(), help="each CPU's symbolised RIP")
    recorded = t.Int(0, help="how many stages the session has recorded")
    ended = t.Unicode("", help="how the run ended, once it has ('' before)")
    graph_source = t.Unicode("", help="the stage graph's dot source")
    current_node = t.Unicode("", help="the node marked current in the graph")
    notifier_current = t.Unicode("", help="the notifier being called ('' when none)")
    console_text = t.Unicode("", help="the console shown (since the trigger)")
    error = t.Unicode("", help="the last error, as one line ('' when none)")

    def __init__(self, session: Any, *, graph: bool = True, **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.session: Optional[PanicSession] = None
        self._draw_graph = graph
        self._syncing = False
        self._graph_scope = f"kpanic-graph-{next(_SCOPES)}"
        self._graph_layout: Tuple[Any, ...] = ()      # what the drawn SVG was laid out from
        problem = _session_problem(session)
        if problem:
            super().__init__([w.HTML(error_html(problem))], **kwargs)
            self.error = problem
            return
        self.session = getattr(session, "session", session)   # a KdumpRun steps its PanicSession
        self.kdump_run = session if session is not self.session else None
        self._build()
        super().__init__([w.HTML(LAB_CSS), self._bar, self._error_box, self._body], **kwargs)
        self.add_class("kpanic-stepper")
        self._start()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.stage_label = w.HTML("")
        self.stage_label.add_class("kpanic-stage")
        self.reset_button = w.Button(description=_("Reset"), icon="fast-backward",
                                     tooltip=_("back to before the trigger"))
        self.back_button = w.Button(description=_("Back"), icon="step-backward", tooltip=_("one stage back"))
        self.step_button = w.Button(description=_("Step"), icon="step-forward", tooltip=_("one stage forward"),
                                    button_style="primary")
        self.step_button.add_class("kpanic-step")
        self.back_button.add_class("kpanic-back")
        self.end_button = w.Button(description=_("Run to end"), icon="fast-forward",
                                     tooltip=_("record every stage"))
        for b, fn in ((self.reset_button, self.reset), (self.back_button, self.back),
                      (self.step_button, self.step), (self.end_button, self.run_to_end)):
            b.layout = w.Layout(width="auto")
            b.on_click(lambda _b, fn=fn: fn())
        self.slider = w.IntSlider(value=-1, min=-1, max=-1, description=_("timeline"), continuous_update=False,
                                  layout=w.Layout(width="auto", flex="1 1 auto", min_width="12em"))
        self.slider.observe(self._on_slider, "value")
        # the label keeps two lines' room, so the stepper below it never moves while stepping
        self.stage_label.layout = w.Layout(min_height="2.8em")
        self._bar = w.VBox([self.stage_label,
                            w.HBox([self.reset_button, self.back_button, self.step_button, self.end_button,
                                    self.slider], layout=w.Layout(flex_flow="row nowrap", width="100%"))])
        # the CPUs (lamps and where each is), what the stage did and why: one widget, so a click
        # sends one message for them all (a Step click must repaint in <= 100 ms)
        self.lamps: List[str] = []          # per CPU: its lamp's HTML (classes kpanic-if-on / -off)
        self.cpu_texts: List[str] = []      # per CPU: where it is, in HTML
        self._what, self._why = "", ""
        self.cpus_view = w.HTML("")
        self.cpus_view.add_class("kpanic-cpus")
        self.notifiers = w.HTML("")
        # the graph: laid out once per set of stages (self.graph), coloured per stage by CSS
        # (self.graph_style), so a click over recorded stages sends a few hundred bytes of style
        self.graph = w.HTML("", layout=w.Layout(overflow="auto", max_height="24em"))
        self.graph.add_class(self._graph_scope)
        self.graph.add_class("kpanic-stage-graph")
        self.graph_style = w.HTML("", layout=w.Layout(height="0px", overflow="hidden"))
        self.console = w.HTML("")
        self._console_box = w.VBox([w.HTML(_("<b>console</b> (since the trigger; this stage's lines highlighted)")),
                                    self.console])
        # one fixed layout: two columns that never wrap (the graph stays on the right at any width)
        left = w.VBox([w.HTML(f"<b>{_('CPUs')}</b>"), self.cpus_view,
                       w.HTML("<b>panic_notifier_list</b>"), self.notifiers]
                      + ([] if self._draw_graph else [self._console_box]),
                      layout=w.Layout(width="47%" if self._draw_graph else "100%", min_width="0"))
        # the console under the graph: the whole stepper fits a 1024x768 screen (tests/browser)
        right = w.VBox([self.graph_style, self.graph, self._console_box],
                       layout=w.Layout(width="53%", min_width="0"))
        self._body = w.HBox([left, right] if self._draw_graph else [left],
                            layout=w.Layout(flex_flow="row nowrap", align_items="flex-start", width="100%"))

    def _draw_cpus(self) -> None:
        rows = "".join(f'<tr><td style="white-space:nowrap; vertical-align:top; padding-right:0.6em">{lamp}</td>'
                       f'<td>{text}</td></tr>' for lamp, text in zip(self.lamps, self.cpu_texts))
        self.cpus_view.value = (f'<table style="border-collapse:collapse">{rows}</table>'
                                f'<div class="kpanic-what">{self._what}</div><div class="kpanic-why">{self._why}</div>')

    @property
    def what(self) -> str:
        """What the stage did (HTML)."""
        return self._what

    @property
    def why(self) -> str:
        """Why Linux does it (HTML)."""
        return self._why

    @guarded
    def _start(self) -> None:
        assert self.session is not None
        if not self.session.started:
            if self.kdump_run is not None:
                self.kdump_run.load()
            else:
                self.session.start()
        self.refresh()

    # ------------------------------------------------------------------ the buttons
    @guarded
    def step(self) -> Optional[StageRecord]:
        """One stage forward (the guest runs to it the first time)."""
        rec = self._s().step()
        self.refresh()
        return rec

    @guarded
    def back(self) -> Optional[StageRecord]:
        """One stage back (a snapshot restore); nothing before the trigger."""
        s = self._s()
        rec = s.back() if s.position >= 0 else None
        self.refresh()
        return rec

    @guarded
    def goto(self, index: int) -> Optional[StageRecord]:
        """Jump to a stage (-1: before the trigger); stages not yet recorded are run to."""
        rec = self._s().goto(index)
        self.refresh()
        return rec

    @guarded
    def run_to_end(self) -> None:
        """Record every stage to the end and show the last."""
        self._s().run_to_end()
        self.refresh()

    @guarded
    def reset(self) -> None:
        """Back to the prompt before the trigger (the recorded stages are kept)."""
        self._s().goto(-1)
        self.refresh()

    def _s(self) -> PanicSession:
        if self.session is None:
            raise ViewError(self.error or "no session")
        return self.session

    def _on_slider(self, change: Any) -> None:
        if not self._syncing and change["new"] != self.position:
            self.goto(change["new"])

    # ------------------------------------------------------------------ reading the session
    def refresh(self) -> None:
        """Read the session and redraw every part."""
        s = self._s()
        rec = s.current
        p = s.position
        self.recorded = len(s.records)
        self.ended = s.end or ""
        self._syncing = True
        try:
            self.slider.max = max(self.recorded - 1, -1)
            self.slider.value = p
        finally:
            self._syncing = False
        self.step_button.disabled = s.finished
        self.back_button.disabled = self.reset_button.disabled = p < 0
        self.end_button.disabled = s.finished
        self._show_cpus(rec)
        self._show_notifiers(p)
        self._show_console(p)
        self._show_graph(p)
        self._show_stage(rec)                   # the label last: when it changes, the view is complete
        self.position = p                       # last: observers see a complete view
        self.stage_key = rec.key if rec else ""

    def _show_stage(self, rec: Optional[StageRecord]) -> None:
        total = (_("{n} recorded").format(n=self.recorded)
                 + (_(", run ended: {end}").format(end=self.ended) if self.ended else ""))
        if rec is None:
            label = (_("<b>before the trigger</b> — the shell prompt") +
                     f" <span class='kpanic-aside'>({total})</span>")
            self._what = f"<b>{_('next:')}</b> <code>{esc(self._s().scenario.trigger)}</code>"
        else:
            where = _("(CPU {cpu}, at {symbol}; {total})").format(cpu=rec.cpu, symbol=esc(rec.symbol.split('/')[0]),
                                                                  total=total)
            label = (f"<b>{_('stage {index}').format(index=rec.index)}: {esc(rec.key)}</b> — "
                     f"{esc(describe.stage_title(rec))} <span class='kpanic-aside'>{where}</span>")
            what = describe.stage_detail(rec)
            self._what = f"<b>{_('what:')}</b> {esc(what)}" if what else ""
        self._why = f"<b>{_('why:')}</b> {esc(describe.stage_explanation(rec))}"
        self._draw_cpus()
        self.stage_label.value = label

    def _show_cpus(self, rec: Optional[StageRecord]) -> None:
        if rec is not None:
            rows = [(c.cpu, c.interrupts_enabled, describe.cpu_doing(c.doing), c.symbol, c.rip,
                     report.describe_preempt_count(c.preempt_count)) for c in rec.cpus]
        else:      # before the trigger: the machine as it stands at the prompt
            rows = [(v.index, v.interrupts_enabled, v.state + (_(" (user mode)") if v.cpl == 3 else ""), v.symbol,
                     v.rip, _("(not recorded before the trigger)")) for v in self._s().machine.cpu_views()]
        self.lamps, self.cpu_texts = [], []
        for cpu, on, doing, symbol, rip, preempt in rows:
            self.lamps.append(f'<span class="kpanic-if kpanic-if-cpu{cpu} kpanic-if-{"on" if on else "off"}">'
                              f'{_lamp(on)}</span>')
            mark = " &#9664;" if rec is not None and rec.cpu == cpu else ""
            self.cpu_texts.append(f"<b>CPU {cpu}</b>{mark} · {esc(doing)} · <code>{esc(symbol.split('/')[0])}</code> "
                                  f"<span class='kpanic-aside'>(rip <code>{rip:#018x}</code>)</span> · "
                                  f"{_('preempt')} {esc(preempt)}")
        self.if_flags = [r[1] for r in rows]
        self.doing = [r[2] for r in rows]
        self.symbols = [r[3] for r in rows]

    def _show_notifiers(self, p: int) -> None:
        rows = notifier_rows(self._s().records, p)
        if not rows:
            self.notifiers.value = f"<i>{_('no notifier called (yet)')}</i>"
            self.notifier_current = ""
            return
        html = ["<table style='border-collapse:collapse'>",
                f"<tr><th align=left>#</th><th align=left>{_('notifier')}</th><th>{_('priority')}</th>"
                f"<th align=left>{_('status')}</th></tr>"]
        for i, (name, prio, status, now) in enumerate(rows, 1):
            cls = ' class="kpanic-notifier-current"' if now else ""
            html.append(f"<tr{cls}><td>{i}</td><td><code>{esc(name)}</code></td><td align=center>{prio}</td>"
                        f"<td>{'&#9654; ' if now else ''}{esc(status)}</td></tr>")
        self.notifiers.value = "".join(html) + "</table>"
        self.notifier_current = next((r[0] for r in rows if r[3]), "")

    def _show_console(self, p: int) -> None:
        s = self._s()
        if p < 0:
            text = "\n".join(s.console_at(-1).splitlines()[-8:])
            old, new = text, ""
        else:
            now = report.console_since_trigger(s, p)
            before = report.console_since_trigger(s, p - 1) if p > 0 else ""
            old, new = new_text(before, now)
            text = now
        self.console_text = text
        lines_old = old.split("\n")
        keep_old = "\n".join(lines_old[-max(CONSOLE_LINES - new.count("\n"), 4):])
        body = esc(keep_old) + (f'<span class="kpanic-new">{esc(new)}</span>' if new else "")
        self.console.value = (f'<div class="kpanic-console" style="max-height:11em; overflow:auto; border:1px solid '
                              f'#ddd; padding:4px; background:#fafafa"><pre>{body}</pre></div>')

    def _draw_layout(self, graph: Any, lines: Any, end: Optional[str], key: Tuple[Any, ...], ids: List[str],
                     p: int) -> None:
        """Lay the graph out (deferred from a click) unless a newer layout was asked for meanwhile."""
        if key != self._graph_layout:
            return
        try:
            self.graph.value = layout_svg(graph, lines, end)
        except Exception as e:          # noqa: BLE001 - no dot: say so where the graph would be
            self._graph_layout = ()
            self.graph.value = error_html(f"the stage graph needs Graphviz's dot ({describe_exception(e)}); "
                                          "install it with: apt-get install graphviz")

    def _show_graph(self, p: int) -> None:
        s = self._s()
        tr = s.trace()
        lines = {str(r.index): r.notifier.name for r in tr.stages if r.notifier is not None}
        lines.update({str(r.index): f"CPU {r.args[0]}" for r in tr.stages if r.key == "CPU_STOPPED" and r.args})
        graph = describe.stage_graph(tr.stages)
        dot = stage_digraph(graph, p, lines, tr.end).source
        self.graph_source = dot
        self.current_node = current_node(dot) or ""
        if not self._draw_graph:
            return
        try:
            key = (tuple(n["id"] for n in graph.get("nodes", [])), tuple(sorted(lines.items())), tr.end)
            ids = [BEFORE] + [n["id"] for n in graph.get("nodes", [])]
            if key != self._graph_layout:       # a new stage recorded: lay the graph out again (one dot run)
                self._graph_layout = key
                loop = _running_loop()
                if loop is not None and self.graph.value:
                    # in a kernel: the rest of the view goes out first, the new node a moment later
                    loop.call_soon(self._draw_layout, graph, lines, tr.end, key, ids, p)
                else:
                    self.graph.value = layout_svg(graph, lines, tr.end)
            self.graph_style.value = stage_css(self._graph_scope, ids, p)
        except Exception as e:          # noqa: BLE001 - no dot: say so where the graph would be
            self._graph_layout = ()
            self.graph.value = error_html(f"the stage graph needs Graphviz's dot ({describe_exception(e)}); "
                                          "install it with: apt-get install graphviz") + pre(dot, max_height="12em")


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _session_problem(obj: Any) -> Optional[str]:
    """Why ``obj`` cannot be stepped, or None."""
    from kpanic_lab.machine import Machine

    target = getattr(obj, "session", obj)
    if isinstance(target, PanicSession):
        return None
    if isinstance(obj, Machine):
        panicked = "Kernel panic - not syncing" in obj.console_text
        state = ("it has panicked, but its stages were not recorded" if panicked else
                 "and this machine never panicked: there is nothing to step through")
        return (f"the stepper needs a PanicSession, which records each stage as the guest runs; {state}. "
                "Make one with PanicSession('sysrq-c') or stepper_for('sysrq-c').")
    return (f"the stepper needs a PanicSession (or a KdumpRun), not {type(obj).__name__}: "
            "use stepper_for('sysrq-c') or PanicStepper(PanicSession('sysrq-c'))")


def stepper_for(scenario: str = "sysrq-c", *, kdump: bool = False, graph: bool = True,
                **options: Any) -> PanicStepper:
    """Boot a session for ``scenario`` and return its stepper (a failure is shown in place).

    ``kdump=True`` boots with ``crashkernel=`` and loads a capture kernel (``KdumpRun``), so the
    run ends in the jump to it; ``options`` go to ``PanicSession`` (or ``KdumpRun``).
    """
    try:
        if kdump:
            from kpanic_lab.kdump.run import KdumpRun
            obj: Any = KdumpRun(scenario, **options)
        else:
            obj = PanicSession(scenario, **options)
    except Exception as e:              # noqa: BLE001 - an unknown scenario, a bad option: one line
        err = PanicStepper(None)
        err.error = describe_exception(e)
        err.children = (w.HTML(error_html(err.error)),)
        return err
    return PanicStepper(obj, graph=graph)
