"""The real side of notebook 10: a fresh real run when the host has the tools, else a recorded one.

A real run needs Debian's QEMU, kernel, busybox, kexec-tools and makedumpfile (``host.py``); opening
its dump needs the kernel's debug symbols (``linux-image-amd64-dbg``).  A machine without them (a
Binder pod, a laptop) still gets the whole story: ``recorded/`` holds a previous real run's two
consoles and the shell outputs on its dump, with ``recorded/README.md`` saying when, where and how
they were captured (``tools/record_real.py`` writes them all again).  SysRq-c's recording sits in
``recorded/`` itself, every other scenario's in ``recorded/<scenario>/`` (:func:`recorded_dir`).

:func:`load_real` returns a :class:`RealSide` that says which it is and, when recorded, why (the
apt line of what is missing, or what failed).  :func:`real_shell` and :func:`real_crash` do the same
for the dump: the lab's crash-like shell, or real crash 8, on the real vmcore.

``KPANIC_LAB_REAL`` in the environment chooses for every call that is not told: ``recorded`` never
runs anything on the host (as if the tools were missing: what CI does to test the fallback),
``run`` runs or fails loudly, anything else (or unset) runs when it can and falls back otherwise.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from kpanic_lab.errors import LabError
from kpanic_lab.i18n import _
from kpanic_lab.real.host import RealHostError, apt_line, find_host
from kpanic_lab.real.run import DEFAULT_CRASHKERNEL, DEFAULT_MEMORY, RealRunError, run_real

RECORDED = Path(__file__).resolve().parent / "recorded"
DEFAULT_SCENARIO = "sysrq-c"          # the one recorded in recorded/ itself (the notebook's first)
RECORDED_SCENARIOS = ("sysrq-c", "oops-panic")     # the real scenarios that end in a dump, each recorded
ENV = "KPANIC_LAB_REAL"
MODES = ("auto", "run", "recorded")
# the kernel's DWARF: Debian's linux-image-<release>-dbg (linux-image-amd64-dbg depends on the newest)
DEBUG_VMLINUX = "/usr/lib/debug/boot/vmlinux-{release}"
DEBUG_PACKAGE = "linux-image-amd64-dbg"
# the commands the notebook runs on both dumps, in this order
SHELL_COMMANDS = ("sys", "bt", "ps", "log | tail -25")
PROMPT = "crash> "


class RealSideError(LabError):
    """The recorded data is missing from the package, or KPANIC_LAB_REAL=run and the run failed."""


def mode(requested: Optional[str] = None) -> str:
    """``requested``, else ``$KPANIC_LAB_REAL``, as one of :data:`MODES` (unknown values: ``auto``).

    >>> mode("recorded"), mode("run"), mode("anything")
    ('recorded', 'run', 'auto')
    """
    value = requested if requested is not None else os.environ.get(ENV, "auto")
    return value if value in MODES else "auto"


def recorded_dir(scenario: str = DEFAULT_SCENARIO) -> Path:
    """Where ``scenario``'s recording lives: ``recorded/`` for SysRq-c, ``recorded/<scenario>/`` else.

    >>> recorded_dir().name, recorded_dir("oops-panic").name
    ('recorded', 'oops-panic')
    """
    return RECORDED if scenario == DEFAULT_SCENARIO else RECORDED / scenario


def _recorded(name: str, scenario: str = DEFAULT_SCENARIO) -> str:
    path = recorded_dir(scenario) / name
    try:
        return path.read_text()
    except FileNotFoundError:
        raise RealSideError(f"{path}: the recorded real run of {scenario} is not installed with the package "
                            f"(tools/record_real.py --scenario {scenario} writes it)") from None


def recorded_about(scenario: str = DEFAULT_SCENARIO) -> str:
    """``README.md`` of ``scenario``'s recording: when, where and how its outputs were captured."""
    return _recorded("README.md", scenario)


def _forced() -> str:
    return _("recorded outputs ({env}=recorded)").format(env=ENV)


# ----------------------------------------------------------------------------- the consoles
@dataclass
class RealSide:
    """The real kernel's consoles (and dump), from a run on this machine or from the recording."""

    first_console: str
    capture_console: str
    source: str                       # "run" or "recorded"
    note: str                         # run: what ran and how long; recorded: why and what to install
    vmcore: Optional[str] = None      # a run's dump (None when recorded: the dump is not shipped)
    release: str = ""                 # "6.1.0-57-amd64"

    @property
    def recorded(self) -> bool:
        return self.source == "recorded"


def release_of(console: str) -> str:
    """The kernel release from a console's ``Linux version`` line (pure).

    >>> release_of("[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) ...")
    '6.1.0-57-amd64'
    """
    m = re.search(r"Linux version (\S+)", console)
    return m.group(1) if m else ""


def recorded_side(why: str = "", scenario: str = DEFAULT_SCENARIO) -> RealSide:
    """The shipped consoles of a previous real run of ``scenario``; ``why`` says why they are shown."""
    first = _recorded("console.first.log", scenario)
    return RealSide(first, _recorded("console.capture.log", scenario), "recorded",
                    why or _forced(), None, release_of(first))


