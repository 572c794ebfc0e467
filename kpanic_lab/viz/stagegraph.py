"""The stage graph: a run's stages as a graphviz diagram, the current one marked.

The nodes, their words and the edges are the library's (``describe.stage_graph()``); this
module only decides how they look.  Stages snake through rows (left to right, then right to
left), top to bottom; a node "before" stands for the shell prompt before the trigger
(position -1).

    past stages      filled pale blue
    the current one  filled amber, bold border      (attribute ``class="current"``)
    recorded ahead   dashed grey (a student stepped back: the run is known beyond here)

Stepping must feel live, so a view lays the graph out once per set of nodes
(``layout_svg``: one ``dot`` run, cached) and marks the current stage with a few CSS rules
(``stage_css``) instead of running ``dot`` again for every click.

>>> g = {"nodes": [{"id": "0", "key": "TRIGGER", "label": "trigger"},
...                {"id": "1", "key": "ENTRY", "label": "panic() entered"}],
...      "edges": [{"from": "0", "to": "1"}]}
>>> d = stage_digraph(g, current=1)
>>> 'fillcolor="#ffb300"' in d.source and current_node(d.source)
'1'
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, List, Mapping, Optional

import graphviz

from kpanic_lab.i18n import _
from kpanic_lab.viz._common import CURRENT, FUTURE, PAST
from kpanic_lab.viz.cjk import GRAPH_FONT, wrap_label

BEFORE = "before"            # the node for position -1
ROW = 3                      # stages per row: the graph stays narrow enough for half a 1024 px screen
FONT_PT = 10                 # node text; drawn at natural size it is 13.3 px (1 pt = 4/3 px)
EM_PX = 14                   # an HTML widget's em in JupyterLab (--jp-content-font-size1): SVG sizes in em
NODE_CLASS = "kpanic_n_"     # + node id: the class of a node's <g> in the SVG (no '-': dot escapes it)


def _node_style(index: int, current: int) -> Dict[str, str]:
    if index == current:
        return {"fillcolor": CURRENT, "penwidth": "2.5", "style": "rounded,filled,bold", "class": "current"}
    if index < current:
        return {"fillcolor": PAST, "style": "rounded,filled", "class": "past"}
    return {"fillcolor": FUTURE, "style": "rounded,filled,dashed", "fontcolor": "#757575", "class": "future"}


def stage_digraph(graph: Mapping[str, List[Dict[str, str]]], current: int,
                  second_lines: Optional[Mapping[str, str]] = None, ended: Optional[str] = None,
                  row: int = ROW) -> graphviz.Digraph:
    """A graphviz Digraph of ``graph`` (``describe.stage_graph()``) with stage ``current`` marked.

    ``current`` is a stage index, -1 for before the trigger.  ``second_lines`` maps a node id
    to a short second line (a notifier's name, say).  ``ended`` labels the end of the run.
    The stages snake through rows of ``row`` (left to right, then right to left), so each
    arrow joins two neighbours; positions are pinned and drawn by neato (``layout=neato``).
    """
    return _digraph(graph, current, second_lines, ended, row)


def _digraph(graph: Mapping[str, List[Dict[str, str]]], current: Optional[int],
             second_lines: Optional[Mapping[str, str]], ended: Optional[str], row: int) -> graphviz.Digraph:
    """The graph; ``current=None`` draws every node plain (``layout_svg``: CSS colours it)."""
    lines = dict(second_lines or {})
    d = graphviz.Digraph("stages", graph_attr={"layout": "neato", "bgcolor": "transparent", "splines": "true",
                                               "outputorder": "edgesfirst"},
                         node_attr={"shape": "box", "fontname": GRAPH_FONT, "fontsize": str(FONT_PT),
                                    "width": "1.25", "height": "0.42", "margin": "0.04,0.02"},
                         edge_attr={"arrowsize": "0.6", "color": "#607d8b"})

    def style(node_id: str, index: int) -> Dict[str, str]:
        if current is None:
            return {"style": "rounded,filled", "fillcolor": "#ffffff", "class": NODE_CLASS + node_id}
        return _node_style(index, current)
    nodes = list(graph.get("nodes", []))
    if nodes and nodes[-1].get("key") == "END":
        ended = None                    # the run's own END stage says how it ended
    order = [BEFORE] + [n["id"] for n in nodes] + (["end"] if ended else [])

    def pos(node_id: str) -> str:
        k = order.index(node_id)
        r, c = divmod(k, row)
        if r % 2:
            c = row - 1 - c
        return f"{c * 1.5:.2f},{-r * 0.8:.2f}!"

    d.node(BEFORE, _("shell prompt\n(before the trigger)"), pos=pos(BEFORE), **style(BEFORE, -1))
    for n in nodes:
        i = int(n["id"])
        label = "\n".join(wrap_label(f"{i} · {n['label']}", 18))
        if lines.get(n["id"]):
            label += "\n" + "\n".join(_wrap_name(lines[n["id"]], 16))
        d.node(n["id"], label, tooltip=n.get("key", ""), pos=pos(n["id"]), **style(n["id"], i))
    if nodes:
        d.edge(BEFORE, nodes[0]["id"])
    for e in graph.get("edges", []):
        d.edge(e["from"], e["to"])
    if ended:
        d.node("end", _("end: {how}").format(how=ended), shape="plaintext", fontsize="10", fontcolor="#455a64", pos=pos("end"))
        if nodes:
            d.edge(nodes[-1]["id"], "end", style="dotted", arrowhead="none")
    return d


def _wrap_name(name: str, width: int) -> List[str]:
    """A C name in lines of at most ``width``, broken after an underscore where one is near.

    >>> _wrap_name("led_trigger_panic_notifier", 18)
    ['led_trigger_', 'panic_notifier']
    """
    out: List[str] = []
    while len(name) > width:
        cut = name.rfind("_", 0, width) + 1 or width
        out.append(name[:cut])
        name = name[cut:]
    return out + [name]


_CURRENT_RE = re.compile(r'^\s*"?([\w]+)"?\s*\[[^\]]*class=current', re.MULTILINE)


def current_node(source: str) -> Optional[str]:
    """The id of the node marked current in a dot source (for tests and the view's state)."""
    m = _CURRENT_RE.search(source)
    return m.group(1) if m else None


def layout_svg(graph: Mapping[str, List[Dict[str, str]]], second_lines: Optional[Mapping[str, str]] = None,
               ended: Optional[str] = None, row: int = ROW) -> str:
    """The graph laid out and drawn once, every node plain: ``stage_css`` colours it per stage.

    Cached on the dot source, so stepping over stages already recorded never runs ``dot``. The
    SVG is sized in ``em`` (at natural size for a 14 px em), so it never shrinks as the graph
    grows, and it scales with JupyterLab's font size and presentation mode.
    """
    return _svg_in_em(render_svg(_digraph(graph, None, second_lines, ended, row).source))


_SIZE_RE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def _svg_in_em(svg: str) -> str:
    def em(m: "re.Match[str]") -> str:
        w, h = (float(x) * 4 / 3 / EM_PX for x in m.groups())
        return f'<svg width="{w:.2f}em" height="{h:.2f}em"'
    return _SIZE_RE.sub(em, svg.replace('style="max-width:100%; height:auto" ', ""), count=1)


def stage_css(scope: str, node_ids: List[str], current: int) -> str:
    """The <style> that marks stage ``current`` in a ``layout_svg`` drawn inside ``.{scope}``.

    Past stages pale blue, the current one amber with a bold border, stages recorded ahead
    dashed grey: the same look ``stage_digraph`` gives with dot attributes.

    >>> "#ffb300" in stage_css("g1", ["before", "0", "1"], 0)
    True
    """
    rules = []
    for node_id in node_ids:
        index = -1 if node_id == BEFORE else int(node_id)
        sel = f".{scope} .{NODE_CLASS}{node_id}"
        if index == current:
            rules.append(f"{sel} path, {sel} polygon {{fill:{CURRENT}; stroke-width:2.5}}")
        elif index < current:
            rules.append(f"{sel} path, {sel} polygon {{fill:{PAST}}}")
        else:
            rules.append(f"{sel} path, {sel} polygon {{fill:{FUTURE}; stroke-dasharray:5,2}} "
                         f"{sel} text {{fill:#757575}}")
    return "<style>" + "\n".join(rules) + "</style>"


@lru_cache(maxsize=256)
def render_svg(source: str) -> str:
    """SVG text of a dot source (cached: stepping back and forth redraws nothing).

    Raises graphviz.ExecutableNotFound when Graphviz's ``dot`` is not installed.
    """
    svg = graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    svg = svg[svg.find("<svg"):]       # drop the XML prolog and DOCTYPE: it goes inside HTML
    # natural size, but never wider than its box (the viewBox keeps the proportions)
    return svg.replace("<svg ", '<svg style="max-width:100%; height:auto" ', 1)
