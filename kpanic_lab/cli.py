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
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Dict, Optional, Sequence, TextIO

import kpanic_lab
from kpanic_lab.dumplevel import dump_level_legend
from kpanic_lab.guest import vmlinux_path
from kpanic_lab.errors import ConfigError, LabError, MachineError
from kpanic_lab.formats.compression import OPTIONS as COMPRESSION_OPTIONS
from kpanic_lab.i18n import N_, _, language, set_language
# Machine (even its config), the image reader (pyelftools) and each command's library are imported
# where they are used: a command that only reads a dump (makedumpfile) starts without them

if TYPE_CHECKING:
    from kpanic_lab.machine import MachineConfig
    from kpanic_lab.panic.trace import Trace

PROG = "kpanic-lab"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# `run --kdump` without --crash-dir: dumps land here (relative to the current folder) and stay
DEFAULT_CRASH_DIR = "crash"

# `run --kdump` prints three consoles, one after the other; each under its own header
CONSOLE_HEADERS = (
    N_("first kernel: boot, kexec -p, the crash"),
    N_("capture kernel: booted by kexec in the crashkernel= memory, saves the dump"),
    N_("after reboot: the machine boots again"),
)


def console_header(title: str) -> str:
    """The line above one console of `run --kdump`, in the student's language.

    >>> console_header(CONSOLE_HEADERS[2])
    '==================== after reboot: the machine boots again ===================='
    """
    return f"{'=' * 20} {_(title)} {'=' * 20}"

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
    p.add_argument("--cpus", default="2", metavar="N", help=_("number of CPUs (1-8, default 2)"))
    p.add_argument("--memory", default="256M", metavar="SIZE", help=_("guest RAM, e.g. 256M or 1G (default 256M)"))
    p.add_argument("--cmdline", default=None, metavar="STR",
                   help=_('kernel command line (default "console=ttyS0")'))


def machine_config(a: argparse.Namespace) -> MachineConfig:
    """The checked configuration for the machine options in ``a`` (ConfigError names a bad one)."""
    from kpanic_lab.machine import MachineConfig

    return MachineConfig.create(cpus=a.cpus, memory=a.memory, cmdline=a.cmdline)


# ---------------------------------------------------------------------------- commands
@command("boot", "boot the guest kernel to the shell prompt and print its console",
         arguments=machine_options,
         example="$ kpanic-lab boot --cpus 2 --memory 256M --cmdline 'console=ttyS0 crashkernel=64M'")
def _boot(a: argparse.Namespace) -> int:
    from kpanic_lab.machine import Machine

    config = machine_config(a)
    m = Machine(config)
    try:
        result = m.boot()
    finally:
        _write(sys.stdout, m.console_text)
    if result.reason != "prompt":
        raise MachineError(f"the guest did not reach the shell prompt (it stopped: {result.reason})")
    return EXIT_OK


def _vmlinux_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--build-id", metavar="ID",
                   help=_("the image with this build-id (the one a vmcore names), from the lab's history if "
                          "it is not the current one; kept in ~/.cache/kpanic_lab/vmlinux/"))


@command("vmlinux", "print the path of the guest kernel image (for gdb, readelf, crash)",
         arguments=_vmlinux_options,
         example="$ gdb $(kpanic-lab vmlinux)\n"
                 "  $ kpanic-lab crash $(kpanic-lab vmlinux --build-id 974c2483dabfef4633670c6d21c7f73700a0b088) vmcore")
def _vmlinux(a: argparse.Namespace) -> int:
    if a.build_id is not None:
        from kpanic_lab.guest.archive import find_vmlinux, normalise_build_id

        try:
            normalise_build_id(a.build_id)
        except LabError as e:
            raise UsageError(str(e)) from None
        print(find_vmlinux(a.build_id))
        return EXIT_OK
    from kpanic_lab.guest.image import ImageError

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
    p.add_argument("scenario", metavar="SCENARIO", help=_("a name from `kpanic-lab scenarios`"))
    machine_options(p)
    p.add_argument("--trace", metavar="FILE", help=_("write the stage trace as JSON to FILE"))
    p.add_argument("--kdump", action="store_true",
                   help=_("boot with crashkernel=, load a capture kernel (kexec -p), dump, reboot"))
    p.add_argument("--kdump-conf", metavar="FILE", help=_("a RHEL kdump.conf for the capture kernel (implies --kdump)"))
    p.add_argument("--crash-dir", metavar="DIR",
                   help=f"the lab disk's folder where dumps land (implies --kdump; default ./{DEFAULT_CRASH_DIR}): "
                        "each run's dump goes to DIR/var/crash/<host>-<date>/ and stays there")
    p.add_argument("--crashkernel", metavar="SIZE", default="64M", help=_("crashkernel= value with --kdump (64M)"))


