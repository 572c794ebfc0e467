"""What every benchmarks/bench_*.py shares: a result, its table, the environment, the JSON file.

Not a benchmark itself (``make bench`` runs every benchmarks/*.py, so run as a script it only says so).
A script imports it through its own folder::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from benchlib import Result, report

takes its options from :func:`arg_parser` (--runs, --check, and its own), builds a list of
:class:`Result`, one a figure, and ends its ``main`` with
``return report("bench_NAME", results, args.check)``: the table is printed,
benchmarks/results/bench_NAME.json written, and the exit code returned (1 under ``--check`` when a
figure misses its target).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from kpanic_lab import text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# up to this many samples the notes list each one; beyond it, their count and range
LISTED_SAMPLES = 12


@dataclass
class Result:
    """One figure: its samples, and the target they are held to (None: shown for context only)."""

    name: str
    unit: str
    target: Optional[float]
    better: str = "lower"                   # "lower" or "higher"
    runs: List[float] = field(default_factory=list)
    measured_on: str = ""
    skipped: Optional[str] = None

    @property
    def value(self) -> Optional[float]:
        """The median of the samples."""
        return statistics.median(self.runs) if self.runs else None

    @property
    def ratio(self) -> Optional[float]:
        """measured / target."""
        return None if self.value is None or self.target is None else self.value / self.target

    @property
    def meets(self) -> Optional[bool]:
        r = self.ratio
        if r is None:
            return None
        return r <= 1.0 if self.better == "lower" else r >= 1.0


def arg_parser(doc: Optional[str], runs_help: str = "runs per benchmark (the median is reported)",
               check_help: str = "exit 1 when a measured figure misses its target") -> argparse.ArgumentParser:
    """The options every script has: --runs N (default 5) and --check; the description is doc's first paragraph."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help=runs_help)
    ap.add_argument("--check", action="store_true", help=check_help)
    return ap


def no_guest_image() -> Optional[str]:
    """Why a benchmark that needs the guest kernel is skipped, or None when the image is there."""
    from kpanic_lab.guest import vmlinux_path

    return None if vmlinux_path().is_file() else f"no guest image at {vmlinux_path()} (run `make guest`)"


def skip_all(results: Sequence[Result], reason: str) -> None:
    for r in results:
        r.skipped = reason


def _num(x: float) -> str:
    """Three significant figures, without an exponent from 1000 up (14,000 rather than 1.4e+04)."""
    rounded = float(f"{x:.3g}")
    return f"{rounded:,.0f}" if abs(rounded) >= 1000 else f"{x:.3g}"


def _samples(runs: Sequence[float]) -> str:
    if len(runs) <= LISTED_SAMPLES:
        return f"{len(runs)} {'run' if len(runs) == 1 else 'runs'}: " + ", ".join(_num(x) for x in runs)
    return f"{len(runs)} samples, {_num(min(runs))} to {_num(max(runs))}"


def table(results: Sequence[Result]) -> str:
    """The results as a table (benchmark, measured, target, ratio, meets), then what each measured."""
    rows = []
    for r in results:
        sign = "<=" if r.better == "lower" else ">="
        target = f"{sign} {r.target:g} {r.unit}" if r.target is not None else "-"
        if r.value is None:
            rows.append((r.name, "skipped", target, "-", "-"))
        else:
            rows.append((r.name, f"{_num(r.value)} {r.unit}", target,
                         f"{r.ratio:.2f}" if r.ratio is not None else "-",
                         "-" if r.meets is None else "yes" if r.meets else "NO"))
    notes = [f"  {r.name.strip()}: " + (f"SKIPPED: {r.skipped}" if r.skipped else
                                        "; ".join(filter(None, [r.measured_on, _samples(r.runs)])))
             for r in results]
    return "\n".join([text.table(rows, ["benchmark", "measured", "target", "ratio", "meets"]), "",
                      "ratio = measured / target (median); what was measured:"] + notes)


def environment(extra: Optional[Mapping[str, object]] = None) -> Dict[str, object]:
    """Python, host, CPU count and the guest image, then ``extra`` (a script's own versions)."""
    from kpanic_lab.guest import vmlinux_path

    return {"python": platform.python_version(), "host": platform.machine(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "vmlinux": str(vmlinux_path()),
            "vmlinux_present": vmlinux_path().is_file(), **(extra or {})}


def write_results(name: str, results: Sequence[Result], extra: Optional[Mapping[str, object]] = None,
                  *, env: Optional[Mapping[str, object]] = None) -> Path:
    """Write benchmarks/results/<name>.json and return its path.

    ``name`` is the script's name (``bench_machine``); the file's "benchmark" is that without
    ``bench_``.  ``env`` is added to :func:`environment`; ``extra`` adds keys of the script's own
    (per-run breakdowns, sizes) after the common ones.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    doc: Dict[str, object] = {
        "benchmark": name[len("bench_"):] if name.startswith("bench_") else name,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(env),
        "results": [{**asdict(r), "median": r.value, "ratio": r.ratio, "meets": r.meets} for r in results],
    }
    doc.update(extra or {})
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out


def report(name: str, results: Sequence[Result], check: bool, *, extra: Optional[Mapping[str, object]] = None,
           env: Optional[Mapping[str, object]] = None) -> int:
    """The tail of a script's main: print the table, write the JSON, say where; the exit code.

    1 when ``check`` is set and a measured figure misses its target, else 0 (a skipped figure or
    one without a target never fails).
    """
    print(table(results))
    out = write_results(name, results, extra, env=env)
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 1 if check and any(r.meets is False for r in results) else 0


if __name__ == "__main__":
    print("benchlib.py: the helpers the bench_*.py scripts share; nothing to measure here")
