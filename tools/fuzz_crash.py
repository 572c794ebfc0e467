#!/usr/bin/env python3
"""The long fuzz of the crash shell (issue 10, item 9): mutated real dumps in all three formats,
each case under a memory limit (1 GiB of address space) and a time limit (10 s).

    .venv/bin/python tools/fuzz_crash.py                  # 10 minutes, seeds from 1,000,000
    .venv/bin/python tools/fuzz_crash.py --minutes 1 --start 0 --save

Prints the cases run, the failures (their recipes), the slowest case and the largest resident
size; --save writes each failure as a regression file in tests/hostile/regressions/, which
tests/hostile/test_fuzz.py replays.  Exit status 1 when a case failed.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.fuzzlib import (CASE_SECONDS, FAILING, MEMORY_LIMIT, Runner, apply,  # noqa: E402
                                   generate, make_corpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    ap.add_argument("--start", type=int, default=1_000_000, help="the first seed (CI runs from 0)")
    ap.add_argument("--save", action="store_true", help="write each failure to tests/hostile/regressions/")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fuzz-crash-"))
    t0 = time.monotonic()
    corpus = make_corpus(work)
    print(f"corpus: {', '.join(f'{k} {p.stat().st_size:,} B' for k, p in corpus.files.items())}; "
          f"{len(corpus.fields)} guest fields ({time.monotonic() - t0:.1f} s)", flush=True)
    runner = Runner(MEMORY_LIMIT, CASE_SECONDS)
    end = time.monotonic() + a.minutes * 60
    seed, n = a.start, 0
    statuses: collections.Counter = collections.Counter()
    failures = []
    slowest = (0.0, None)
    peak = 0
    try:
        while time.monotonic() < end:
            recipe = generate(seed, corpus)
            res = runner.run(apply(recipe, corpus, work / f"case.{recipe['fmt']}"), corpus.files["vmlinux"])
            statuses[res["status"]] += 1
            n += 1
            seed += 1
            if res.get("seconds", 0) > slowest[0]:
                slowest = (res["seconds"], recipe)
            peak = max(peak, res.get("peak_rss_mb", 0))
            if res["status"] in FAILING:
                failures.append((recipe, res))
                print(f"FAIL {json.dumps(recipe)}\n     {res['status']}: {res.get('detail', '')}", flush=True)
            if n % 200 == 0:
                print(f"  {n} cases, {dict(statuses)}", flush=True)
    finally:
        runner.close()
    print(f"{n} cases in {a.minutes:g} min (seeds {a.start}..{seed - 1}): {dict(statuses)}")
    print(f"slowest case {slowest[0]:.2f} s: {json.dumps(slowest[1])}")
    print(f"largest worker resident size {peak} MB (address-space limit: {MEMORY_LIMIT >> 20} MB above the "
          "worker's start)")
    if a.save:
        folder = ROOT / "tests" / "hostile" / "regressions"
        for recipe, res in failures:
            name = f"fuzz-{recipe['fmt']}-{recipe['kind']}-{recipe.get('seed', 'x')}.json"
            (folder / name).write_text(json.dumps({"found": f"tools/fuzz_crash.py: {res['status']}: "
                                                   f"{res.get('detail', '')}"[:300], "recipe": recipe}) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
