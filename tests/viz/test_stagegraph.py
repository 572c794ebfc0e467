"""The stage graph the stepper draws, from a graph given as data (no session)."""
from __future__ import annotations

from kpanic_lab.viz.stagegraph import current_node, stage_digraph


def test_stage_digraph_pure():
    g = {"nodes": [{"id": str(i), "key": k, "label": k.lower()} for i, k in enumerate(["TRIGGER", "ENTRY", "END"])],
         "edges": [{"from": "0", "to": "1"}, {"from": "1", "to": "2"}]}
    src = stage_digraph(g, 1, {"1": "pvpanic"}, "hang").source
    assert current_node(src) == "1" and "pvpanic" in src and "class=past" in src and "class=future" in src
    assert "end: hang" not in src                       # the END stage is the end
    kexec = stage_digraph({"nodes": g["nodes"][:2], "edges": g["edges"][:1]}, 0, None, "kexec").source
    assert "end: kexec" in kexec and current_node(kexec) == "0"