@command("run", "boot, trigger a scenario, run to the end, print the console and the stages",
         arguments=_run_options,
         example="$ kpanic-lab run sysrq-c --cpus 2 --trace sysrq.json\n"
                 "  $ kpanic-lab run sysrq-c --kdump --crash-dir /tmp/crash")
def _run(a: argparse.Namespace) -> int:
    from kpanic_lab.panic import PanicSession, UnknownScenario

    config = machine_config(a)                 # every option checked before the machine boots
    cpus = config.cpus
    _check_output_file("--trace", a.trace)
    if a.crash_dir is not None and not a.crash_dir.strip():
        raise UsageError(f"--crash-dir='': an empty folder name (leave the option out for ./{DEFAULT_CRASH_DIR})")
    if a.kdump or a.kdump_conf is not None or a.crash_dir is not None:
        return _run_kdump(a, cpus)
    _check_crashkernel(config.cmdline, config.memory)
    try:
        session = PanicSession(a.scenario, cpus=cpus, memory=a.memory, cmdline=a.cmdline)
    except UnknownScenario as e:
        raise UsageError(str(e)) from None
    for w in session.warnings:
        _error(f"warning: {w}")
    try:
        session.start()
        trace = session.run_to_end()
    except BaseException:
        if session.machine is not None:      # whatever ends the run, the console so far is printed
            _write(sys.stdout, session.machine.console_text)
        raise
    _write(sys.stdout, trace.console)
    _print_stages(trace)
    if a.trace:
        with open(a.trace, "w") as f:
            f.write(trace.to_json())
    return EXIT_OK


def _check_output_file(option: str, path: Optional[str]) -> None:
    """Refuse, before a run, a FILE the run could not write at its end."""
    if path is None:
        return
    parent = os.path.dirname(os.path.abspath(path))
    if not path or os.path.isdir(path):
        raise UsageError(f"{option} {path!r}: is a directory, not a file")
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: no such directory: {parent}")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: permission denied")


def _check_crashkernel(cmdline: str, memory: int) -> None:
    """A crashkernel= whose syntax Linux would refuse is a bad option (exit 2, one line); a size
    that parses but cannot fit is left to the guest, which says so as Linux does."""
    from kpanic_lab.kdump.crashkernel import CrashkernelError, parse_crashkernel

    try:
        parse_crashkernel(cmdline, memory)
    except CrashkernelError as e:
        raise UsageError(str(e)) from None


def _print_stages(trace: "Trace") -> None:
    """The run's stages on stderr, one a line: where, what happened (``describe``), each CPU's IF."""
    from kpanic_lab.panic.describe import stage_detail

    print(f"\n--- {trace.scenario}: {len(trace.stages)} stages, end: {trace.end}", file=sys.stderr)
    for st in trace.stages:
        ifs = " ".join(f"cpu{c.cpu}:IF={int(c.interrupts_enabled)}" for c in st.cpus)
        print(f"  {st.index:>3} {st.key:<15} cpu{st.cpu} {stage_detail(st):<55} {ifs}", file=sys.stderr)


