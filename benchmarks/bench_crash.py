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
- a real Linux 6.1 dump (``kpanic-lab real run sysrq-c --kdump``, named by $KPANIC_LAB_REAL_VMCORE)
  opened with Debian's debug vmlinux (/usr/lib/debug/boot/vmlinux-*-amd64, 633 MB) through drgn, then
  the same three commands (target <= 2 s); skipped, saying why, when either is absent.

The vmcore is made once per run of this script from a sysrq-c machine (2 CPUs, 256 MiB):
an ELF vmcore of all of RAM, then ``makedumpfile -d 31 -z`` as the capture kernel runs it.
Prints a table and writes benchmarks/results/bench_crash.json.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests.support.livecore
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

COMMANDS = ("bt -a", "log", "ps")


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
    from tests.support.livecore import write_vmcore_from_machine
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
    missing = no_guest_image()
    if missing:
        skip_all(results, missing)
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


def real_files() -> Tuple[Optional[Path], Optional[Path], str]:
    """(debug vmlinux, real vmcore, why not) for the real-kernel figure."""
    import os

    vmlinuxes = sorted(Path("/usr/lib/debug/boot").glob("vmlinux-*-amd64"))
    vmcore = os.environ.get("KPANIC_LAB_REAL_VMCORE")
    if not vmlinuxes:
        return None, None, "no debug vmlinux (apt-get install linux-image-$(uname -r)-dbg)"
    if not vmcore or not Path(vmcore).is_file():
        return vmlinuxes[-1], None, ("no real dump: set KPANIC_LAB_REAL_VMCORE to one made by "
                                     "`kpanic-lab real run sysrq-c --kdump`")
    return vmlinuxes[-1], Path(vmcore), ""


def bench_real(runs: int) -> Result:
    real = Result("open a real Linux 6.1 dump (drgn, 633 MB vmlinux) + bt -a, log, ps", "s", 2.0)
    vmlinux, vmcore, why = real_files()
    if why:
        real.skipped = why
        return real
    from kpanic_lab.crash import CrashSession

    assert vmlinux is not None and vmcore is not None
    real.measured_on = f"{vmcore} ({vmcore.stat().st_size >> 20} MiB), {vmlinux.name}; a new session each run"
    for _ in range(runs):
        t0 = time.perf_counter()
        s = CrashSession.open(vmcore, vmlinux)
        run_commands(s)
        real.runs.append(time.perf_counter() - t0)
        s.target.close()  # type: ignore[attr-defined]
    return real


def main(argv: Optional[List[str]] = None) -> int:
    a = arg_parser(__doc__).parse_args(argv)
    results = bench(a.runs) + [bench_real(a.runs)]
    return report("bench_crash", results, a.check)


if __name__ == "__main__":
    sys.exit(main())
