"""Benchmark of makedumpfile: the lab's beside the real one, and beside plain zstd and zlib.

    python benchmarks/bench_makedumpfile.py [--runs N] [--pair-runs N] [--sizes 256M,2G] [--check]

Part 1, the lab against the real tool (Debian's ``makedumpfile`` 1.7.2, when installed).  For each
guest size a lab machine (2 CPUs) is booted and crashed with SysRq-c and its memory written as the
ELF vmcore /proc/vmcore shows, which both tools are given as it is (its VMCOREINFO names
``init_uts_ns``, as Linux 6.1's does, so makedumpfile 1.7.2 takes it).  Each case runs both commands
as child processes, interleaved (real, lab, real, lab ...), under GNU time for the peak RSS; the
lab's time includes starting Python.  Both write a new file each run (an old one is removed first).
Figures: the lab's time over the real one's (target <= 1.0, the median of the per-pair ratios) and
the lab's peak RSS (target < 100 MiB), with both tools' seconds and MiB and whether the two outputs
are the same bytes in the notes, and the floors under the lab's time, run in the same
interleaving: a Python that does nothing (``python -c pass``), which no Python collector can go
below, and a Python that only imports numpy (OpenBLAS on one thread, as the lab loads it), which
no numpy collector can.  The lab's modules are byte-compiled first, as an installed package's
are (under PYTHONDONTWRITEBYTECODE=1 an uncompiled tree costs each run ~35 ms more).  A real
Linux 6.1 kdump vmcore (a ``-d 31`` dump from ``kpanic-lab real run sysrq-c --kdump``, named by
$KPANIC_LAB_REAL_VMCORE) is re-filtered by both the same way, at ``-c -d 1`` and ``-l -d 31`` (both
raise the level to the dump's 31 and keep what it kept); without it those figures are skipped.

Part 2, throughput in-process on the 256 MiB guest (DESIGN.md: >= 300 MB/s of guest RAM for
-d 31 -z), the median over ``--runs`` runs, beside plain zstd (level 1) and plain zlib (level 1)
of the same RAM bytes in one stream.

Prints a table and writes benchmarks/results/bench_makedumpfile.json.  Without the guest image
everything is skipped with a message; without makedumpfile or GNU time, the figures that need
them are.
"""
from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests.support.livecore
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

TARGET_MBS = 300.0
TARGET_PEAK_MIB = 100.0
PAIR_CASES = (("-c", "-d", "31"), ("-l", "-d", "31"), ("-c", "-d", "0"), ("-E", "-d", "31"))
REAL_CASES = (("-c", "-d", "1"), ("-l", "-d", "31"))      # a kdump-compressed input takes no -E
CASES = ("makedumpfile -d 31 -z", "makedumpfile -d 31 -c", "makedumpfile -d 31 -l", "makedumpfile -d 1 -z",
         "makedumpfile -d 0 -z", "plain zstd -1 (all RAM)", "plain zlib -1 (all RAM)")
MAIN, PLAIN_ZSTD = CASES[0], CASES[5]
GNU_TIME = "/usr/bin/time"
# what any Python collector starts with (numpy, OpenBLAS with one thread, as the lab's command loads it)
FLOOR_CMD = [sys.executable, "-c", "import os; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); import numpy"]
# what any Python program starts with
BARE_CMD = [sys.executable, "-c", "pass"]


def timed_runs(fn: Callable[[], int], runs: int) -> Tuple[List[float], int]:
    """Host seconds of each of ``runs`` calls of ``fn``, and the size the last one wrote."""
    times, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return times, size


def crashed_elf(memory: str, path: Path) -> int:
    """Boot a ``memory`` guest, crash it with SysRq-c, write its ELF vmcore; returns the RAM size."""
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.panic import PanicSession

    s = PanicSession("sysrq-c", memory=memory).start()
    s.run_to_end()
    with open(path, "wb") as f:
        write_vmcore_from_machine(s.machine, f, crashtime=1_700_000_000)
    ram = s.machine.config.memory
    del s
    gc.collect()
    return ram


def measure(cmd: List[str]) -> Tuple[float, Optional[float], Optional[float]]:
    """(wall seconds, peak RSS in MiB, CPU seconds user+sys) of one child process; the last two
    from GNU time when it is there (its own small process forks the command, so the peak is the
    command's, not this Python's)."""
    fd, name = tempfile.mkstemp(prefix="bench_mdf_rss_")
    os.close(fd)
    stats = Path(name)
    gnu = os.access(GNU_TIME, os.X_OK)
    full = [GNU_TIME, "-f", "%M %U %S", "-o", str(stats), *cmd] if gnu else cmd
    t = time.perf_counter()
    p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    secs = time.perf_counter() - t
    words = stats.read_text().split()[-3:] if gnu else []
    stats.unlink()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-400:]}")
    if len(words) == 3:
        return secs, int(words[0]) / 1024, float(words[1]) + float(words[2])
    return secs, None, None