def _run_kdump(a: argparse.Namespace, cpus) -> int:  # type: ignore[no-untyped-def]
    from kpanic_lab.kdump.run import KdumpRun
    from kpanic_lab.panic import UnknownScenario

    from kpanic_lab.kdump.config import KdumpConfError

    if not a.crashkernel.strip():
        raise UsageError(_("--crashkernel='': a size is expected, e.g. 64M"))
    from kpanic_lab.machine import MachineConfig

    _check_crashkernel(f"crashkernel={a.crashkernel} {a.cmdline or ''}", MachineConfig.create(memory=a.memory).memory)
    conf = None
    if a.kdump_conf is not None:
        try:
            with open(a.kdump_conf, "rb") as f:
                conf = f.read(1 << 20)
        except OSError as e:
            raise UsageError(f"--kdump-conf {a.kdump_conf}: {e.strerror}") from None
    crash_dir = a.crash_dir if a.crash_dir is not None else DEFAULT_CRASH_DIR
    if os.path.exists(crash_dir) and not os.path.isdir(crash_dir):
        raise UsageError(f"--crash-dir {crash_dir}: not a folder")
    try:
        run = KdumpRun(a.scenario, cpus=cpus, memory=a.memory, cmdline=a.cmdline, crashkernel=a.crashkernel,
                       kdump_conf=conf, crash_dir=crash_dir)
    except (UnknownScenario, KdumpConfError) as e:
        raise UsageError(str(e)) from None
    try:
        r = run.run()
    except BaseException:
        if run.session.machine is not None:  # whatever ends the run, the console so far is printed
            _write(sys.stdout, run.session.machine.console_text)
        raise
    for header, console in ((CONSOLE_HEADERS[0], r.first_console), (CONSOLE_HEADERS[1], r.capture_console),
                            (CONSOLE_HEADERS[2], r.reboot_console)):
        if console or header is CONSOLE_HEADERS[0]:
            _write(sys.stdout, f"{console_header(header)}\n{console}")
    _print_stages(r.trace)
    if r.outcome is not None:
        where = r.outcome.vmcore or r.outcome.raw or r.outcome.directory
        print(f"--- capture: {r.outcome.status}" + (f": {where}" if where else "")
              + (f" ({r.outcome.error})" if r.outcome.error else "") + f"; then {r.end}", file=sys.stderr)
    else:
        said = r.kexec_output.strip().splitlines()     # the console above has all of it; one line here
        print(f"--- no capture kernel ran (end: {r.end}); kexec -p exited {r.kexec_exit}: "
              f"{said[0] if said else 'nothing'}", file=sys.stderr)
    if a.trace:
        with open(a.trace, "w") as f:
            f.write(r.trace.to_json())
    return EXIT_OK if r.outcome is not None and r.outcome.status == "saved" else EXIT_FAILED


def _makedumpfile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", dest="dump_level", type=int, default=0, metavar="N",
                   help=_("dump level, a bitmask of the pages left out: {bits} (31 = all)").format(
                       bits=dump_level_legend()))
    comp = p.add_mutually_exclusive_group()
    for flag, name in COMPRESSION_OPTIONS.items():
        comp.add_argument(flag, dest="compression", action="store_const", const=name, help=f"compress pages with {name}")
    p.add_argument("-E", dest="elf", action="store_true", help=_("write an ELF vmcore (not compressed)"))
    p.add_argument("-F", dest="flatten", action="store_true", help=_("write the flattened format (for a pipe)"))
    p.add_argument("-R", dest="rebuild", action="store_true", help=_("rebuild OUT from a flattened dump on stdin"))
    p.add_argument("-f", dest="force", action="store_true", help=_("overwrite OUT if it exists"))
    p.add_argument("--dump-dmesg", action="store_true", help=_("write the kernel log of VMCORE to OUT"))
    p.add_argument("--message-level", type=int, default=7, metavar="N",
                   help=_("1 progress, 2 common, 4 error, 8 debug, 16 report (default 7, 31 = all)"))
    p.add_argument("--num-threads", type=int, default=None, metavar="N",
                   help=_("compress pages in N threads (default: the host's cores, up to 4; 0: no threads); "
                          "the output is the same whatever N"))
    p.add_argument("--cyclic-buffer", type=int, default=None, metavar="KiB",
                   help=_("memory for one cycle of page classification, in KiB (default 16384): "
                          "the dump is walked in cycles, so memory does not grow with its size"))
    p.add_argument("paths", nargs="+", metavar="VMCORE OUT", help=_("the ELF vmcore and the dump file to write"))


@command("makedumpfile", "filter and compress a vmcore (makedumpfile's options), or rebuild a flattened one",
         arguments=_makedumpfile_options,
         example="$ kpanic-lab makedumpfile -z -d 31 --message-level 23 vmcore.elf vmcore\n"
                 "  $ kpanic-lab makedumpfile -R vmcore < vmcore.flat")
