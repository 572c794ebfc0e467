"""Benchmark of the views: how long a student waits for the stepper the first time.

    python benchmarks/bench_viz.py [--runs N] [--check]

Each run is a fresh Python process (cold imports, an empty graphviz cache), which does what the
dashboard notebook's one cell does, timing each part:

- import: ``from kpanic_lab.viz import stepper_for`` (ipywidgets, graphviz, the panic layer);
- build: ``PanicStepper(session)`` on a started session: every widget, the first refresh, and the
  stage graph drawn by Graphviz's ``dot``;
- display: the widget tree as a front-end receives it (``ipywidgets.embed.embed_data``: the state
  of every widget in the tree, serialised), without a Jupyter kernel;
- the target, import + build + display <= 2 s (issue 6), is measured on these three;
- for context, with no target here: the boot (``PanicSession.start()``, DESIGN's 0.3 s boot target
  plus the session's own setup), the first Step pressed (the guest runs to the trigger, the
  graph is redrawn), and importing the matplotlib views (``kpanic_lab.viz.memory_map``).

Medians over the runs.  Without the guest image everything is skipped with a message.  Prints a
table and writes benchmarks/results/bench_viz.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

# What one cold run does (in a child process); prints one JSON line of seconds.
CHILD = r"""
import json, time
t0 = time.perf_counter()
from kpanic_lab.viz import stepper_for
from kpanic_lab.viz.stepper import PanicStepper
t1 = time.perf_counter()
from kpanic_lab.panic import PanicSession
s = PanicSession("sysrq-c", cpus=2, cmdline="panic=0").start()
t2 = time.perf_counter()
st = PanicStepper(s)
t3 = time.perf_counter()
import ipywidgets.embed
state = ipywidgets.embed.embed_data(views=[st])
n = len(state["manager_state"]["state"])
t4 = time.perf_counter()
st.step()
t5 = time.perf_counter()
import kpanic_lab.viz.memory_map
t6 = time.perf_counter()
assert st.error == "" and st.stage_key == "TRIGGER", (st.error, st.stage_key)
print(json.dumps({"import": t1 - t0, "boot": t2 - t1, "build": t3 - t2, "display": t4 - t3,
                  "step": t5 - t4, "matplotlib_views": t6 - t5, "widgets": n}))
"""


def one_run() -> Dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=ROOT, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"the timed child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(runs: int) -> List[Result]:
    first = Result("import + build + display of the stepper", "s", 2.0,
                   measured_on="fresh process: import kpanic_lab.viz, PanicStepper(started session), "
                               "embed_data of its widget tree")
    parts = {k: Result(f"  of which {label}", "s", None, measured_on="the same runs") for k, label in
             (("import", "import kpanic_lab.viz + stepper"), ("build", "build (widgets, first refresh, dot)"),
              ("display", "display (widget tree state)"))}
    boot = Result("boot before it (PanicSession.start())", "s", None, measured_on="the same runs; context")
    step = Result("first Step pressed", "s", None, measured_on="the same runs; the guest runs to the trigger")
    mpl = Result("import of the matplotlib views", "s", None, measured_on="the same runs; after the stepper")
    cell = Result("the dashboard cell, cold (import + boot + build + display)", "s", None,
                  measured_on="the same runs; what a student waits for after 'run all'")
    results = [first, *parts.values(), boot, cell, step, mpl]
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return results
    widgets = 0
    for _ in range(runs):
        t = one_run()
        first.runs.append(t["import"] + t["build"] + t["display"])
        for k, r in parts.items():
            r.runs.append(t[k])
        boot.runs.append(t["boot"])
        step.runs.append(t["step"])
        mpl.runs.append(t["matplotlib_views"])
        cell.runs.append(t["import"] + t["boot"] + t["build"] + t["display"])
        widgets = int(t["widgets"])
    first.measured_on += f" ({widgets} widgets)"
    return results


def versions() -> Dict[str, object]:
    """The environment of the views, for the JSON file."""
    import graphviz
    import ipywidgets
    import matplotlib

    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True)
    return {"ipywidgets": ipywidgets.__version__, "matplotlib": matplotlib.__version__,
            "graphviz": graphviz.__version__, "dot": (dot.stderr or dot.stdout).strip()}


def main(argv: Optional[List[str]] = None) -> int:
    a = arg_parser(__doc__, runs_help="cold runs (the median is reported)").parse_args(argv)
    results = bench(a.runs)
    return report("bench_viz", results, a.check, env=versions())


if __name__ == "__main__":
    sys.exit(main())