def missing_tools() -> str:
    """'' when the host can do a real run, else the one line naming what to install."""
    try:
        find_host()
    except RealHostError as e:
        return str(e)
    return ""


def load_real(crash_dir: Optional[str] = None, *, scenario: str = DEFAULT_SCENARIO, use: Optional[str] = None,
              timeout: float = 150.0, memory: str = DEFAULT_MEMORY, crashkernel: str = DEFAULT_CRASHKERNEL
              ) -> RealSide:
    """The real ``scenario`` with kdump: run now under QEMU (when the host has the tools) or recorded.

    ``scenario`` is one that ends in a dump and has a recording: ``sysrq-c`` or ``oops-panic``.
    ``use`` is one of :data:`MODES` (default ``$KPANIC_LAB_REAL``).  A run is bounded by
    ``timeout`` seconds of QEMU; when it fails, ``auto`` falls back to the recording and says why.
    The dump and consoles go to ``crash_dir`` (a new temporary folder when None).
    """
    if scenario not in RECORDED_SCENARIOS:
        raise RealSideError(f"no recorded real run of {scenario!r}: the notebook's scenarios are "
                            f"{', '.join(RECORDED_SCENARIOS)}")
    how = mode(use)
    if how == "recorded":
        return recorded_side(scenario=scenario)
    missing = missing_tools()
    if missing:
        if how == "run":
            raise RealSideError(missing)
        return recorded_side(_("recorded outputs: {why}").format(why=missing), scenario)
    crash_dir = crash_dir or tempfile.mkdtemp(prefix="kpanic-real-")
    try:
        run = run_real(scenario, kdump=True, crash_dir=crash_dir, memory=memory, crashkernel=crashkernel,
                       timeout=timeout)
    except RealRunError as e:
        if how == "run":
            raise
        return recorded_side(_("recorded outputs: the real run failed here: {why}").format(why=e), scenario)
    note = _("run here: QEMU {qemu:.0f} s, {total:.0f} s in all, the dump in {vmcore}").format(
        qemu=run.qemu_seconds, total=run.total_seconds, vmcore=run.vmcore)
    return RealSide(run.first_console, run.capture_console, "run", note, run.vmcore,
                    release_of(run.first_console))


# ----------------------------------------------------------------------------- the shells
@dataclass
class Transcript:
    """What a crash-like shell printed for each command, and where it came from."""

    tool: str                          # "kpanic-lab crash" or "crash 8.0.2"
    outputs: Dict[str, str]            # command line -> its output
    source: str                        # "run" or "recorded"
    note: str = ""
    commands: List[str] = field(default_factory=list)

    def text(self, commands: Optional[Sequence[str]] = None) -> str:
        """The transcript as crash prints it with ``crash> `` before each command."""
        out = []
        for c in commands or self.commands or list(self.outputs):
            out.append(PROMPT + c)
            out.append(self.outputs.get(c, "").rstrip("\n"))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()


def split_transcript(text: str) -> Dict[str, str]:
    """A ``crash> CMD`` transcript cut into {command: output} (pure; text before the first prompt dropped).

    >>> split_transcript("noise\\ncrash> sys\\n  CPUS: 2\\ncrash> bt\\n#0 panic\\n")
    {'sys': '  CPUS: 2', 'bt': '#0 panic'}
    """
    out: Dict[str, str] = {}
    current: Optional[str] = None
    lines: List[str] = []
    for line in text.splitlines():
        if line.startswith(PROMPT):
            if current is not None:
                out[current] = "\n".join(lines).strip("\n")
            current, lines = line[len(PROMPT):].strip(), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        out[current] = "\n".join(lines).strip("\n")
    return out


def recorded_transcript(name: str, scenario: str = DEFAULT_SCENARIO) -> Transcript:
    """A shipped transcript: ``crash8.txt`` (real crash 8) or ``labshell.txt`` (the lab's shell)."""
    text = _recorded(name, scenario)
    first = text.splitlines()[0] if text else ""
    tool = first[len("# tool: "):] if first.startswith("# tool: ") else name
    outputs = split_transcript(text)
    return Transcript(tool, outputs, "recorded", "", list(outputs))


def debug_vmlinux(release: str) -> Optional[str]:
    """The installed debug vmlinux of ``release``, or None."""
    path = DEBUG_VMLINUX.format(release=release)
    return path if release and os.path.isfile(path) else None