def compare(size: str, inp: Path, tmp: Path, pair_runs: int, real_ok: bool,
            cases: Tuple[Tuple[str, ...], ...] = PAIR_CASES) -> Tuple[List[Result], Dict[str, object]]:
    """Part 1 for one input: lab/real time ratio and the lab's peak RSS for each case."""
    lab_cmd = [sys.executable, "-m", "kpanic_lab", "makedumpfile", "-f"]
    out: List[Result] = []
    extra: Dict[str, object] = {}
    for case in cases:
        name = f"{size} {' '.join(case)}"
        ratio = Result(f"{name}: lab/real time", "x", 1.0, "lower")
        peak = Result(f"{name}: lab peak RSS", "MiB", TARGET_PEAK_MIB, "lower")
        real_t, lab_t, real_p, lab_p, real_c, lab_c, floor_t, bare_t = [], [], [], [], [], [], [], []
        lab_out, real_out = tmp / "lab.out", tmp / "real.out"
        for _ in range(pair_runs):
            bare_t.append(measure(BARE_CMD)[0])
            floor_t.append(measure(FLOOR_CMD)[0])
            if real_ok:
                real_out.unlink(missing_ok=True)
                s, p, c = measure(["makedumpfile", *case, str(inp), str(real_out)])
                real_t.append(s)
                real_p += [p] if p is not None else []
                real_c += [c] if c is not None else []
            lab_out.unlink(missing_ok=True)
            s, p, c = measure(lab_cmd + [*case, str(inp), str(lab_out)])
            lab_t.append(s)
            lab_p += [p] if p is not None else []
            lab_c += [c] if c is not None else []
        same = real_ok and lab_out.read_bytes() == real_out.read_bytes()
        lab_size = lab_out.stat().st_size
        notes = (f"lab {statistics.median(lab_t):.2f} s" + (f", {max(lab_p):.0f} MiB" if lab_p else "")
                 + (f"; real {statistics.median(real_t):.2f} s" + (f", {max(real_p):.0f} MiB" if real_p else "")
                    + f"; same bytes: {'yes' if same else 'no'}" if real_ok else "")
                 + (f"; CPU lab {statistics.median(lab_c):.2f} s" if lab_c else "")
                 + (f", real {statistics.median(real_c):.2f} s" if real_c else "")
                 + f"; {lab_size:,} bytes; floors: python -c pass {statistics.median(bare_t):.3f} s, "
                 f"python + numpy {statistics.median(floor_t):.3f} s")
        if real_ok:
            ratio.runs = [a / b for a, b in zip(lab_t, real_t)]
            ratio.measured_on = notes
        else:
            ratio.skipped = "makedumpfile is not installed (apt-get install makedumpfile)"
        if lab_p:
            peak.runs = lab_p
            peak.measured_on = notes
        else:
            peak.skipped = f"needs GNU time at {GNU_TIME} (apt-get install time)"
        extra[name] = {"lab_seconds": lab_t, "real_seconds": real_t, "lab_peak_mib": lab_p, "real_peak_mib": real_p,
                       "lab_cpu_seconds": lab_c, "real_cpu_seconds": real_c, "floor_seconds": floor_t,
                       "bare_python_seconds": bare_t,
                       "same_bytes": same, "lab_bytes": lab_size,
                       "real_bytes": real_out.stat().st_size if real_ok else None}
        out += [ratio, peak]
        lab_out.unlink(missing_ok=True)
        real_out.unlink(missing_ok=True)
    return out, extra


