"""The ``kpanic-lab`` command: a thin front-end over the library.

Each subcommand is registered with :func:`command`, which carries its name, a one-line summary,
its arguments and an example; ``main`` builds the argparse parser from that table.  The library
never prints: commands call it and format what it returns.

Exit codes: 0 success, 1 the machine or the guest failed (or the image is missing), 2 a bad
option (one line on stderr that names it).

    $ kpanic-lab boot --cpus 2 --memory 256M
    $ kpanic-lab vmlinux
    /.../kpanic_lab/guest/images/vmlinux
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, TextIO

import kpanic_lab
from kpanic_lab.guest import vmlinux_path
from kpanic_lab.guest.image import ImageError
from kpanic_lab.errors import LabError
from kpanic_lab.machine import ConfigError, Machine, MachineConfig, MachineError

PROG = "kpanic-lab"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Arguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: what it is called, what it does, its arguments, how it is used."""

    name: str
    summary: str
    arguments: Arguments
    run: Handler
    example: str = ""


COMMANDS: Dict[str, Command] = {}


def command(name: str, summary: str, arguments: Arguments = lambda p: None,
            example: str = "") -> Callable[[Handler], Handler]:
    """Register ``fn(args) -> exit code`` as the subcommand ``name``."""

    def register(fn: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"subcommand {name!r} registered twice")
        COMMANDS[name] = Command(name, summary, arguments, fn, example)
        return fn

    return register


class UsageError(Exception):
    """A bad option, found after argparse (its message names the option)."""


# ---------------------------------------------------------------------------- shared options
def machine_options(p: argparse.ArgumentParser) -> None:
    """``--cpus``, ``--memory``, ``--cmdline``: the options of every command that boots a machine.

    They are passed on as text: MachineConfig checks them and names the option that is wrong.
    """
    p.add_argument("--cpus", default="2", metavar="N", help="number of CPUs (1-8, default 2)")
    p.add_argument("--memory", default="256M", metavar="SIZE", help="guest RAM, e.g. 256M or 1G (default 256M)")
    p.add_argument("--cmdline", default=None, metavar="STR",
                   help='kernel command line (default "console=ttyS0")')


def machine_config(a: argparse.Namespace) -> MachineConfig:
    """The checked configuration for the machine options in ``a`` (ConfigError names a bad one)."""
    return MachineConfig.create(cpus=a.cpus, memory=a.memory, cmdline=a.cmdline)


# ---------------------------------------------------------------------------- commands
@command("boot", "boot the guest kernel to the shell prompt and print its console",
         arguments=machine_options,
         example="$ kpanic-lab boot --cpus 2 --memory 256M --cmdline 'console=ttyS0 crashkernel=64M'")
def _boot(a: argparse.Namespace) -> int:
    config = machine_config(a)
    m = Machine(config)
    try:
        result = m.boot()
    finally:
        _write(sys.stdout, m.console_text)
    if result.reason != "prompt":
        raise MachineError(f"the guest did not reach the shell prompt (it stopped: {result.reason})")
    return EXIT_OK


@command("vmlinux", "print the path of the guest kernel image (for gdb, readelf, crash)",
         example="$ gdb $(kpanic-lab vmlinux)")
def _vmlinux(a: argparse.Namespace) -> int:
    path = vmlinux_path()
    if not path.is_file():
        raise ImageError(f"guest kernel image not found: {path} "
                         "(build it with `make guest`, or set KPANIC_VMLINUX)")
    print(path)
    return EXIT_OK


@command("scenarios", "list the crash scenarios, one line each",
         example="$ kpanic-lab scenarios")
def _scenarios(a: argparse.Namespace) -> int:
    from kpanic_lab.panic import SCENARIOS

    width = max(len(n) for n in SCENARIOS)
    for name, sc in SCENARIOS.items():
        print(f"{name:<{width}}  {sc.summary}")
    return EXIT_OK


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="a name from `kpanic-lab scenarios`")
    machine_options(p)
    p.add_argument("--trace", metavar="FILE", help="write the stage trace as JSON to FILE")


@command("run", "boot, trigger a scenario, run to the end, print the console and the stages",
         arguments=_run_options,
         example="$ kpanic-lab run sysrq-c --cpus 2 --trace sysrq.json")
def _run(a: argparse.Namespace) -> int:
    from kpanic_lab.panic import PanicSession, UnknownScenario

    try:
        session = PanicSession(a.scenario, cpus=int(a.cpus) if str(a.cpus).isdigit() else a.cpus,
                               memory=a.memory, cmdline=a.cmdline)
    except UnknownScenario as e:
        raise UsageError(str(e)) from None
    session.start()
    trace = session.run_to_end()
    _write(sys.stdout, trace.console)
    print(f"\n--- {trace.scenario}: {len(trace.stages)} stages, end: {trace.end}", file=sys.stderr)
    for st in trace.stages:
        ifs = " ".join(f"cpu{c.cpu}:IF={int(c.interrupts_enabled)}" for c in st.cpus)
        print(f"  {st.index:>3} {st.key:<15} cpu{st.cpu} {st.detail:<55} {ifs}", file=sys.stderr)
    if a.trace:
        with open(a.trace, "w") as f:
            f.write(trace.to_json())
    return EXIT_OK


# ---------------------------------------------------------------------------- front-end
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser, one subparser per registered command."""
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Crash a small x86-64 Linux-like kernel on an emulated machine and watch panic() and kdump.",
        epilog="Run `kpanic-lab COMMAND --help` for a command's options.",
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {kpanic_lab.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.summary, description=c.summary,
                           epilog=f"example:\n  {c.example}" if c.example else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.arguments(p)
        p.set_defaults(handler=c.run)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``kpanic-lab`` with ``argv`` (default: the process's arguments); return the exit code."""
    ap = build_parser()
    a = ap.parse_args(argv)
    if a.command is None:
        ap.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(a.handler(a))
    except (ConfigError, UsageError) as e:
        _error(str(e))
        return EXIT_USAGE
    except LabError as e:
        _error(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # `kpanic-lab boot | head`: the reader left; say nothing more, and let the
        # interpreter's final flush of stdout go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


def _error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _write(stream: TextIO, text: str) -> None:
    stream.write(text if not text or text.endswith("\n") else text + "\n")
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
