"""A whole kdump cycle: boot with crashkernel=, kexec -p, SysRq-c, capture of 256 MiB at -d 31 -z, reboot.

    python benchmarks/bench_kdump.py [--runs N] [--check]

Target (DESIGN.md): <= 2 s on 2 cores.  Reports the median of several cycles and where the time
goes (boot + kexec load, crash + capture + reboot, and makedumpfile inside the capture).  Without
the guest image everything is skipped with a message.  Prints a table and writes
benchmarks/results/bench_kdump.json (each cycle's figures under "cycles").
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402
from kpanic_lab.kdump.run import KdumpRun  # noqa: E402

CONF = "path /var/crash\ncore_collector makedumpfile -z -d 31\n"
TARGET = 2.0


def one() -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run = KdumpRun("sysrq-c", cpus=2, memory="256M", kdump_conf=CONF, crash_dir=d)
        run.load()
        t1 = time.perf_counter()
        r = run.run()
        t2 = time.perf_counter()
        assert r.outcome is not None and r.outcome.status == "saved", r.end
        return {"total": t2 - t0, "boot+kexec": t1 - t0, "crash+capture+reboot": t2 - t1,
                "makedumpfile": r.outcome.result.seconds, "vmcore_bytes": r.outcome.vmcore.stat().st_size}


def main(argv: Optional[List[str]] = None) -> int:
    a = arg_parser(__doc__, runs_help="kdump cycles (the median is reported)",
                   check_help="exit 1 when the cycle misses its target").parse_args(argv)
    whole = Result("whole kdump cycle, 256 MiB, -d 31 -z", "s", TARGET,
                   measured_on="sysrq-c, 2 CPUs, 256 MiB, core_collector makedumpfile -z -d 31; "
                               "KdumpRun(...).load() then run() until the vmcore is saved, a fresh run each cycle")
    parts = {k: Result(f"  of which {k}", "s", None, measured_on="the same cycles")
             for k in ("boot+kexec", "crash+capture+reboot", "makedumpfile")}
    results = [whole, *parts.values()]
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return report("bench_kdump", results, a.check)
    cycles = [one() for _ in range(a.runs)]
    whole.runs = [c["total"] for c in cycles]
    for k, r in parts.items():
        r.runs = [c[k] for c in cycles]
    whole.measured_on += f"; vmcore {int(statistics.median(c['vmcore_bytes'] for c in cycles)):,} bytes"
    return report("bench_kdump", results, a.check, extra={"cycles": cycles})


if __name__ == "__main__":
    sys.exit(main())
