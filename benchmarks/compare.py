"""Before and after in one run: every benchmark on an older commit and on this tree, side by side.

    python benchmarks/compare.py REV [NAME ...] [--skip NAME,...]

Checks REV out into a temporary git worktree and runs each ``bench_NAME.py`` that both sides have
there and here, benchmark by benchmark in the order before, after, after, before (so a drift in the
machine's load or a warm cache favours neither side), each side importing its own ``kpanic_lab``.
Then prints every figure, the mean of each side's two medians, with after/before.  A refactor should leave every ratio near 1.0 (timings on a shared machine
move by +-10 %).  ``hub`` and ``step_click`` (a class of students, a browser) are skipped unless named.

    make bench-compare BASE=REV       # the same
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT  # noqa: E402

from kpanic_lab.text import table  # noqa: E402

SLOW = ("hub", "step_click")


def run_bench(tree: Path, name: str) -> Tuple[Dict[str, Tuple[Optional[float], str]], str]:
    """Run ``tree``'s bench_NAME.py with ``tree`` first on the path: its figures, or why none."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = tree / "benchmarks" / "results" / f"bench_{name}.json"
    out.unlink(missing_ok=True)
    r = subprocess.run([sys.executable, str(tree / "benchmarks" / f"bench_{name}.py")], cwd=tree, env=env,
                       capture_output=True, text=True, timeout=3600)
    if not out.is_file():
        return {}, f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-200:]}"
    doc = json.loads(out.read_text())
    return {x["name"]: (x.get("median"), x.get("unit", "")) for x in doc["results"]}, ""


def _mean(x: Dict[str, Tuple[Optional[float], str]],
          y: Dict[str, Tuple[Optional[float], str]]) -> Dict[str, Tuple[Optional[float], str]]:
    """Each figure's mean over two runs (the one run's value when the other has none)."""
    out = {}
    for k, (v, unit) in x.items():
        w = y.get(k, (None, unit))[0]
        vals = [a for a in (v, w) if a is not None]
        out[k] = (sum(vals) / len(vals) if vals else None, unit)
    return out


def compare(base: str, names: List[str]) -> str:
    rows: List[List[str]] = []
    with tempfile.TemporaryDirectory(prefix="kpanic-bench-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), base], check=True)
        try:
            for name in names:
                if not (tree / "benchmarks" / f"bench_{name}.py").is_file():
                    rows.append([name, "(not in " + base + ")", "", "", ""])
                    continue
                print(f"== {name}: {base}, then this tree", file=sys.stderr, flush=True)
                b1, why_b = run_bench(tree, name)
                a1, why_a = run_bench(ROOT, name)
                a2, _ = run_bench(ROOT, name)
                b2, _ = run_bench(tree, name)
                before, after = _mean(b1, b2), _mean(a1, a2)
                for why in (why_b, why_a):
                    if why:
                        rows.append([name, why, "", "", ""])
                for figure, (new, unit) in after.items():
                    old = before.get(figure, (None, ""))[0]
                    ratio = f"{new / old:.2f}" if old and new is not None else "-"
                    rows.append([name, f"{figure} ({unit})", "-" if old is None else f"{old:.4g}",
                                 "-" if new is None else f"{new:.4g}", ratio])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    return table(rows, ["benchmark", "figure", "before", "after", "after/before"])


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the commit to compare with (e.g. main~5, a tag)")
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: every bench_*.py but hub, step_click)")
    args = ap.parse_args(argv)
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", args.rev + "^{commit}"],
                      capture_output=True).returncode:
        ap.error(f"{args.rev!r} is not a commit in {ROOT}")
    names = args.names or sorted(p.stem[len("bench_"):] for p in (ROOT / "benchmarks").glob("bench_*.py")
                                 if p.stem[len("bench_"):] not in SLOW)
    print(compare(args.rev, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
