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

The notes under the table give, for each, the bytes written and its speed as a multiple of plain
zstd's.  Prints a table and writes benchmarks/results/bench_makedumpfile.json (sizes under
"bytes_written").  Without the guest image everything is skipped with a message.
"""
from __future__ import annotations

import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

TARGET_MBS = 300.0
CASES = ("makedumpfile -d 31 -z", "makedumpfile -d 31 -c", "makedumpfile -d 31 -l", "makedumpfile -d 1 -z",
         "makedumpfile -d 0 -z", "plain zstd -1 (all RAM)", "plain zlib -1 (all RAM)")
MAIN, PLAIN_ZSTD = CASES[0], CASES[5]


def timed_runs(fn: Callable[[], int], runs: int) -> Tuple[List[float], int]:
    """Host seconds of each of ``runs`` calls of ``fn``, and the size the last one wrote."""
    times, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return times, size


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__, runs_help="runs of each (the median is reported)",
                    check_help="exit 1 if makedumpfile -d 31 -z misses the target")
    ap.add_argument("--memory", default="256M")
    a = ap.parse_args(argv)

    results = [Result(name, "MB/s", TARGET_MBS if name == MAIN else None, "higher") for name in CASES]
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return report("bench_makedumpfile", results, a.check)
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
    sizes: Dict[str, int] = {}

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

    cases = [mdf(31, "zstd"), mdf(31, "zlib"), mdf(31, "lzo"), mdf(1, "zstd"), mdf(0, "zstd"), plain_zstd,
             plain_zlib]
    for res, fn in zip(results, cases):
        try:
            times, sizes[res.name] = timed_runs(fn, a.runs if "plain zlib" not in res.name else max(1, a.runs // 2))
        except Exception as e:          # a codec without its binding
            res.skipped = str(e)
            continue
        res.runs = [ram / secs / 1e6 for secs in times]
    base = dict(zip(CASES, results))[PLAIN_ZSTD].value
    for res in results:
        if res.name in sizes:
            res.measured_on = (f"{ram >> 20} MiB of guest RAM (sysrq-c); {sizes[res.name]:,} bytes written"
                               + (f"; {res.value / base:.1f}x plain zstd" if base and res.value else ""))
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    rc = report("bench_makedumpfile", results, a.check, extra={"ram_bytes": ram, "bytes_written": sizes})
    return 1 if a.check and results[0].value is None else rc    # as before: -d 31 -z not running is a miss


if __name__ == "__main__":
    sys.exit(main())