def _makedumpfile(a: argparse.Namespace) -> int:
    # numpy is first imported here; the collector does no linear algebra, so OpenBLAS need not start a
    # thread per core as it loads (they spin: ~0.1 s of CPU, which a loaded 2-core host feels)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from kpanic_lab.formats import open_dump
    from kpanic_lab.kdump.makedumpfile import (MAX_MSG_LEVEL, dump_dmesg, format_progress, makedumpfile,
                                               rebuild_flattened)

    if not 0 <= a.message_level <= MAX_MSG_LEVEL:
        raise UsageError(f"--message-level {a.message_level}: it is 0 .. {MAX_MSG_LEVEL}")
    if a.elf and a.compression:
        raise UsageError(_("-E cannot be used with -c, -l, -p or -z: an ELF dump is not compressed"))
    if not 0 <= a.dump_level <= 31:
        raise UsageError(f"-d {a.dump_level}: the dump level is out of range (0 .. 31)")
    if a.num_threads is not None and not 0 <= a.num_threads <= 64:
        raise UsageError(f"--num-threads {a.num_threads}: it is 0 .. 64")
    if a.cyclic_buffer is not None and a.cyclic_buffer <= 0:
        raise UsageError(f"--cyclic-buffer {a.cyclic_buffer}: it is a size in KiB, more than 0")
    wanted = 1 if a.rebuild else 2
    if len(a.paths) != wanted:
        raise UsageError("-R takes one path: OUT (the flattened dump comes on stdin)" if a.rebuild
                         else "makedumpfile needs VMCORE and OUT")
    out_path = a.paths[-1]
    to_stdout = out_path == "-"
    if to_stdout and not (a.flatten or a.dump_dmesg) or (to_stdout and a.rebuild):
        raise UsageError(_("writing to stdout needs -F (the flattened format): a pipe cannot seek"))
    if not to_stdout and os.path.isdir(out_path):
        raise UsageError(f"{out_path} is a directory: OUT is the dump file to write")
    if not to_stdout and os.path.exists(out_path) and not a.force:
        raise UsageError(f"{out_path} exists (makedumpfile: \"File exists.\"); -f overwrites it")
    if not to_stdout:
        _check_output_file("OUT", out_path)
    if not a.rebuild and not os.path.isfile(a.paths[0]):
        raise UsageError(f"VMCORE {a.paths[0]}: " + ("is not a regular file" if os.path.exists(a.paths[0])
                                                     else "No such file or directory"))
    msg_out = sys.stderr if to_stdout else sys.stdout
    state: Dict[str, Any] = {"step": "", "lapse": 0, "t0": 0.0, "open": False}

    def progress(step: str, done: int, total: int) -> None:
        import time
        if not a.message_level & 1:
            return
        if step != state["step"]:
            state.update(step=step, t0=time.monotonic())
        elapsed = time.monotonic() - state["t0"] if step.startswith("Copying") else None
        sys.stderr.write("\r" + format_progress(step, done, total, elapsed, state["lapse"]))
        state["lapse"] += 1
        state["open"] = done < total
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def say(m) -> None:  # type: ignore[no-untyped-def]
        if m.level & a.message_level:
            if state["open"]:
                sys.stderr.write("\n")
                state["open"] = False
            stream = msg_out if m.stream == "stdout" else sys.stderr
            stream.write(m.text)
            stream.flush()

    name = "STDOUT" if to_stdout else out_path
    tmp = out_path + ".incomplete" if not to_stdout else None
    try:
        out: BinaryIO = sys.stdout.buffer if to_stdout else open(tmp, "wb")  # type: ignore[arg-type,assignment]
    except OSError as e:
        raise UsageError(f"OUT {out_path}: {e.strerror}") from None
    try:
        if a.rebuild:
            rebuild_flattened(sys.stdin.buffer, out, name, say)
        else:
            with open_dump(a.paths[0]) as dump:
                if a.dump_dmesg:
                    dump_dmesg(dump, out, name, say)
                else:
                    makedumpfile(dump, out, a.dump_level, a.compression, "elf" if a.elf else "kdump",
                                 a.flatten, progress, name, on_message=say, num_threads=a.num_threads,
                                 **({"cyclic_buffer": a.cyclic_buffer << 10} if a.cyclic_buffer else {}))
        if tmp:
            out.close()
            os.replace(tmp, out_path)
    except BaseException as e:
        if state["open"]:
            sys.stderr.write("\n")
        if tmp:
            out.close()
            if os.path.exists(tmp):
                os.unlink(tmp)           # nothing is left behind on failure
        if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
            raise LabError(f"makedumpfile: {out_path}: {e.strerror or e}") from None
        raise
    return EXIT_OK


