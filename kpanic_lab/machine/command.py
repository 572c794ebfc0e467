"""A shell line's result as the guest reports it: what it printed and how its process ended.

The lab's shell (``guest/user/sh.c``) runs each line in a child process it forks before doing
anything else, as a real shell runs a program, and the guest's kernel reports every task's end
on the lab port (``LAB_EV_TASK_EXIT``: the pid and the status ``wait(2)`` gives the parent).  So
a line's status is the guest's word, not a message to search the console for: the process is
the next one the kernel forks (``fork.c``'s ``last_pid`` + 1 when the line is typed), and its
status is in the events the run recorded.

>>> r = CommandResult("insmod nope", "insmod: ERROR: ...", 7, 0x100, "prompt")
>>> r.exit_code, r.signal, r.ok
(1, None, False)
>>> from kpanic_lab.machine import LabEvent
>>> exit_status([LabEvent(0, 0, "task_exit", (7, 0x100, 0), 0)], 7)
256
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from kpanic_lab.machine import LabEvent, Machine


@dataclass(frozen=True)
class CommandResult:
    """One shell line run to the next prompt."""

    line: str
    output: str                # what it printed (the echo of the line and the next prompt left out)
    pid: int                   # the process the shell ran it in
    status: Optional[int]      # its wait(2) status as the guest reported it; None: it did not end
    reason: str                # why the run stopped: "prompt", or "panic-loop", "reset", ... (Machine.run)

    @property
    def exit_code(self) -> Optional[int]:
        """The code it exited with (``exit(n)``, a built-in's return), None when it was killed or did not end."""
        if self.status is None or self.status & 0x7F:
            return None
        return (self.status >> 8) & 0xFF

    @property
    def signal(self) -> Optional[int]:
        """The signal that killed it (an oops kills the task), or None."""
        return self.status & 0x7F if self.status is not None and self.status & 0x7F else None

    @property
    def ok(self) -> bool:
        """It ran to its end and exited with 0, as ``$? == 0`` in a shell."""
        return self.exit_code == 0


def exit_status(events: Sequence[LabEvent], pid: int) -> Optional[int]:
    """The status the guest reported when ``pid`` ended, or None if it did not (pure)."""
    return next((e.args[1] for e in events if e.kind == "task_exit" and e.args[0] == pid), None)


def next_pid(machine: Machine) -> int:
    """The pid the guest's kernel gives the next task it forks."""
    return int.from_bytes(machine.read_symbol("last_pid", 4), "little", signed=True) + 1


def run_line(machine: Machine, line: str, max_instructions: int = 2_000_000_000,
             max_seconds: float = 60.0) -> CommandResult:
    """Type ``line`` at the shell's prompt, run until it prompts again, and say how it went.

    The machine must be at the prompt.  ``exit`` ends the shell itself (no child): its status is None.
    """
    pid = next_pid(machine)
    before = len(machine.events)
    output = machine.run_command(line, max_instructions=max_instructions, max_seconds=max_seconds)
    reason = machine.last_result.reason if machine.last_result is not None else "prompt"
    return CommandResult(line, output, pid, exit_status(machine.events[before:], pid), reason)
