"""Benchmarks of the crash-like shell against the target in DESIGN.md / issue 5.

    python benchmarks/bench_crash.py [--runs N] [--check]

Each figure is a median over runs:

- open a 256 MiB kdump-compressed vmcore and run ``bt -a``, ``log``, ``ps`` (target <= 0.5 s):
  ``CrashSession.open(vmcore)`` then the three commands, text included, with every cache of the
  vmlinux (symbols, DWARF types, lines) emptied first, as in a new process (Python's own
  imports are not counted: they are the same for any command);
- the same with the caches kept (a second dump of the same kernel in one notebook);
- the same three commands on the live panicked machine (``CrashSession(LiveTarget(machine))``);
- for context, no target: a fresh ``kpanic-lab crash VMCORE`` process running the three
  commands from stdin, interpreter start and imports included.

The vmcore is made once per run of this script from a sysrq-c machine (2 CPUs, 256 MiB):
an ELF vmcore of all of RAM, then ``makedumpfile -d 31 -z`` as the capture kernel runs it.
Prints a table and writes benchmarks/results/bench_crash.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from kpanic_lab.guest import vmlinux_path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
COMMANDS = ("bt -a", "log", "ps")


@dataclass
class Result:
    name: str
    unit: str
    target: Optional[float]
    runs: List[float] = field(default_factory=list)
    measured_on: str = ""
    skipped: Optional[str] = None

    @property
    def value(self) -> Optional[float]:
        return statistics.median(self.runs) if self.runs else None

    @property
    def ratio(self) -> Optional[float]:
        return None if self.value is None or self.target is None else self.value / self.target

    @property
    def meets(self) -> Optional[bool]:
        return None if self.ratio is None else self.ratio <= 1.0


def forget_debug_info() -> None:
    """Empty every per-image cache, so the next open parses the vmlinux again."""
    from kpanic_lab.analysis.lines import LineTable
    from kpanic_lab.analysis.symbols import SymbolTable
    from kpanic_lab.analysis.typeindex import TypeIndex
    from kpanic_lab.guest import image

    image._open_cached.cache_clear()
    for cls in (TypeIndex, SymbolTable, LineTable):
        cls._instances.clear()


def make_vmcore(directory: Path) -> Path:
    from kpanic_lab.formats import open_dump
    from kpanic_lab.kdump.livecore import write_vmcore_from_machine
    from kpanic_lab.kdump.makedumpfile import makedumpfile
    from kpanic_lab.panic import PanicSession

    s = PanicSession("sysrq-c", cpus=2, memory="256M").start()
    s.run_to_end()
    elf = directory / "vmcore.elf"
    with open(elf, "wb") as f:
        write_vmcore_from_machine(s.machine, f)
    out = directory / "vmcore"
    with open_dump(elf) as d, open(out, "wb") as f:
        makedumpfile(d, f, dump_level=31, compression="zstd")
    elf.unlink()
    return out


def run_commands(session) -> int:  # type: ignore[no-untyped-def]
    n = 0
    for c in COMMANDS:
        text = session.run(c)
        assert text and not text.startswith(c.split()[0] + ":"), text   # no "bt: ..." error
        n += len(text)
    return n


def bench(runs: int) -> List[Result]:
    cold = Result("open a 256 MiB kdump vmcore + bt -a, log, ps (cold)", "s", 0.5)
    warm = Result("  the same, vmlinux caches kept", "s", None)
    live = Result("bt -a, log, ps on the live panicked machine", "s", None)
    proc = Result("  a fresh `kpanic-lab crash VMCORE` process, imports included", "s", None)
    results = [cold, warm, live, proc]
    if not vmlinux_path().is_file():
        for r in results:
            r.skipped = f"no guest image at {vmlinux_path()} (run `make guest`)"
        return results
    from kpanic_lab.analysis import live_target
    from kpanic_lab.crash import CrashSession

    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        vmcore = make_vmcore(Path(tmp))
        size = vmcore.stat().st_size
        where = f"sysrq-c, 2 CPUs, 256 MiB RAM, makedumpfile -d 31 -z ({size / 1024:.0f} KiB file)"
        cold.measured_on = f"{where}; caches emptied before each run"
        warm.measured_on = f"{where}; after a first open"
        for _ in range(runs):
            forget_debug_info()
            t0 = time.perf_counter()
            s = CrashSession.open(vmcore)
            run_commands(s)
            cold.runs.append(time.perf_counter() - t0)
            s.target.close()  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            s = CrashSession.open(vmcore)
            run_commands(s)
            warm.runs.append(time.perf_counter() - t0)
            s.target.close()  # type: ignore[attr-defined]
        target = live_target("sysrq-c")
        live.measured_on = "sysrq-c run to its end, 2 CPUs, 256 MiB; a new session each run, caches emptied"
        for _ in range(runs):
            forget_debug_info()
            t0 = time.perf_counter()
            run_commands(CrashSession(target))
            live.runs.append(time.perf_counter() - t0)
        proc.measured_on = "python -m kpanic_lab crash VMCORE < 'bt -a; log; ps'"
        for _ in range(max(1, runs // 2)):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "kpanic_lab", "crash", str(vmcore)],
                               input="\n".join(COMMANDS) + "\n", capture_output=True, text=True, cwd=ROOT)
            proc.runs.append(time.perf_counter() - t0)
            assert r.returncode == 0, r.stderr
    return results


def table(results: List[Result]) -> str:
    rows = [("benchmark", "measured", "target", "ratio", "meets")]
    for r in results:
        target = f"<= {r.target:g} {r.unit}" if r.target is not None else "-"
        if r.value is None:
            rows.append((r.name, "skipped", target, "-", "-"))
        else:
            rows.append((r.name, f"{r.value:.3g} {r.unit}", target, f"{r.ratio:.2f}" if r.ratio is not None else "-",
                         "-" if r.meets is None else "yes" if r.meets else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.name.strip()}: " + (f"SKIPPED: {r.skipped}" if r.skipped else
                                        f"{r.measured_on}; {len(r.runs)} samples") for r in results]
    return "\n".join(lines + ["", "ratio = measured / target (median); what was measured:"] + notes)


def environment() -> Dict[str, object]:
    return {"python": platform.python_version(), "host": platform.machine(), "cpus": os.cpu_count(),
            "vmlinux": str(vmlinux_path()), "vmlinux_present": vmlinux_path().is_file()}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per benchmark (the median is reported)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a measured figure misses its target")
    a = ap.parse_args(argv)
    results = bench(a.runs)
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_crash.json"
    out.write_text(json.dumps({
        "benchmark": "crash",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(),
        "results": [{**asdict(r), "median": r.value, "ratio": r.ratio, "meets": r.meets} for r in results],
    }, indent=2) + "\n")
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 1 if a.check and any(r.meets is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