def throughput(elf: Path, ram: int, runs: int, tmp: Path) -> Tuple[List[Result], Dict[str, int]]:
    """Part 2: MB/s of guest RAM for the lab's makedumpfile in-process, and plain zstd/zlib."""
    import numpy as np
    import zstandard

    from kpanic_lab.formats import open_dump
    from kpanic_lab.kdump.makedumpfile import makedumpfile
    from kpanic_lab.kdump.pagestream import PageReader

    results = [Result(name, "MB/s", TARGET_MBS if name == MAIN else None, "higher") for name in CASES]
    sizes: Dict[str, int] = {}

    def mdf(level: int, comp: str) -> Callable[[], int]:
        def run() -> int:
            out = tmp / "dumpfile"
            with open_dump(elf) as d, open(out, "wb") as f:
                makedumpfile(d, f, level, comp)
            return out.stat().st_size
        return run

    with open_dump(elf) as d:                   # the same RAM bytes, in one buffer
        reader = PageReader(d)
        pfns = np.nonzero(reader.ram(0, reader.max_mapnr))[0]
        arr = np.concatenate([reader.read(pfns[i:i + 4096]).reshape(-1) for i in range(0, len(pfns), 4096)])

    def plain_zstd() -> int:
        return len(zstandard.ZstdCompressor(level=1).compress(arr.data))

    def plain_zlib() -> int:
        return len(zlib.compress(arr.data, 1))

    cases = [mdf(31, "zstd"), mdf(31, "zlib"), mdf(31, "lzo"), mdf(1, "zstd"), mdf(0, "zstd"), plain_zstd, plain_zlib]
    for res, fn in zip(results, cases):
        try:
            times, sizes[res.name] = timed_runs(fn, runs if "plain zlib" not in res.name else max(1, runs // 2))
        except Exception as e:          # a codec without its binding
            res.skipped = str(e)
            continue
        res.runs = [ram / secs / 1e6 for secs in times]
    base = dict(zip(CASES, results))[PLAIN_ZSTD].value
    for res in results:
        if res.name in sizes:
            res.measured_on = (f"{ram >> 20} MiB of guest RAM (sysrq-c); {sizes[res.name]:,} bytes written"
                               + (f"; {res.value / base:.1f}x plain zstd" if base and res.value else ""))
    return results, sizes


def real_dump(tmp: Path, pair_runs: int, real_ok: bool, pairs_all: Dict[str, object]) -> List[Result]:
    """Part 1 on a real Linux 6.1 dump, when $KPANIC_LAB_REAL_VMCORE names one."""
    vmcore = os.environ.get("KPANIC_LAB_REAL_VMCORE")
    if vmcore and Path(vmcore).is_file():
        res, pairs = compare("real 6.1", Path(vmcore), tmp, pair_runs, real_ok, REAL_CASES)
        pairs_all.update(pairs)
        return res
    skipped = [Result(f"real 6.1 {' '.join(c)}: lab/real time", "x", 1.0, "lower") for c in REAL_CASES]
    skip_all(skipped, "no real dump: set KPANIC_LAB_REAL_VMCORE to one made by "
                      "`kpanic-lab real run sysrq-c --kdump`")
    return skipped


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__, runs_help="runs of each in-process throughput case (the median is reported)",
                    check_help="exit 1 if a figure misses its target")
    ap.add_argument("--pair-runs", type=int, default=3, help="interleaved runs of each lab/real pair")
    ap.add_argument("--sizes", default="256M,2G", help="guest memory sizes, comma-separated (the first also "
                    "feeds the throughput part)")
    ap.add_argument("--tmp", default=None, help="folder for the vmcores (several GiB for 2G; default: the system's)")
    a = ap.parse_args(argv)
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]

    missing = no_guest_image()
    if missing:
        skipped = [Result(name, "MB/s", None) for name in CASES]
        skip_all(skipped, missing)
        return report("bench_makedumpfile", skipped, a.check)
    real_ok = shutil.which("makedumpfile") is not None
    import compileall

    import kpanic_lab
    compileall.compile_dir(str(Path(kpanic_lab.__file__).parent), quiet=1)    # as an installed package is
    tmp = Path(tempfile.mkdtemp(prefix="bench_mdf_", dir=a.tmp))
    results: List[Result] = []
    pairs_all: Dict[str, object] = {}
    extra: Dict[str, object] = {"real_makedumpfile": "", "pairs": pairs_all}
    try:
        if real_ok:
            v = subprocess.run(["makedumpfile", "-v"], capture_output=True, timeout=60)
            extra["real_makedumpfile"] = (v.stdout + v.stderr).decode(errors="replace").splitlines()[0]
        part2: List[Result] = []
        for i, size in enumerate(sizes):
            inp = tmp / f"vmcore-{size}.elf"
            ram = crashed_elf(size, inp)
            res, pairs = compare(size, inp, tmp, a.pair_runs, real_ok)
            results += res
            pairs_all.update(pairs)
            if i == 0:
                part2, extra["bytes_written"] = throughput(inp, ram, a.runs, tmp)
            inp.unlink()
        results += real_dump(tmp, a.pair_runs, real_ok, pairs_all)
        results += part2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rc = report("bench_makedumpfile", results, a.check, extra=extra)
    main_result = next((r for r in results if r.name == MAIN), None)
    return 1 if a.check and (main_result is None or main_result.value is None) else rc


if __name__ == "__main__":
    sys.exit(main())
