"""A whole kdump cycle: boot with crashkernel=, kexec -p, SysRq-c, capture of 256 MiB at -d 31 -z, reboot.

Target (DESIGN.md): <= 2 s on 2 cores.  Reports the median of several cycles and where the time goes.

    python benchmarks/bench_kdump.py [--runs N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpanic_lab.guest import vmlinux_path  # noqa: E402
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not vmlinux_path().is_file():
        print(f"skipped: no guest image at {vmlinux_path()} (make guest)")
        return 0
    runs = [one() for _ in range(a.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{'benchmark':<48} {'measured':>10} {'target':>9} {'ratio':>6}  meets")
    print(f"{'whole kdump cycle, 256 MiB, -d 31 -z':<48} {med['total']:>8.3f} s {'<= 2 s':>9} "
          f"{med['total'] / TARGET:>6.2f}  {'yes' if med['total'] <= TARGET else 'NO'}")
    for k in ("boot+kexec", "crash+capture+reboot", "makedumpfile"):
        print(f"  of which {k:<38} {med[k]:>8.3f} s")
    print(f"  vmcore size: {int(med['vmcore_bytes']):,} bytes; {a.runs} runs: "
          + ", ".join(f"{r['total']:.3f}" for r in runs))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_kdump.json").write_text(json.dumps({"median": med, "runs": runs, "target_s": TARGET}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