def _run_shell(name: str, argv: List[str], commands: Sequence[str], timeout: float, stdin: bool) -> str:
    """A shell in a subprocess, its commands marked with ``crash> `` (bounded by ``timeout``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".cmds", delete=False) as f:
        if stdin:       # real crash: `!echo` prints each prompt line (with -i it neither echoes nor pipes)
            f.write("".join(f"!echo '{PROMPT}{c}'\n{c}\n" for c in commands) + "q\n")
        else:
            f.write("".join(f"{c}\n" for c in commands))
        script = f.name
    try:
        with open(script) as cmds:
            r = subprocess.run(argv + ([] if stdin else ["-i", script]), stdin=cmds if stdin else subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout, errors="replace")
    finally:
        os.unlink(script)
    if r.returncode != 0:
        last = (r.stderr or r.stdout).strip().splitlines()
        why = last[-1] if last else "no message"
        why = why[len("kpanic-lab: "):] if why.startswith("kpanic-lab: ") else why
        raise LabError(f"{name} exited with status {r.returncode}: {why}")
    return r.stdout


def real_crash(vmcore: Optional[str], release: str, commands: Sequence[str] = SHELL_COMMANDS, *,
               scenario: str = DEFAULT_SCENARIO, use: Optional[str] = None, timeout: float = 60.0) -> Transcript:
    """Real crash 8 on the real dump (``crash -s VMLINUX VMCORE``), or ``scenario``'s recorded outputs."""
    why = ""
    vmlinux = debug_vmlinux(release)
    crash = shutil.which("crash")
    if mode(use) == "recorded":
        why = _forced()
    elif vmcore is None:
        why = _("recorded outputs of the recorded run (its dump is not shipped)")
    elif crash is None or vmlinux is None:
        need = [p for p, ok in (("crash", crash), (DEBUG_PACKAGE, vmlinux)) if not ok]
        why = _("recorded outputs: this needs {packages}; install with: {apt}").format(
            packages=", ".join(need), apt=apt_line(need))
    else:
        try:
            text = _run_shell("crash", [crash, "-s", vmlinux, vmcore], commands, timeout, stdin=True)
            outputs = split_transcript(text)
            return Transcript("crash " + crash_version(crash), outputs, "run", f"crash -s {vmlinux} {vmcore}",
                              list(commands))
        except (LabError, subprocess.TimeoutExpired, OSError) as e:
            why = _("recorded outputs: real crash failed here: {why}").format(why=e)
    t = recorded_transcript("crash8.txt", scenario)
    t.note = why
    return t


def crash_version(crash: str = "crash") -> str:
    """``8.0.2`` from ``crash --version``."""
    try:
        out = subprocess.run([crash, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"crash (\S+)", out)
    return m.group(1) if m else "?"


def lab_shell_transcript(vmcore: str, vmlinux: str, commands: Sequence[str] = SHELL_COMMANDS,
                         timeout: float = 60.0) -> Transcript:
    """The lab's shell (``kpanic-lab crash VMLINUX VMCORE -i FILE``) in a subprocess, bounded by ``timeout``.

    A subprocess, so that a dump the shell cannot read yet costs at most ``timeout`` and never
    hangs the notebook.  Raises LabError (or TimeoutExpired) when it fails or says nothing useful:
    ``sys`` runs first whether asked for or not, and a ``sys`` without ``RELEASE:`` means the shell
    could not read the dump.
    """
    asked = list(commands)
    argv = [sys.executable, "-m", "kpanic_lab", "crash", vmlinux, vmcore, "--echo"]
    text = _run_shell("kpanic-lab crash", argv, asked if "sys" in asked else ["sys"] + asked, timeout, stdin=False)
    outputs = split_transcript(text)
    if "RELEASE:" not in outputs.get("sys", ""):
        first = outputs.get("sys", text).strip().splitlines()
        raise LabError(f"the lab's shell could not read this dump: {first[0] if first else 'no output'}")
    if "sys" not in asked:
        del outputs["sys"]
    return Transcript("kpanic-lab crash", outputs, "run", f"kpanic-lab crash {vmlinux} {vmcore}", asked)


def real_shell(vmcore: Optional[str], release: str, commands: Sequence[str] = SHELL_COMMANDS, *,
               scenario: str = DEFAULT_SCENARIO, use: Optional[str] = None, timeout: float = 45.0) -> Transcript:
    """The lab's crash-like shell on the real dump with the real debug vmlinux, or ``scenario``'s recorded outputs.

    Recorded: the lab shell's own outputs on the recorded dump when the recording has them
    (``labshell.txt``), else real crash 8's (``crash8.txt``); the note says which and why.
    """
    vmlinux = debug_vmlinux(release)
    if mode(use) == "recorded":
        why = _forced()
    elif vmcore is None:
        why = _("recorded outputs of the recorded run (its dump is not shipped)")
    elif vmlinux is None:
        why = _("recorded outputs: opening a real dump needs the kernel's debug symbols ({path}); "
                "install with: {apt}").format(path=DEBUG_VMLINUX.format(release=release or "<release>"),
                                               apt=apt_line([DEBUG_PACKAGE]))
    else:
        try:
            return lab_shell_transcript(vmcore, vmlinux, commands, timeout)
        except subprocess.TimeoutExpired:
            why = _("recorded outputs: the lab's shell did not finish on the real dump within {n:.0f} s").format(
                n=timeout)
        except (LabError, OSError) as e:
            why = _("recorded outputs: {why}").format(why=e)
    name = "labshell.txt" if (recorded_dir(scenario) / "labshell.txt").is_file() else "crash8.txt"
    t = recorded_transcript(name, scenario)
    t.note = why if name == "labshell.txt" else _("{why}; shown: real crash 8's outputs on the recorded dump").format(
        why=why)
    return t
