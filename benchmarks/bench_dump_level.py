"""The dump-level control (notebooks/06): how long a level change takes once the dump is open.

    python benchmarks/bench_dump_level.py [--runs N] [--check]

One kdump cycle of a 256 MiB guest saved unfiltered (``-E -d 0``), opened in ``PageKindView`` with
zstd (the pages are classified, each page's stored size computed and one real makedumpfile run
calibrates the sizes: the open is reported, with no target).  Then ``--runs`` level changes, each
to a different level (0..31 in a fixed shuffled order), timed from the call to every widget
updated (page map PNG, counts, vmcore size).  Target (issue 12): <= 150 ms median.  Without the
guest image everything is skipped with a message.  Writes benchmarks/results/bench_dump_level.json.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

TARGET = 0.150


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__, runs_help="level changes (the median is reported; default 20)")
    ap.set_defaults(runs=20)
    a = ap.parse_args(argv)
    change = Result("dump-level change (PageKindView.set_level)", "s", TARGET,
                    measured_on="256 MiB guest, -E -d 0 vmcore, zstd sizes; a different level each change")
    opened = Result("  opening the control (classify, sizes, one makedumpfile run)", "s", None,
                    measured_on="once; context")
    results = [change, opened]
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return report("bench_dump_level", results, a.check)
    from kpanic_lab.kdump.run import KdumpRun
    from kpanic_lab.viz.pagekinds import PageKindView

    with tempfile.TemporaryDirectory() as d:
        r = KdumpRun("sysrq-c", memory="256M", crash_dir=d,
                     kdump_conf="core_collector makedumpfile -E -d 0\n").run()
        assert r.outcome is not None and r.outcome.vmcore is not None, r.end
        t0 = time.perf_counter()
        view = PageKindView(r, level=31, compression="zstd")
        opened.runs.append(time.perf_counter() - t0)
        assert view.error == "", view.error
        levels = list(range(32))
        random.Random(12).shuffle(levels)
        for i in range(max(a.runs, 1)):
            level = levels[i % 32] if levels[i % 32] != view.dump_level else (levels[i % 32] + 1) % 32
            t0 = time.perf_counter()
            view.set_level(level)
            change.runs.append(time.perf_counter() - t0)
            assert view.error == "" and view.vmcore_bytes > 0, (level, view.error)
        view.dump.close()
    return report("bench_dump_level", results, a.check)


if __name__ == "__main__":
    sys.exit(main())
