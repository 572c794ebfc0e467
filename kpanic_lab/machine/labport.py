"""The lab port: how the guest talks to the lab (hw.h ``LAB_PORT``, ``LAB_OP_*``).

No real machine has it.  The guest writes an operation to ``LAB_PORT`` with its arguments in
RDI, RSI, RCX and R8, and reads a result back from the same port:

- ``LAB_OP_EVENT``: report a ``LAB_EV_*`` event (a panic stage, the shell waiting for input),
  recorded as a ``LabEvent``; a listener may ask the run to stop right there;
- ``LAB_OP_DELAY_UNTIL``: sleep until a virtual time (mdelay without spinning);
- ``LAB_OP_PYCALL``: call Python (a student's panic notifier, ``Machine.pycall_handler``);
- ``LAB_OP_TOOL``: run a host tool (kexec-tools, the kdump collector, ``Machine.host_tools``)
  with a request the guest built in its memory, and write the reply into its buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Tuple

from unicorn import x86_const as X

from kpanic_lab.machine.cpu import Cpu, PendingEvent
from kpanic_lab.machine.errors import MemoryFault, ToolFailed
from kpanic_lab.machine.hwdefs import HW, lab_events

if TYPE_CHECKING:
    from kpanic_lab.machine.machine import Machine


@dataclass(frozen=True)
class ToolRequest:
    """What a guest program sent a host tool: its command line and the files it attached."""

    name: str
    args: List[str]
    files: Dict[str, bytes]

    def text(self, path: str) -> str:
        try:
            return self.files[path].decode("utf-8", "replace")
        except KeyError:
            raise ToolFailed(f"{self.name}: the guest did not send {path}", 2) from None


def parse_tool_request(data: bytes) -> ToolRequest:
    """A request is its command line, then attached files, each as "--- PATH LENGTH\\n" and
    the bytes (pure).

    >>> parse_tool_request(b"kexec -p\\n--- /proc/cmdline 4\\nabc\\n").files
    {'/proc/cmdline': b'abc\\n'}
    """
    nl = data.find(b"\n")
    if nl < 0:
        raise ValueError("no command line")
    words = data[:nl].decode("utf-8", "replace").split()
    if not words:
        raise ValueError("empty command line")
    files: Dict[str, bytes] = {}
    pos = nl + 1
    while pos < len(data):
        end = data.find(b"\n", pos)
        head = data[pos:end].decode("utf-8", "replace").split() if end >= 0 else []
        if len(head) != 3 or head[0] != "---" or not head[2].isdigit():
            raise ValueError(f"bad section header at byte {pos}")
        n = int(head[2])
        files[head[1]] = data[end + 1:end + 1 + n]
        pos = end + 1 + n
    args = words[1:]
    if "argv" in files:   # arguments with spaces in them, NUL-separated
        args = [a.decode("utf-8", "replace") for a in files.pop("argv").split(b"\0") if a]
    return ToolRequest(words[0], args, files)


@dataclass(frozen=True)
class LabEvent:
    """Something the guest reported through the lab port (hw.h LAB_EV_*)."""

    time_ns: int
    cpu: int
    kind: str
    args: Tuple[int, int, int]
    rip: int


class LabPort:
    """The lab port of one machine: each CPU's result register, and the operations."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self.results: Dict[int, int] = {}      # what each CPU reads back from LAB_PORT
        self._event_names = lab_events()

    def read(self, cpu: int) -> int:
        """``in LAB_PORT``: the result of this CPU's last operation (once), else 0."""
        return self.results.pop(cpu, 0) & 0xFFFFFFFF

    def write(self, cpu: Cpu, op: int) -> None:
        """``out LAB_PORT``: run operation ``op`` with the CPU's argument registers."""
        m = self.machine
        uc = cpu.uc
        if op == HW.LAB_OP_DELAY_UNTIL:
            cpu.rt.sleep_until = uc.reg_read(X.UC_X86_REG_RDI)
            cpu.pending = PendingEvent("sleep")
            uc.emu_stop()
        elif op == HW.LAB_OP_PYCALL:
            slot = uc.reg_read(X.UC_X86_REG_RDI)
            args = (uc.reg_read(X.UC_X86_REG_RSI), uc.reg_read(X.UC_X86_REG_RCX), uc.reg_read(X.UC_X86_REG_R8))
            handler = m.pycall_handler
            self.results[cpu.index] = handler(m, cpu.index, slot, args) if handler else 0
        elif op == HW.LAB_OP_TOOL:
            self.results[cpu.index] = self._host_tool(cpu)
        elif op == HW.LAB_OP_EVENT:
            code = uc.reg_read(X.UC_X86_REG_RDI)
            ev = LabEvent(m.clock_ns, cpu.index, self._event_names.get(code, f"event{code}"),
                          (uc.reg_read(X.UC_X86_REG_RSI), uc.reg_read(X.UC_X86_REG_RCX),
                           uc.reg_read(X.UC_X86_REG_R8)), uc.reg_read(X.UC_X86_REG_RIP))
            m.emit(ev)
            if m.loop.stop_requested:
                uc.emu_stop()

    def _host_tool(self, cpu: Cpu) -> int:
        """LAB_OP_TOOL: a guest program asks for a host tool; the reply goes into its buffer."""
        m = self.machine
        uc = cpu.uc
        req_at, req_len = uc.reg_read(X.UC_X86_REG_RDI), uc.reg_read(X.UC_X86_REG_RSI)
        out_at, out_len = uc.reg_read(X.UC_X86_REG_RCX), uc.reg_read(X.UC_X86_REG_R8)
        try:
            request = parse_tool_request(cpu.read_virt(req_at, min(req_len, 1 << 24)))
        except (MemoryFault, ValueError) as e:
            return self._reply(cpu, out_at, out_len, f"lab: bad tool request: {e}\n".encode(), -22)
        tool = m.host_tools.get(request.name)
        if tool is None:
            return self._reply(cpu, out_at, out_len, f"lab: no host tool {request.name!r}\n".encode(), -2)
        try:
            reply = tool(m, cpu.index, request, out_at)
        except ToolFailed as e:
            return self._reply(cpu, out_at, out_len, (str(e) + "\n").encode(), -e.errno)
        if len(reply) > out_len:
            return self._reply(cpu, out_at, out_len, b"lab: reply does not fit the buffer\n", -28)
        return self._reply(cpu, out_at, out_len, reply, len(reply))

    def _reply(self, cpu: Cpu, at: int, size: int, data: bytes, result: int) -> int:
        try:
            self.machine.mem.write_virt(cpu.cr3, at, data[:size])
        except MemoryFault:
            return -14   # -EFAULT
        return result
