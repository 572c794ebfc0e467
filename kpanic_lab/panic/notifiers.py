"""Panic notifiers written in Python, called by the guest at their place in the chain.

The guest registers one ``struct notifier_block`` per Python notifier (slot) on
``panic_notifier_list`` at boot, with the priority given here; its
``notifier_call`` is a trampoline that asks the machine to run the Python
function (``LAB_OP_PYCALL``) and returns what it returned.  A notifier that
raises, returns something that is not an int, or does not return within its
time limit is reported, and the chain goes on as if it had returned
NOTIFY_DONE: the same thing a real kernel cannot afford, a notifier that
itself crashes, is what the lab lets a student see safely.

>>> def say_goodbye(ctx):
...     print("panic:", ctx.message)
...     return NOTIFY_DONE
"""
from __future__ import annotations

import io
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from kpanic_lab.errors import LabError

if TYPE_CHECKING:
    from kpanic_lab.machine import Machine

NOTIFY_DONE = 0x0000
NOTIFY_OK = 0x0001
NOTIFY_STOP_MASK = 0x8000
NOTIFY_BAD = NOTIFY_STOP_MASK | 0x0002
NOTIFY_STOP = NOTIFY_OK | NOTIFY_STOP_MASK
MAX_SLOTS = 8


class _ThreadRouter(io.TextIOBase):
    """stdout for the duration of a notifier call: one thread's writes to a buffer."""

    def __init__(self, real, thread: threading.Thread, buf: io.StringIO) -> None:
        self._real, self._thread, self._buf = real, thread, buf

    def write(self, s: str) -> int:
        if threading.current_thread() is self._thread:
            return self._buf.write(s)
        return self._real.write(s)

    def flush(self) -> None:
        self._real.flush()


@dataclass
class NotifierContext:
    """What a Python notifier sees: the CPU, the chain's arguments, and guest memory."""

    machine: "Machine"
    cpu: int
    action: int          # `val` of atomic_notifier_call_chain (0 for panic)
    data: int            # `v`: for panic_notifier_list, the panic message (a char *)

    def read(self, addr: int, size: int) -> bytes:
        return self.machine.read(addr, size)

    def read_u64(self, addr: int) -> int:
        return self.machine.read_u64(addr)

    def read_string(self, addr: int, limit: int = 1024) -> str:
        out = bytearray()
        while len(out) < limit:
            chunk = self.machine.read(addr + len(out), 64)
            end = chunk.find(b"\0")
            if end >= 0:
                out += chunk[:end]
                break
            out += chunk
        return out.decode("utf-8", "replace")

    @property
    def message(self) -> str:
        """The panic message (``data`` of the panic notifier chain)."""
        return self.read_string(self.data) if self.data else ""

    def symbol(self, name: str) -> int:
        return self.machine.symbol(name)

    def read_symbol(self, name: str, size: Optional[int] = None) -> bytes:
        return self.machine.read_symbol(name, size)


@dataclass
class NotifierOutcome:
    name: str
    priority: int
    returned: Optional[int]        # what the guest got back
    error: Optional[str] = None    # why it was not the function's own answer
    output: str = ""               # what the function printed


@dataclass
class PythonNotifier:
    fn: Callable[[NotifierContext], int]
    priority: int
    name: str


class NotifierError(LabError):
    pass


@dataclass
class PythonNotifiers:
    """The Python notifiers of one machine, and what happened when they were called."""

    timeout: float = 2.0
    slots: List[PythonNotifier] = field(default_factory=list)
    outcomes: List[NotifierOutcome] = field(default_factory=list)

    def add(self, fn: Callable[[NotifierContext], int], priority: int = 0, name: Optional[str] = None) -> int:
        if len(self.slots) >= MAX_SLOTS:
            raise NotifierError(f"at most {MAX_SLOTS} Python notifiers")
        if not callable(fn):
            raise NotifierError(f"a notifier must be a function taking a NotifierContext, not {fn!r}")
        if not -(2 ** 31) <= int(priority) < 2 ** 31:
            raise NotifierError(f"priority {priority} does not fit the kernel's int")
        self.slots.append(PythonNotifier(fn, int(priority), str(name or getattr(fn, "__name__", "notifier"))))
        return len(self.slots) - 1

    def cmdline(self) -> str:
        """The kernel parameter that makes the guest register the slots: ``lab_notifiers=100,-5``."""
        return "lab_notifiers=" + ",".join(str(s.priority) for s in self.slots) if self.slots else ""

    def __call__(self, machine: "Machine", cpu: int, slot: int, args: Tuple[int, int, int]) -> int:
        """The machine's pycall handler: run slot ``slot`` and return its answer to the guest."""
        if slot >= len(self.slots):
            self.outcomes.append(NotifierOutcome(f"slot {slot}", 0, NOTIFY_DONE, "no Python notifier in this slot"))
            return NOTIFY_DONE
        nb = self.slots[slot]
        ctx = NotifierContext(machine, cpu, args[0], args[1])
        box: dict = {}

        buf = io.StringIO()

        def call() -> None:
            try:
                box["ret"] = nb.fn(ctx)
            except BaseException as e:  # a student's bug must not take the lab down
                box["error"] = "".join(traceback.format_exception_only(type(e), e)).strip()

        t = threading.Thread(target=call, name=f"notifier-{nb.name}", daemon=True)
        # print() in the notifier's thread goes to its own buffer; every other thread's output
        # (the notebook's) goes where it went before, even if the notifier never returns
        real = sys.stdout
        sys.stdout = _ThreadRouter(real, t, buf)  # type: ignore[assignment]
        try:
            t.start()
            t.join(self.timeout)
        finally:
            sys.stdout = real
        box["output"] = buf.getvalue()
        if t.is_alive():
            out = NotifierOutcome(nb.name, nb.priority, NOTIFY_DONE,
                                  f"did not return within {self.timeout:g} s; the chain went on without it")
        elif "error" in box:
            out = NotifierOutcome(nb.name, nb.priority, NOTIFY_DONE, f"raised {box['error']}", box.get("output", ""))
        elif not isinstance(box.get("ret"), int) or isinstance(box.get("ret"), bool):
            out = NotifierOutcome(nb.name, nb.priority, NOTIFY_DONE,
                                  f"returned {box.get('ret')!r}, not an int (NOTIFY_DONE, NOTIFY_OK, NOTIFY_STOP)",
                                  box.get("output", ""))
        else:
            out = NotifierOutcome(nb.name, nb.priority, box["ret"], None, box.get("output", ""))
        self.outcomes.append(out)
        return out.returned if out.returned is not None else NOTIFY_DONE
