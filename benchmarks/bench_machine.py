"""Benchmarks of the lab machine against the targets in DESIGN.md.

    python benchmarks/bench_machine.py [--runs N] [--busy-command CMD] [--check]

Each figure is the median over several runs:

- boot: host seconds of ``Machine(cpus=2, memory="256M").boot()`` from power-on to the shell
  prompt (target <= 0.3 s); a fresh machine each run, so Unicorn translates the code cold each time.
- free-running speed: guest instructions per host second while a guest keeps one CPU busy for a
  fixed virtual time (target >= 50 M/s).  By default the busy guest is the machine tests'
  minikernel booted with ``spin`` (CPU 0 in a tight loop with IF=0, CPU 1 parked), built with gcc
  from tests/machine/minikernel; with ``--busy-command CMD`` it is the guest kernel running that
  shell command instead.
- memory: resident host memory (VmRSS) of a fresh process holding one booted 2-CPU 256 MiB
  machine (target <= 450 MiB), measured in a child process so that earlier runs do not count.

Without the guest image (kpanic_lab/guest/images/vmlinux, or KPANIC_VMLINUX) the boot and
memory figures are skipped with a message.  Prints a table and writes
benchmarks/results/bench_machine.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, Result, arg_parser, no_guest_image, report  # noqa: E402
from kpanic_lab.guest import vmlinux_path  # noqa: E402
from kpanic_lab.machine import Machine, MachineConfig  # noqa: E402

MINIKERNEL = ROOT / "tests" / "machine" / "minikernel"
HW_INCLUDE = ROOT / "kpanic_lab" / "guest" / "kernel"
# the same build as tests/machine/conftest.py
MINI_CFLAGS = ["-O1", "-g", "-ffreestanding", "-fno-pic", "-fno-pie", "-mcmodel=kernel", "-mno-red-zone",
               "-mgeneral-regs-only", "-fno-stack-protector", "-fcf-protection=none", f"-I{HW_INCLUDE}"]

BUSY_VIRTUAL_NS = 200_000_000      # 0.2 s of guest time = 200 M instructions on one busy CPU


# ---------------------------------------------------------------------------- measurements
def bench_boot(runs: int) -> Result:
    res = Result("boot to shell prompt", "s", 0.3, "lower",
                 measured_on="guest kernel, 2 CPUs, 256 MiB, fresh machine per run; host seconds of boot()",
                 skipped=no_guest_image())
    if res.skipped:
        return res
    for _ in range(runs):
        m = Machine(cpus=2, memory="256M")
        t0 = time.perf_counter()
        r = m.boot()
        dt = time.perf_counter() - t0
        if r.reason != "prompt":
            res.skipped = f"the guest did not reach the prompt (stopped: {r.reason})"
            res.runs.clear()
            return res
        res.runs.append(dt)
        del m
    return res


def build_minikernel(out: Path) -> Optional[Path]:
    """The machine tests' minikernel, built with gcc and ld into ``out``; None if it cannot be."""
    if not (shutil.which("gcc") and shutil.which("ld") and (MINIKERNEL / "mini.c").is_file()):
        return None
    obj, elf = out / "mini.o", out / "mini.elf"
    subprocess.run(["gcc", *MINI_CFLAGS, "-c", str(MINIKERNEL / "mini.c"), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-n", "-T", str(MINIKERNEL / "mini.ld"), "--no-warn-rwx-segments", "-o", str(elf),
                    str(obj)], check=True)
    return elf


def _free_run(m: Machine, start: Callable[[Machine], None]) -> float:
    """Instructions per host second over BUSY_VIRTUAL_NS of guest time after ``start``."""
    start(m)
    end = m.clock_ns + BUSY_VIRTUAL_NS
    t0 = time.perf_counter()
    r = m.run(lambda mm: mm.clock_ns >= end, max_seconds=120)
    dt = time.perf_counter() - t0
    if r.reason != "until":
        raise RuntimeError(f"the busy guest stopped early ({r.reason})")
    return r.instructions / dt


def bench_speed(runs: int, busy_command: Optional[str]) -> Result:
    res = Result("free-running guest speed", "M instr/s", 50.0, "higher")
    if busy_command:
        res.measured_on = (f"guest kernel running `{busy_command}`, 2 CPUs, {BUSY_VIRTUAL_NS / 1e9:g} s of "
                           "guest time (instructions = quanta given to running CPUs)")
        res.skipped = no_guest_image()
        if res.skipped:
            return res
        for _ in range(runs):
            m = Machine(cpus=2, memory="256M")
            if m.boot().reason != "prompt":
                res.skipped = "the guest did not reach the prompt"
                return res
            res.runs.append(_free_run(m, lambda mm: mm.send(busy_command + "\n")) / 1e6)
        return res
    res.measured_on = (f"minikernel booted with `spin`: CPU 0 in a tight loop (IF=0), CPU 1 parked; "
                       f"{BUSY_VIRTUAL_NS / 1e9:g} s of guest time")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            elf = build_minikernel(Path(tmp))
        except subprocess.CalledProcessError as e:
            res.skipped = f"could not build the minikernel ({e})"
            return res
        if elf is None:
            res.skipped = "gcc, ld or tests/machine/minikernel missing: cannot build the busy guest"
            return res
        for _ in range(runs):
            m = Machine(MachineConfig.create(cpus=2, memory="256M", cmdline="spin", vmlinux=elf))
            res.runs.append(_free_run(m, Machine.power_on) / 1e6)
    return res


def _rss_child() -> None:
    """In a fresh process: boot one 2-CPU 256 MiB machine and print its VmRSS and VmHWM (KiB)."""
    m = Machine(cpus=2, memory="256M")
    reason = m.boot().reason
    status = Path("/proc/self/status").read_text()
    kib = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in status.splitlines())
           if k in ("VmRSS", "VmHWM")}
    print(json.dumps({"reason": reason, **kib}))


def bench_rss(runs: int) -> Result:
    res = Result("resident memory, 2 CPUs 256 MiB after boot", "MiB", 450.0, "lower",
                 measured_on="VmRSS of a fresh Python process holding one booted machine", skipped=no_guest_image())
    if res.skipped:
        return res
    if not Path("/proc/self/status").exists():
        res.skipped = "no /proc/self/status on this host"
        return res
    peaks = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--rss-child"], capture_output=True, text=True,
                             check=True, timeout=300)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        if d["reason"] != "prompt":
            res.skipped = f"the guest did not reach the prompt (stopped: {d['reason']})"
            return res
        res.runs.append(d["VmRSS"] / 1024)
        peaks.append(d["VmHWM"] / 1024)
    res.measured_on += f"; peak (VmHWM) median {statistics.median(peaks):.0f} MiB"
    return res


def main(argv: Optional[List[str]] = None) -> int:
    ap = arg_parser(__doc__)
    ap.add_argument("--busy-command", default=None, metavar="CMD",
                    help="measure speed with this guest shell command instead of the minikernel")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.rss_child:
        _rss_child()
        return 0
    if not vmlinux_path().is_file():
        print(f"note: no guest image at {vmlinux_path()}: the boot and memory benchmarks are skipped "
              "(run `make guest`)", file=sys.stderr)
    results = [bench_boot(a.runs), bench_speed(max(1, a.runs // 2 + 1), a.busy_command),
               bench_rss(max(1, a.runs // 2 + 1))]
    import unicorn

    return report("bench_machine", results, a.check, env={"unicorn": unicorn.__version__})


if __name__ == "__main__":
    sys.exit(main())
