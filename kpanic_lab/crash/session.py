"""A crash session: one program, a current context (task), and commands run by line.

The same object serves the ``kpanic-lab crash`` shell, batch scripts and notebooks:

>>> s = CrashSession.live("sysrq-c")           # doctest: +SKIP
>>> print(s.run("bt"))                         # doctest: +SKIP
PID: 3        TASK: ffffffff81065fb0  CPU: 1    COMMAND: "sh"
 #0 [ffff888000393c90] mdelay at ffffffff8100d2ee
 ...
>>> print(s.run("ps --py"))                    # the Python that does the same  # doctest: +SKIP

A line may end in shell pipes (``log | tail -40``, ``ps | grep sh``); ``--py`` prints
the library calls a command makes instead of running it.  Errors are one line
(``bt: no task with pid or address 99``): the session never raises out of ``run``.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

from kpanic_lab.analysis.errors import AnalysisError, NotFound
from kpanic_lab.analysis.program import Program
from kpanic_lab.analysis.target import Target
from kpanic_lab.analysis.tasks import Task, active_tasks, find_task, panic_cpu, task_on_cpu
from kpanic_lab.crash.pipes import apply_pipes, split_pipes
from kpanic_lab.crash.registry import COMMANDS, CommandError, Output, lookup
from kpanic_lab.errors import LabError

PROMPT = "crash> "


class CrashSession:
    """Commands over one target (a live panicked machine or a vmcore)."""

    def __init__(self, target: Union[Target, Program]) -> None:
        import kpanic_lab.crash.commands  # noqa: F401  (registers the commands)

        self.prog = target if isinstance(target, Program) else Program(target)
        self.target = self.prog.target
        self.done = False
        self._context: Optional[Task] = None
        self.last: Optional[Output] = None
        self.value_count = 0            # p's $1, $2 ...

    # ---------------------------------------------------------------- opening
    @classmethod
    def live(cls, scenario: str = "sysrq-c", **machine_options: object) -> "CrashSession":
        """Boot a lab machine, run ``scenario`` to its end, and analyse it as it stands."""
        from kpanic_lab.analysis.target import live_target

        return cls(live_target(scenario, **machine_options))  # type: ignore[arg-type]

    @classmethod
    def open(cls, vmcore: Union[str, Path], vmlinux: Union[str, Path, None] = None,
             progress: Optional[Callable[[str], None]] = None) -> "CrashSession":
        """A vmcore (any format) with its vmlinux (default: the shipped guest kernel).

        The lab's own guest kernel is read by the lab (pyelftools); any other vmlinux, a
        distribution kernel such as Debian's ``/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64``,
        through drgn (``kpanic_lab.analysis.drgn_backend``), which tells ``progress`` one line
        before it reads the debug info.

        >>> s = CrashSession.open("vmcore", "/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64")  # doctest: +SKIP
        >>> print(s.run_script("sys\nbt", echo=True))                                      # doctest: +SKIP
        """
        from kpanic_lab.analysis.drgn_backend import is_lab_vmlinux, open_linux_program
        from kpanic_lab.analysis.dumptarget import open_dump_target

        if vmlinux is None:         # a real kernel's dump alone: its debug vmlinux, where the distribution keeps it
            vmlinux = _installed_debug_vmlinux(vmcore)
        if vmlinux is not None and not is_lab_vmlinux(vmlinux):
            return cls(open_linux_program(vmcore, vmlinux, progress=progress))
        return cls(open_dump_target(vmcore, vmlinux))

    @property
    def warnings(self) -> List[str]:
        """What is wrong with the dump as a whole (truncated, incomplete), one line each."""
        return list(getattr(self.target, "warnings", []))

    # ---------------------------------------------------------------- context
    @property
    def context(self) -> Task:
        """The current task: the panicking one at first (crash's default), as ``set`` left it."""
        if self._context is None:
            cpu = panic_cpu(self.prog)
            self._context = task_on_cpu(self.prog, cpu if cpu is not None else 0)
        return self._context

    def set_context(self, task: Task) -> None:
        self._context = task

    def cpu_of(self, task: Task) -> Optional[int]:
        """The CPU ``task`` was running on, or None."""
        return next((c for c, a in active_tasks(self.prog).items() if a == task.address), None)

    def resolve_task(self, token: str) -> Task:
        """A task from a PID (decimal) or a task_struct address (hex)."""
        t = token.strip()
        if re.fullmatch(r"\d+", t):
            try:
                return find_task(self.prog, int(t))
            except NotFound:
                if len(t) < 9:
                    raise CommandError(f"invalid task or pid value: {t}") from None
        try:
            value = int(t, 16)
        except ValueError:
            raise CommandError(f"invalid task or pid value: {t}") from None
        try:
            return find_task(self.prog, value)
        except NotFound:
            raise CommandError(f"invalid task or pid value: {t}") from None

    def resolve_address(self, token: str) -> int:
        """An address: hex (``ffffffff8100d020``, ``0x...``), a symbol, or ``symbol+offset``
        (``+45`` decimal, ``+0x2d`` hex), as crash takes them."""
        t = token.strip()
        m = re.fullmatch(r"([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-fA-F]+|\d+))?", t)
        if m and self.prog.symbols.get(m.group(1)) is not None:
            off = int(m.group(2), 0) if m.group(2) else 0
            return self.prog.address_of(m.group(1)) + off
        try:
            return int(t, 16)
        except ValueError:
            raise CommandError(f"invalid address or symbol: {t}") from None

    # ---------------------------------------------------------------- running
    def run(self, line: str) -> str:
        """Run one command line and return what it prints (never raises)."""
        out = self.execute(line)
        return out.text

    def execute(self, line: str) -> Output:
        """Run one line: its Output (text; the --py code too).  Errors become text."""
        line = line.strip()
        if not line or line.startswith("#"):
            return Output("")
        stages = split_pipes(line)
        head, pipes = stages[0], stages[1:]
        try:
            words = shlex.split(head)
        except ValueError as e:
            return Output(f"crash: {e}")
        py = "--py" in words
        words = [w for w in words if w != "--py"]
        if not words:
            return Output("crash: nothing to run before the pipe")
        name, args = words[0], words[1:]
        cmd = lookup(name)
        if cmd is None and self._is_type_name(name):
            cmd, args = COMMANDS["struct"], [name] + args       # crash: "task_struct ADDR"
        if cmd is None:
            return Output(f"crash: command not found: {name}  (see \"help\")")
        try:
            out = cmd.run(self, args)
            text = out.code if py else out.text
            if py and not out.code:
                text = f"{cmd.name}: --py: this command calls no library code"
        except CommandError as e:
            msg = str(e)
            text = msg if msg.startswith(cmd.name + ":") else f"{cmd.name}: {msg}"
            out = Output(text)
        except (AnalysisError, LabError) as e:
            text = f"{cmd.name}: {e}"
            out = Output(text)
        except RecursionError:
            text = f"{cmd.name}: the data nests too deeply to print"
            out = Output(text)
        except Exception as e:           # a bug of ours: one line, and the shell goes on
            text = f"{cmd.name}: internal error: {type(e).__name__}: {e}"
            out = Output(text)
        if pipes:
            try:
                text = apply_pipes(text, pipes)
            except CommandError as e:
                text = str(e)
        self.last = Output(text, out.code)
        return self.last

    def run_script(self, text: str, echo: bool = False) -> str:
        """Run each line of ``text`` (stopping at ``q``/``exit``); all the output."""
        out: List[str] = []
        for line in text.splitlines():
            if echo and line.strip():
                out.append(PROMPT + line.strip())
            result = self.run(line)
            if result:
                out.append(result)
            if self.done:
                break
        return "\n".join(out)

    def _is_type_name(self, name: str) -> bool:
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[\w.,\[\]]+)?", name):
            return False
        base = name.split(".", 1)[0]
        try:
            t = self.prog.type(base).strip()
        except (AnalysisError, LabError):
            return False
        return t.kind in ("struct", "union")

    def commands(self) -> List[Tuple[str, str]]:
        return [(c.name, c.summary) for c in COMMANDS.values()]


def _installed_debug_vmlinux(vmcore: Union[str, Path]) -> Optional[Path]:
    """The installed debug vmlinux of the kernel that wrote ``vmcore`` (by its VMCOREINFO
    OSRELEASE), when that is not the lab's own guest; None otherwise (or if it cannot tell)."""
    from kpanic_lab.analysis.drgn_backend import debug_vmlinux_for
    from kpanic_lab.formats import open_dump

    try:
        with open_dump(vmcore) as d:
            release = d.vmcoreinfo.get("OSRELEASE")
    except (LabError, OSError):
        return None          # the dump reader will say what is wrong when the dump is opened
    from kpanic_lab.analysis.dumptarget import image_release
    from kpanic_lab.guest.image import KernelImage

    try:
        guest = image_release(KernelImage.open())
    except LabError:
        guest = None
    if not release or release == guest:
        return None
    return debug_vmlinux_for(release)
