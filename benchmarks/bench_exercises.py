"""Exercise 7's class dumps: 30 students, each a whole kdump cycle from their seed, in parallel.

    python benchmarks/bench_exercises.py [--runs N] [--check] [--students N] [--jobs N] [--compare]

Target (DESIGN.md, turn 2): 30 per-student dumps <= 60 s on 2 cores.  What is timed is
``kpanic_lab.exercises.course.generate`` (what ``kpanic-lab exercises generate`` runs): a process
per core, each booting the guest with the student's driver and bug, crashing it, capturing with
kdump (-d 31 -l), reading the truth back from the vmcore and writing the check file; then the key.
Each process boots the class's kernel (kexec -p done) once and starts every student from its
snapshot; ``--compare`` also times a boot per student (the same dumps), interleaved with the
first so both see the same load on a shared machine.
Prints a table and writes benchmarks/results/bench_exercises.json.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402
from kpanic_lab.exercises.course import generate  # noqa: E402

TARGET = 60.0


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__, runs_help="classes generated (the median is reported)",
                    check_help="exit 1 when a class takes longer than its target")
    ap.set_defaults(runs=1)          # one class is 30 kdump cycles already
    ap.add_argument("--students", type=int, default=30, help="students in the class (default 30)")
    ap.add_argument("--jobs", type=int, default=None, help="processes (default: one per core)")
    ap.add_argument("--compare", action="store_true", help="also time a boot per student, interleaved")
    a = ap.parse_args(argv)
    jobs = a.jobs or os.cpu_count() or 1
    whole = Result(f"{a.students} per-student dumps", "s", TARGET if a.students == 30 else None,
                   measured_on=f"course.generate over s000..s{a.students - 1:03d}, {jobs} processes, "
                               f"{os.cpu_count()} cores; 2 CPUs, 256 MiB guests, -d 31 -l")
    each = Result("  per dump (wall / students)", "s", None, measured_on="the same classes")
    booting = Result(f"{a.students} dumps, a boot per student", "s", None,
                     measured_on="course.generate(reuse=False), interleaved with the row above")
    results = [whole, each] + ([booting] if a.compare else [])
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
        return report("bench_exercises", results, a.check)
    students = [f"s{i:03d}" for i in range(a.students)]
    for _ in range(a.runs):
        for reuse in ((True, False) if a.compare else (True,)):
            with tempfile.TemporaryDirectory(prefix="kpanic-bench-ex-") as d:
                t0 = time.perf_counter()
                out = generate(students, d, secret="bench", jobs=jobs, reuse=reuse)
                dt = time.perf_counter() - t0
                assert len(out.truths) == a.students
            if reuse:
                whole.runs.append(dt)
                each.runs.append(dt / a.students)
            else:
                booting.runs.append(dt)
    return report("bench_exercises", results, a.check)


if __name__ == "__main__":
    sys.exit(main())
