"""benchmarks/compare.py (make bench-compare): the before/after table's arithmetic and its refusals."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import compare  # noqa: E402


def test_each_side_is_the_mean_of_its_two_runs():
    first = {"boot (s)": (0.30, "s"), "only once": (1.0, "MiB"), "skipped": (None, "ms")}
    second = {"boot (s)": (0.50, "s"), "skipped": (None, "ms")}
    assert compare._mean(first, second) == {"boot (s)": (0.40, "s"), "only once": (1.0, "MiB"),
                                            "skipped": (None, "ms")}


def test_a_revision_that_is_not_a_commit_is_refused_in_one_line():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"), "no-such-rev-42"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "'no-such-rev-42' is not a commit" in r.stderr.strip().splitlines()[-1]
