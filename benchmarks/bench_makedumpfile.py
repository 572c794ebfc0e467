"""Benchmark of makedumpfile against DESIGN.md's target, beside plain zstd and zlib.

    python benchmarks/bench_makedumpfile.py [--runs N] [--memory 256M] [--check]

One lab machine (2 CPUs) is booted and crashed with SysRq-c; its memory is written as an ELF
vmcore (what /proc/vmcore shows) to a temporary file.  Then, in the same run, each figure is the
median over ``--runs`` runs, in MB/s of guest RAM (RAM size / seconds):

- makedumpfile -d 31 -z  (target >= 300 MB/s): open the ELF vmcore, classify every page from
  struct page, copy and compress the kept ones, write a kdump-compressed file;
- makedumpfile -d 31 -c, -d 31 -l, -d 1 -z and -d 0 -z: the same with other levels and codecs;
- plain zstd (level 1) and plain zlib (level 1) of the same RAM bytes in one stream: what
  compressing everything would cost, without filtering.

Ratios to plain zstd are printed beside each figure; the sizes written are in the table too.
Writes benchmarks/results/bench_makedumpfile.json.  Without the guest image it says so and stops.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_MBS = 300.0


def median_time(fn: Callable[[], int], runs: int) -> Tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), size


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--check", action="store_true", help="exit 1 if makedumpfile -d 31 -z misses the target")
    a = ap.parse_args(argv)

    from kpanic_lab.guest import vmlinux_path
    if not vmlinux_path().is_file():
        print(f"skipped: no guest image at {vmlinux_path()} (make guest)")
        return 0
    import zstandard

    from kpanic_lab.formats import open_dump
    from kpanic_lab.kdump.livecore import write_vmcore_from_machine
    from kpanic_lab.kdump.makedumpfile import makedumpfile
    from kpanic_lab.panic import PanicSession

    s = PanicSession("sysrq-c", memory=a.memory).start()
    s.run_to_end()
    tmp = Path(tempfile.mkdtemp(prefix="bench_mdf_"))
    elf = tmp / "vmcore.elf"
    with open(elf, "wb") as f:
        write_vmcore_from_machine(s.machine, f)
    ram = s.machine.config.memory
    rows: Dict[str, Dict[str, float]] = {}

    def mdf(level: int, comp: str) -> Callable[[], int]:
        def run() -> int:
            out = tmp / "dumpfile"
            with open_dump(elf) as d, open(out, "wb") as f:
                makedumpfile(d, f, level, comp)
            return out.stat().st_size
        return run

    memory = s.machine.mem.array            # the same bytes the vmcore holds

    def plain_zstd() -> int:
        return len(zstandard.ZstdCompressor(level=1).compress(memory))

    def plain_zlib() -> int:
        return len(zlib.compress(memory, 1))

    cases = [("makedumpfile -d 31 -z", mdf(31, "zstd")), ("makedumpfile -d 31 -c", mdf(31, "zlib")),
             ("makedumpfile -d 31 -l", mdf(31, "lzo")), ("makedumpfile -d 1 -z", mdf(1, "zstd")),
             ("makedumpfile -d 0 -z", mdf(0, "zstd")), ("plain zstd -1 (all RAM)", plain_zstd),
             ("plain zlib -1 (all RAM)", plain_zlib)]
    for name, fn in cases:
        try:
            secs, size = median_time(fn, a.runs if "plain zlib" not in name else max(1, a.runs // 2))
        except Exception as e:          # a codec without its binding
            print(f"{name}: skipped ({e})")
            continue
        rows[name] = {"seconds": secs, "mb_per_s": ram / secs / 1e6, "bytes_written": size}
    base = rows.get("plain zstd -1 (all RAM)", {}).get("mb_per_s")
    print(f"guest RAM {ram >> 20} MiB, {a.runs} runs each, median; host {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':28} {'MB/s of RAM':>12} {'x plain zstd':>13} {'seconds':>9} {'bytes written':>14}")
    for name, r in rows.items():
        ratio = f"{r['mb_per_s'] / base:12.1f}x" if base else ""
        print(f"{name:28} {r['mb_per_s']:12.0f} {ratio:>13} {r['seconds']:9.3f} {int(r['bytes_written']):14d}")
    main_row = rows.get("makedumpfile -d 31 -z")
    ok = bool(main_row and main_row["mb_per_s"] >= TARGET_MBS)
    print(f"target: makedumpfile -d 31 -z >= {TARGET_MBS:.0f} MB/s of guest RAM: {'met' if ok else 'MISSED'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_makedumpfile.json").write_text(json.dumps(
        {"ram_bytes": ram, "runs": a.runs, "target_mb_per_s": TARGET_MBS, "met": ok, "results": rows,
         "measured_on": platform.platform()}, indent=2))
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return 1 if a.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
