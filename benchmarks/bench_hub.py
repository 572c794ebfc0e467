"""Benchmark of a class on one JupyterHub: what a student costs, and how many one machine holds.

    python benchmarks/bench_hub.py [--runs N] [--start 10] [--step 10] [--max-students 40] [--check]

A real ``jupyterhub`` on 127.0.0.1 (tests/hub/hubload.py: DummyAuthenticator, local processes,
deploy/'s server config and environment) and simulated students, each doing over HTTP and the
kernel websocket what a browser does: log in through the REST API, start a server, open a notebook
that makes a panic stepper and runs a whole kdump cycle, then click Step.

- one student: resident memory of the server and its kernel after the stepper and the kdump cycle
  (rss, the goal <= 300 MiB; pss, which shares libraries out among the class);
- the same before deploy/'s settings (stock server extensions, glibc's default malloc), for comparison;
- time to first stage: the stepper cell, run by the whole first class logging in at once;
- the limit: ``--start`` students, then ``--step`` more at a time, every one clicking Step at the
  same moment (``--runs`` times per level); past the first class too slow, one student fewer at a
  time (their servers stopped); the class held is the largest whose every click was answered
  within 1 s, up to ``--max-students`` (or this machine's free memory);
- students held by memory on a 2-core 24 GiB machine (pss per student, beside the hub), and per core.

Every server and kernel is killed at the end.  Other work on the machine makes the figures
pessimistic.  Prints a table and writes benchmarks/results/bench_hub.json.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from benchlib import Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402
from tests.hub import hubload  # noqa: E402
from tests.hub.hubload import CLICK_LIMIT_S, GOAL_MIB, LocalHub, Student  # noqa: E402

PER_STUDENT_HEADROOM = 400 * 2**20       # free memory needed on this machine per student added


async def _prepare(hub: LocalHub, names: List[str], timeout: float) -> List[Student]:
    await hubload.create_students(hub, names)
    students = [Student(hub, n) for n in names]
    await asyncio.wait_for(asyncio.gather(*(s.prepare() for s in students)), timeout)
    for s in students:
        s.result.memory = hubload.tree_memory(hub.server_process(s.name))
    return students


async def stock_student(workdir: Path, n: int = 2) -> Dict[str, float]:
    """Per-student memory with stock servers and malloc (deploy/'s settings off), the largest of ``n``."""
    with LocalHub(workdir, server_config=None, environment={}) as hub:
        students = await _prepare(hub, [f"stock{i}" for i in range(n)], 300)
        for s in students:
            await s.close()
        return {k: max(s.result.memory[k] for s in students) for k in ("rss", "pss")}


async def ramp(workdir: Path, start: int, step: int, most: int, rounds: int,
               timeout: float, limit_s: float = CLICK_LIMIT_S) -> Dict[str, Any]:
    """Add students level by level until a Step click takes longer than the limit."""
    levels: List[Dict[str, Any]] = []
    students: List[Student] = []
    first: Optional[Dict[str, Any]] = None
    stopped = f"reached --max-students {most}"
    with LocalHub(workdir) as hub:
        size = start
        try:
            while True:
                need = (size - len(students)) * PER_STUDENT_HEADROOM
                if psutil.virtual_memory().available < need + 2 * 2**30:
                    stopped = f"this machine's free memory ({psutil.virtual_memory().available / 2**30:.1f} GiB)"
                    break
                t = time.perf_counter()
                students += await _prepare(hub, [f"student{i:03d}" for i in range(len(students), size)], timeout)
                prepare_s = time.perf_counter() - t
                bursts = [await asyncio.wait_for(hubload.click_together(students), timeout) for _ in range(rounds)]
                worst = max(max(b) for b in bursts)
                levels.append({"students": size, "worst_click_s": worst, "prepare_s": prepare_s,
                               "median_click_s": statistics.median(x for b in bursts for x in b)})
                if first is None:
                    first = {"students": [s.result for s in students], "hub": hub.hub_memory(),
                             "bursts": bursts}
                if worst > limit_s:
                    stopped = f"a click took {worst:.2f} s with {size} students"
                    # then one student fewer at a time, down to the last class that kept up
                    last_ok = max((lv["students"] for lv in levels if lv["worst_click_s"] <= limit_s),
                                  default=0)
                    while len(students) > last_ok + 1 and worst > limit_s:
                        gone = students.pop()
                        await gone.close()
                        await hub.api("DELETE", f"/users/{gone.name}/server")
                        bursts = [await asyncio.wait_for(hubload.click_together(students), timeout)
                                  for _ in range(rounds)]
                        worst = max(max(b) for b in bursts)
                        levels.append({"students": len(students), "worst_click_s": worst, "prepare_s": 0.0,
                                       "median_click_s": statistics.median(x for b in bursts for x in b)})
                    break
                if size >= most:
                    break
                size = min(most, size + step)
        finally:
            for s in students:
                await s.close()
    assert first is not None
    held = max((lv["students"] for lv in levels if lv["worst_click_s"] <= limit_s), default=0)
    return {"levels": levels, "first": first, "held": held, "stopped": stopped}


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__, runs_help="simultaneous Step clicks per level (the worst is what counts)")
    ap.add_argument("--start", type=int, default=10, help="students in the first class (default 10)")
    ap.add_argument("--step", type=int, default=10, help="students added per level (default 10)")
    ap.add_argument("--max-students", type=int, default=40, help="stop here (default 40)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds for one level's logins, at most")
    ap.add_argument("--limit", type=float, default=CLICK_LIMIT_S,
                    help=f"the longest a Step click may take, s (default {CLICK_LIMIT_S:g})")
    ap.set_defaults(runs=3)
    args = ap.parse_args(argv)
    if args.start < 1 or args.step < 1 or args.max_students < args.start or args.runs < 1 or args.limit <= 0:
        ap.error("need 1 <= --start <= --max-students, --step >= 1, --runs >= 1 and --limit > 0")

    rss = Result("one student, resident (server + kernel)", "MiB", GOAL_MIB)
    pss = Result("one student, proportional (pss)", "MiB", None)
    stock = Result("one student, stock server and malloc", "MiB", None)
    hub_mem = Result("hub and proxy, resident", "MiB", None)
    first_stage = Result(f"time to first stage, {args.start} logging in at once", "s", None)
    click = Result(f"Step click, {args.start} clicking together (worst)", "s", args.limit)
    held = Result(f"class held, every click <= {args.limit:g} s (measured)", "students", None, better="higher")
    by_mem = Result("class held by memory, 24 GiB (pss)", "students", None, better="higher")
    per_core = Result("students per core (measured / 2 cores)", "students", None, better="higher")
    results = [rss, pss, stock, hub_mem, first_stage, click, held, by_mem, per_core]

    why = hubload.missing_tools() or no_guest_image()
    extra: Dict[str, Any] = {}
    if why:
        skip_all(results, why)
        return report("bench_hub", results, args.check)

    with tempfile.TemporaryDirectory(prefix="kpanic-bench-hub-") as tmp:
        before = asyncio.run(stock_student(Path(tmp) / "stock"))
        out = asyncio.run(ramp(Path(tmp) / "class", args.start, args.step, args.max_students, args.runs,
                               args.timeout, args.limit))
    first = out["first"]
    students = first["students"]
    rss.runs = [max(s.memory["rss"] for s in students)]
    rss.measured_on = f"the largest of {len(students)} students, after the stepper and a kdump cycle"
    pss.runs = [max(s.memory["pss"] for s in students)]
    stock.runs = [before["rss"]]
    stock.measured_on = f"rss; pss {before['pss']:.0f} MiB"
    hub_mem.runs = [first["hub"]["rss"]]
    first_stage.runs = [s.first_stage_s for s in students]
    click.runs = [max(max(b) for b in first["bursts"])]
    click.measured_on = f"{len(first['bursts'])} bursts; " + ", ".join(f"{max(b):.2f}" for b in first["bursts"])
    held.runs = [float(out["held"])]
    held.measured_on = f"stopped: {out['stopped']}; levels " + ", ".join(
        f"{lv['students']}: {lv['worst_click_s']:.2f} s" for lv in out["levels"])
    by_mem.runs = [float(hubload.memory_capacity(max(pss.runs), first["hub"]["pss"]))]
    per_core.runs = [out["held"] / 2]
    extra = {"levels": out["levels"], "stock_student": before,
             "students": [{"name": s.name, "memory": s.memory, "first_stage_s": s.first_stage_s,
                           "server_s": s.server_s, "kdump_s": s.kdump_s, "clicks_s": s.clicks_s}
                          for s in students]}
    return report("bench_hub", results, args.check, extra=extra, env={"cpus_available": os.cpu_count()})


if __name__ == "__main__":
    sys.exit(main())
