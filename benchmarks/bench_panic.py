"""Benchmarks of the panic state machine against the targets in DESIGN.md.

    python benchmarks/bench_panic.py [--runs N] [--scenario NAME] [--check]

Each figure is a median:

- one stage forward, new: host seconds of ``PanicSession.step()`` when the stage has not been seen
  yet, so the guest runs to it and a delta snapshot is taken (target <= 50 ms); the median over every
  stage of every run;
- one stage forward, recorded: ``step()`` onto a stage already recorded, which restores its snapshot
  (target <= 50 ms);
- one stage back: ``back()`` from each stage to the one before it, a snapshot restore (target <= 50 ms);
- a whole SysRq-c run from boot: ``PanicSession("sysrq-c", cpus=2, cmdline="panic=0").start().run_to_end()``
  including the boot, a fresh session each run (target <= 0.5 s);
- for reading that last figure, its two halves with no target of their own here: ``start()`` (boot to
  the prompt; DESIGN's boot target is 0.3 s) and ``run_to_end()`` from the prompt.

Without the guest image (kpanic_lab/guest/images/vmlinux, or KPANIC_VMLINUX) everything is skipped
with a message.  Prints a table and writes benchmarks/results/bench_panic.json.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402
from kpanic_lab.guest import vmlinux_path  # noqa: E402
from kpanic_lab.panic import PanicSession  # noqa: E402


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- measurements
def bench(runs: int, scenario: str, cmdline: str) -> List[Result]:
    where = f"scenario {scenario}, 2 CPUs, 256 MiB, cmdline {cmdline!r}"
    new = Result("one stage forward (new stage)", "ms", 50.0,
                 measured_on=f"{where}; step() to a stage not yet seen, every stage of every run")
    recorded = Result("one stage forward (recorded stage)", "ms", 50.0,
                      measured_on=f"{where}; step() onto a recorded stage (snapshot restore)")
    back = Result("one stage back", "ms", 50.0, measured_on=f"{where}; back() from every stage")
    whole = Result(f"whole {scenario} run from boot", "s", 0.5,
                   measured_on=f"{where}; PanicSession(...).start().run_to_end(), fresh session per run")
    boot = Result("  of which start() (boot to prompt)", "s", None, measured_on="the same runs")
    rest = Result("  of which run_to_end() from the prompt", "s", None, measured_on="the same runs")
    results = [new, recorded, back, whole, boot, rest]
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return results

    worst: Dict[str, float] = {}
    for _ in range(runs):
        # the whole run, the way a notebook cell does it
        t0 = time.perf_counter()
        s = PanicSession(scenario, cpus=2, cmdline=cmdline).start()
        t1 = time.perf_counter()
        s.run_to_end()
        t2 = time.perf_counter()
        whole.runs.append(t2 - t0)
        boot.runs.append(t1 - t0)
        rest.runs.append(t2 - t1)

        # stage by stage on a fresh session: forward on new stages, then back, then forward again
        s = PanicSession(scenario, cpus=2, cmdline=cmdline).start()
        steps = []
        while not s.finished:
            steps.append(_timed(s.step) * 1e3)
        new.runs += steps
        n = len(s.records)
        backs = [_timed(s.back) * 1e3 for _ in range(n - 1)]          # from the last stage to the first
        back.runs += backs
        forwards = [_timed(s.step) * 1e3 for _ in range(n - 1)]      # and forward over recorded stages
        recorded.runs += forwards
        for name, xs in (("new", steps), ("back", backs), ("recorded", forwards)):
            worst[name] = max([worst.get(name, 0.0)] + xs)
    new.measured_on += f"; slowest {worst['new']:.0f} ms"
    back.measured_on += f"; slowest {worst['back']:.0f} ms"
    recorded.measured_on += f"; slowest {worst['recorded']:.0f} ms"
    return results


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__)
    ap.add_argument("--scenario", default="sysrq-c", help="the scenario to run (default sysrq-c)")
    ap.add_argument("--cmdline", default="panic=0", help="added to the kernel command line (default panic=0)")
    a = ap.parse_args(argv)
    if not vmlinux_path().is_file():
        print(f"note: no guest image at {vmlinux_path()}: the panic benchmarks are skipped (run `make guest`)",
              file=sys.stderr)
    results = bench(a.runs, a.scenario, a.cmdline)
    import unicorn

    return report("bench_panic", results, a.check, env={"unicorn": unicorn.__version__})


if __name__ == "__main__":
    sys.exit(main())