def _crash_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="VMLINUX VMCORE",
                   help=_("the dump and its kernel, in either order (the kernel defaults to the shipped one)"))
    p.add_argument("-i", dest="script", metavar="FILE", help=_("run the commands in FILE, then exit (as crash -i)"))
    p.add_argument("--live", metavar="SCENARIO",
                   help=_("no dump: run SCENARIO on a lab machine and analyse the machine as it stands"))
    p.add_argument("--echo", action=argparse.BooleanOptionalAction, default=None,
                   help=_("print crash> and each command line before its output (the default with -i, as crash "
                          "does; --no-echo leaves it out)"))
    machine_options(p)


@command("crash", "the crash-like shell on a vmcore (or on a live panicked machine)",
         arguments=_crash_options,
         example="$ kpanic-lab crash $(kpanic-lab vmlinux) vmcore\n"
                 "  $ echo 'bt -a' | kpanic-lab crash --live sysrq-c")
def _crash(a: argparse.Namespace) -> int:
    from kpanic_lab.crash.repl import CrashUsageError, main as crash_main

    machine = {"cpus": int(a.cpus) if str(a.cpus).isdigit() else a.cpus, "memory": a.memory,
               "cmdline": a.cmdline} if a.live else {}
    try:
        return crash_main(a.files, script=a.script, live=a.live, echo=a.echo, **machine)
    except CrashUsageError as e:
        raise UsageError(str(e)) from None


