"""Boot a guest image and print its console: ``python -m kpanic_lab.machine [VMLINUX] [options]``.

A developer's runner (the student-facing command is ``kpanic-lab boot``).
"""
from __future__ import annotations

import argparse
import sys

from kpanic_lab.machine import Machine, MachineConfig, MachineError, MemoryFault


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kpanic_lab.machine")
    ap.add_argument("vmlinux", nargs="?")
    ap.add_argument("--cpus", default=2)
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--cmdline", default=None)
    ap.add_argument("--input", action="append", default=[],
                    help="a shell line to type after boot (repeatable; \\n is added)")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--events", action="store_true", help="print the lab events too")
    a = ap.parse_args(argv)
    try:
        m = Machine(MachineConfig.create(cpus=a.cpus, memory=a.memory, cmdline=a.cmdline, vmlinux=a.vmlinux))
        r = m.boot(max_seconds=a.max_seconds)
        for line in a.input:
            if r.reason != "prompt":
                break
            m.send(line.encode().decode("unicode_escape").rstrip("\n") + "\n")
            r = m.run("prompt", max_seconds=a.max_seconds)
    except (MachineError, MemoryFault) as err:
        sys.stdout.write(m.console_text if "m" in locals() else "")
        print(f"\nkpanic-lab: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(m.console_text)
    print(f"\n[machine: stopped: {r.reason}; virtual time {m.clock_ns / 1e9:.6f} s; "
          f"{m.total_instructions:,} instructions]", file=sys.stderr)
    if a.events:
        for e in m.events:
            print(f"  {e.time_ns:>12} cpu{e.cpu} {e.kind} {e.args} {m.symbolize(e.rip)}", file=sys.stderr)
    for v in m.cpu_views():
        print(f"  CPU{v.index}: {v.state:8} IF={int(v.interrupts_enabled)} {v.symbol}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
