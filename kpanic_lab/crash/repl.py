"""``kpanic-lab crash``: the shell interactive (readline, history) or batch (``-i FILE``, stdin).

    $ kpanic-lab crash $(kpanic-lab vmlinux) vmcore          interactive
    $ kpanic-lab crash vmcore -i cmds.txt                    batch, as crash -i
    $ echo bt | kpanic-lab crash --live sysrq-c              a live panicked machine, no dump

Like crash, the two files may come in either order, and the vmlinux may be left out
(the shipped guest kernel is then used).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Iterable, List, Optional, Tuple

from kpanic_lab.crash.session import PROMPT, CrashSession
from kpanic_lab.errors import LabError

MAX_SCRIPT = 1 << 20          # -i FILE and stdin: at most 1 MiB of commands (crash -i /dev/zero ends)
HISTORY = Path(os.environ.get("KPANIC_CRASH_HISTORY", Path.home() / ".kpanic_lab_crash_history"))


class CrashUsageError(LabError):
    """Bad files or options for the shell (one line)."""


def classify_files(paths: List[str]) -> Tuple[Optional[str], Optional[str]]:
    """(vmlinux, vmcore) from up to two paths in any order, by what the files are:
    an ELF executable is a vmlinux; an ELF core, a kdump-compressed or a flattened
    dump is a vmcore (crash accepts them either way round too)."""
    vmlinux = vmcore = None
    for p in paths:
        try:
            with open(p, "rb") as f:
                head = f.read(64)
        except OSError as e:
            raise CrashUsageError(f"{p}: {e.strerror}") from None
        if head[:4] == b"\x7fELF" and len(head) >= 18 and int.from_bytes(head[16:18], "little") == 2:
            kind = "vmlinux"          # ET_EXEC
        else:
            kind = "vmcore"           # the dump reader says what is wrong with it, if anything
        if kind == "vmlinux":
            if vmlinux:
                raise CrashUsageError(f"two kernels given: {vmlinux} and {p}")
            vmlinux = p
        else:
            if vmcore:
                raise CrashUsageError(f"two dumps given: {vmcore} and {p}")
            vmcore = p
    return vmlinux, vmcore


def script_lines(data: bytes, name: str, first: int = 1) -> List[str]:
    """The command lines of a script's bytes (at most MAX_SCRIPT of them, UTF-8 text, no NUL):
    CrashUsageError names the line that is not text (counting from ``first``)."""
    if len(data) > MAX_SCRIPT:
        raise CrashUsageError(f"{name}: more than {MAX_SCRIPT >> 20} MiB of commands: not a command file")
    lines = data.split(b"\n")
    for no, raw in enumerate(lines, first):
        if b"\0" in raw:
            raise CrashUsageError(f"{name}:{no}: holds a NUL byte: not a command file")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CrashUsageError(f"{name}:{no}: byte 0x{raw[e.start]:02x} at column {e.start + 1} "
                                  "is not UTF-8 text") from None
    text = data.decode("utf-8")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _stream_lines(stream: IO[bytes], name: str) -> Iterable[str]:
    """Lines from a binary stream as they come (a pipe), each checked as script_lines does."""
    total, no = 0, 0
    while True:
        raw = stream.readline(MAX_SCRIPT + 1 - total)
        if not raw:
            return
        total += len(raw)
        no += 1
        if total > MAX_SCRIPT:
            raise CrashUsageError(f"{name}: more than {MAX_SCRIPT >> 20} MiB of commands: not a command file")
        yield script_lines(raw.rstrip(b"\n"), name, no)[0]


def run_batch(session: CrashSession, lines: Iterable[str], out: IO[str], echo: bool = False) -> int:
    """Run ``lines`` one by one (until q/exit), writing each output; returns 0."""
    for line in lines:
        line = line.rstrip("\n")
        if echo and line.strip():
            out.write(PROMPT + line.strip() + "\n")
        text = session.run(line)
        if text:
            out.write(text + "\n")
        out.flush()
        if session.done:
            break
    return 0


def run_interactive(session: CrashSession, out: Optional[IO[str]] = None) -> int:
    """Read-eval-print with readline editing and a history file, until q or end of input."""
    out = out or sys.stdout
    try:
        import readline
    except ImportError:          # no readline on this Python: plain input() still works
        readline = None  # type: ignore[assignment]
    if readline is not None:
        try:
            readline.read_history_file(HISTORY)
        except OSError:
            pass
        readline.set_history_length(1000)
    out.write(session.run("sys") + "\n\n" + session.run("set") + "\n\n")
    try:
        while not session.done:
            try:
                line = input(PROMPT)
            except EOFError:
                out.write("\n")
                break
            except KeyboardInterrupt:
                out.write("\n")
                continue
            try:
                text = session.run(line)
            except KeyboardInterrupt:
                text = "(interrupted)"
            if text:
                out.write(text + "\n")
            out.flush()
    finally:
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass
    return 0


def open_session(files: List[str], live: Optional[str] = None, **machine: object) -> CrashSession:
    """The session the command line asks for: a vmcore (with its vmlinux) or a live scenario."""
    if live:
        if files:
            vmlinux, vmcore = classify_files(files)
            if vmcore:
                raise CrashUsageError("--live analyses a machine, not a dump: give no VMCORE with it")
        return CrashSession.live(live, **machine)
    if not files:
        raise CrashUsageError("give a VMCORE (and its VMLINUX), or --live SCENARIO")
    vmlinux, vmcore = classify_files(files)
    if vmcore is None:
        raise CrashUsageError(f"no dump among {', '.join(files)} (a vmlinux alone is not enough: "
                              "give the vmcore, or --live SCENARIO)")
    return CrashSession.open(vmcore, vmlinux, progress=_progress)


def _progress(line: str) -> None:
    """A slow load says what it is doing first (on stderr, so batch output stays the commands')."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(files: List[str], script: Optional[str] = None, live: Optional[str] = None,
         echo: Optional[bool] = None, stdin: Optional[IO[str]] = None, out: Optional[IO[str]] = None,
         **machine: object) -> int:
    """The ``kpanic-lab crash`` front-end: batch from ``script`` or a non-terminal stdin,
    interactive otherwise. ``echo`` prints ``crash> CMD`` before each output; by default it is on
    for a script (crash -i shows each command of its input file so) and off for stdin."""
    if echo is None:
        echo = script is not None
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    lines: Optional[List[str]] = None
    if script is not None:          # checked before the dump is opened
        try:
            with open(script, "rb") as f:
                data = f.read(MAX_SCRIPT + 1)
        except OSError as e:
            raise CrashUsageError(f"-i {script}: {e.strerror}") from None
        lines = script_lines(data, f"-i {script}")
    session = open_session(files, live, **machine)
    for warning in session.warnings:        # as crash warns when it opens such a dump
        sys.stderr.write(f"WARNING: {warning}\n")
    if lines is not None:
        return run_batch(session, lines, out, echo)
    if not stdin.isatty():
        binary = getattr(stdin, "buffer", None)
        return run_batch(session, _stream_lines(binary, "stdin") if binary is not None else stdin, out, echo)
    return run_interactive(session, out)