def _exercises_options(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    g = sub.add_parser("generate", help=_("every student's dump and the answer key (exercise 7)"))
    g.add_argument("--students", required=True, metavar="ROSTER.csv", help=_("the roster: a 'student' column"))
    g.add_argument("--out", required=True, metavar="DIR", help=_("DIR/students/<id>/ to hand out, DIR/key/ to keep"))
    g.add_argument("--secret", default=os.environ.get("KPANIC_LAB_COURSE_SECRET", ""), metavar="TEXT",
                   help=_("the course's secret, mixed into every seed (default $KPANIC_LAB_COURSE_SECRET)"))
    g.add_argument("--jobs", type=int, default=None, metavar="N", help=_("processes (default: one per core)"))
    r = sub.add_parser("grade", help=_("grade exercise 7 in a folder of submissions, without nbgrader"))
    r.add_argument("submissions", metavar="SUBMISSIONS_DIR", help=_("one folder per student"))
    r.add_argument("--key", required=True, metavar="answers.csv", help=_("the key generate wrote (DIR/key/answers.csv)"))
    r.add_argument("--out", required=True, metavar="grades.csv")
    c = sub.add_parser("course", help=_("an nbgrader course folder (source/, nbgrader_config.py) and student/ copies"))
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--course-id", default="kpanic_lab", metavar="ID")


@command("exercises", "the student exercises: per-student dumps, grading, an nbgrader course folder",
         arguments=_exercises_options,
         example="$ kpanic-lab exercises generate --students roster.csv --out class/\n"
                 "  $ kpanic-lab exercises grade submitted/ --key class/key/answers.csv --out grades.csv")
def _exercises(a: argparse.Namespace) -> int:
    from kpanic_lab.exercises import course

    if a.action == "generate":
        if a.jobs is not None and a.jobs < 1:
            raise UsageError(f"--jobs={a.jobs}: give at least 1")
        try:
            students = course.read_roster(a.students)
        except course.CourseError as e:
            raise UsageError(f"--students: {e}") from None

        def progress(done: int, total: int, student: str) -> None:
            sys.stderr.write(f"\r[{done:>{len(str(total))}}/{total}] {student:<24}")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        out = course.generate(students, a.out, secret=a.secret, jobs=a.jobs, progress=progress)
        _write(sys.stdout, f"{len(out.truths)} dumps in {out.students}/ (hand these out)\n"
                           f"answer key: {out.key} (keep it; students never get it)")
        return EXIT_OK
    if a.action == "grade":
        grades = course.grade(a.submissions, a.key)
        course.write_grades(grades, a.out)
        for gr in grades:
            _write(sys.stdout, f"{gr.student:<24} {gr.total}/5 {gr.note}".rstrip())
        return EXIT_OK
    root = course.make_course(a.out, a.course_id)
    _write(sys.stdout, f"nbgrader course in {root}: cd there, then nbgrader generate_assignment ASSIGNMENT")
    return EXIT_OK


def _real_options(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help=_("boot the real kernel, trigger SCENARIO, with --kdump save the real vmcore"))
    r.add_argument("scenario", metavar="SCENARIO",
                   help=_("what crashes the real kernel: sysrq-c, oops (a NULL write in a module built "
                          "against the installed headers; the writer dies, the kernel goes on) or "
                          "oops-panic (the same with oops=panic)"))
    r.add_argument("--kdump", action="store_true",
                   help=_("boot with crashkernel=, load the capture kernel with the real kexec -p, "
                          "save the dump with the real makedumpfile"))
    r.add_argument("--crash-dir", metavar="DIR", default=DEFAULT_CRASH_DIR,
                   help=_("where the consoles and the vmcore go (default ./crash)"))
    r.add_argument("--cpus", type=int, default=2, metavar="N", help=_("number of CPUs (1-8, default 2)"))
    r.add_argument("--memory", default="512M", metavar="SIZE", help=_("guest RAM (default 512M)"))
    r.add_argument("--crashkernel", default="160M", metavar="SIZE", help=_("crashkernel= value with --kdump (160M)"))
    r.add_argument("--compress", choices=("lzo", "zlib"), default="lzo",
                   help=_("makedumpfile's compression: lzo (fast) or zlib (small)"))
    r.add_argument("--timeout", type=float, default=240.0, metavar="SECONDS",
                   help=_("stop QEMU after this many seconds (default 240)"))
    r.add_argument("--nokaslr", action="store_true",
                   help=_("boot with nokaslr: symbols at their link addresses (KERNELOFFSET=0)"))


@command("real", "the same crash on Debian's real Linux kernel under QEMU (real kexec and makedumpfile)",
         arguments=_real_options,
         example="$ kpanic-lab real run sysrq-c --kdump --crash-dir /tmp/real\n"
                 "  $ kpanic-lab real run oops-panic --kdump --crash-dir /tmp/real-oops")
def _real(a: argparse.Namespace) -> int:
    from kpanic_lab.real import run_real

    if a.timeout <= 0:
        raise UsageError(_("--timeout={value}: give a number of seconds above 0").format(value=a.timeout))

    def progress(template: str, values: Dict[str, str]) -> None:
        print(f"--- {_(template).format(**values)}", file=sys.stderr, flush=True)

    r = run_real(a.scenario, kdump=a.kdump, crash_dir=a.crash_dir, memory=a.memory, crashkernel=a.crashkernel,
                 cpus=a.cpus, compress=a.compress, timeout=a.timeout, kaslr=not a.nokaslr, progress=progress)
    _write(sys.stdout, f"{console_header(CONSOLE_HEADERS[0])}\n{r.first_console}")
    if r.capture_console:
        _write(sys.stdout, f"{console_header(CONSOLE_HEADERS[1])}\n{r.capture_console}")
    if r.kdump and r.vmcore is None:
        print("--- " + _("the oops did not panic (panic_on_oops=0): the kernel went on, so kdump had "
                         "nothing to save"), file=sys.stderr)
    print("--- " + _("QEMU ran {qemu:.1f} s, the whole run {total:.1f} s; in {folder}: {files}").format(
        qemu=r.qemu_seconds, total=r.total_seconds, folder=r.crash_dir,
        files=", ".join(sorted(os.listdir(r.crash_dir)))), file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------- front-end
def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The argparse parser, one subparser per registered command (``only``: that command's alone,
    which parses its arguments the same way and costs a command like makedumpfile no time for
    the others' help)."""
    ap = argparse.ArgumentParser(
        prog=PROG,
        description=_("Crash a small x86-64 Linux-like kernel on an emulated machine and watch panic() and kdump."),
        epilog=_("Run `kpanic-lab COMMAND --help` for a command's options."),
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {kpanic_lab.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS.values():
        if only is not None and c.name != only:
            continue
        p = sub.add_parser(c.name, help=_(c.summary), description=_(c.summary),
                           epilog=f"{_('example:')}\n  {c.example}" if c.example else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.arguments(p)
        p.set_defaults(handler=c.run)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``kpanic-lab`` with ``argv`` (default: the process's arguments); return the exit code."""
    try:
        set_language(language())         # the locale variables, checked once, in one line if wrong
    except ValueError as e:
        _error(str(e))
        return EXIT_USAGE
    args = sys.argv[1:] if argv is None else list(argv)
    ap = build_parser(args[0] if args and args[0] in COMMANDS else None)
    a = ap.parse_args(args)
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
        _error(_("interrupted"))
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
