"""The stage graph: a run's stages as a graphviz diagram, the current one marked.

The nodes and edges are the library's (``Trace.graph()``); this module only decides how
they look.  Stages snake through rows (left to right, then right to left), top to bottom;
a node "before" stands for the shell prompt before the trigger (position -1).

    past stages      filled pale blue
    the current one  filled amber, bold border      (attribute ``class="current"``)
    recorded ahead   dashed grey (a student stepped back: the run is known beyond here)

>>> g = {"nodes": [{"id": "0", "key": "TRIGGER", "label": "trigger"},
...                {"id": "1", "key": "ENTRY", "label": "panic() entered"}],
...      "edges": [{"from": "0", "to": "1"}]}
>>> d = stage_digraph(g, current=1)
>>> 'fillcolor="#ffb300"' in d.source and current_node(d.source)
'1'
"""
from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import Dict, List, Mapping, Optional

import graphviz

from kpanic_lab.viz._common import CURRENT, FUTURE, PAST

BEFORE = "before"            # the node for position -1
ROW = 4                      # stages per row


def _node_style(index: int, current: int) -> Dict[str, str]:
    if index == current:
        return {"fillcolor": CURRENT, "penwidth": "2.5", "style": "rounded,filled,bold", "class": "current"}
    if index < current:
        return {"fillcolor": PAST, "style": "rounded,filled", "class": "past"}
    return {"fillcolor": FUTURE, "style": "rounded,filled,dashed", "fontcolor": "#757575", "class": "future"}


def stage_digraph(graph: Mapping[str, List[Dict[str, str]]], current: int,
                  second_lines: Optional[Mapping[str, str]] = None, ended: Optional[str] = None,
                  row: int = ROW) -> graphviz.Digraph:
    """A graphviz Digraph of ``graph`` (``Trace.graph()``) with stage ``current`` marked.

    ``current`` is a stage index, -1 for before the trigger.  ``second_lines`` maps a node id
    to a short second line (a notifier's name, say).  ``ended`` labels the end of the run.
    The stages snake through rows of ``row`` (left to right, then right to left), so each
    arrow joins two neighbours; positions are pinned and drawn by neato (``layout=neato``).
    """
    lines = dict(second_lines or {})
    d = graphviz.Digraph("stages", graph_attr={"layout": "neato", "bgcolor": "transparent", "splines": "true",
                                               "outputorder": "edgesfirst"},
                         node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10", "width": "1.95",
                                    "height": "0.45", "margin": "0.04,0.02"},
                         edge_attr={"arrowsize": "0.6", "color": "#607d8b"})
    nodes = list(graph.get("nodes", []))
    if nodes and nodes[-1].get("key") == "END":
        ended = None                    # the run's own END stage says how it ended
    order = [BEFORE] + [n["id"] for n in nodes] + (["end"] if ended else [])

    def pos(node_id: str) -> str:
        k = order.index(node_id)
        r, c = divmod(k, row)
        if r % 2:
            c = row - 1 - c
        return f"{c * 2.25:.2f},{-r * 0.8:.2f}!"

    d.node(BEFORE, "shell prompt\n(before the trigger)", pos=pos(BEFORE), **_node_style(-1, current))
    for n in nodes:
        i = int(n["id"])
        label = "\n".join(textwrap.wrap(f"{i} · {n['label']}", 24))
        if lines.get(n["id"]):
            label += "\n" + lines[n["id"]]
        d.node(n["id"], label, tooltip=n.get("key", ""), pos=pos(n["id"]), **_node_style(i, current))
    if nodes:
        d.edge(BEFORE, nodes[0]["id"])
    for e in graph.get("edges", []):
        d.edge(e["from"], e["to"])
    if ended:
        d.node("end", f"end: {ended}", shape="plaintext", fontsize="10", fontcolor="#455a64", pos=pos("end"))
        if nodes:
            d.edge(nodes[-1]["id"], "end", style="dotted", arrowhead="none")
    return d


_CURRENT_RE = re.compile(r'^\s*"?([\w]+)"?\s*\[[^\]]*class=current', re.MULTILINE)


def current_node(source: str) -> Optional[str]:
    """The id of the node marked current in a dot source (for tests and the view's state)."""
    m = _CURRENT_RE.search(source)
    return m.group(1) if m else None


@lru_cache(maxsize=256)
def render_svg(source: str) -> str:
    """SVG text of a dot source (cached: stepping back and forth redraws nothing).

    Raises graphviz.ExecutableNotFound when Graphviz's ``dot`` is not installed.
    """
    svg = graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    svg = svg[svg.find("<svg"):]       # drop the XML prolog and DOCTYPE: it goes inside HTML
    # natural size, but never wider than its box (the viewBox keeps the proportions)
    return svg.replace("<svg ", '<svg style="max-width:100%; height:auto" ', 1)
