"""The lab machine: several x86-64 CPUs over one memory, run deterministically.

``Machine`` puts the parts together and is what a student holds: power, the serial console,
runs, and reading the guest's state.  Each mechanism has a module of its own:

- ``runloop.py``: CPUs round-robin, a quantum each, on one virtual clock; why a run stops;
- ``interrupts.py``: exceptions, interrupts, NMIs and IPIs entering a CPU through its IDT;
- ``ports.py``: what ``in`` and ``out`` reach (COM1, the local APIC's ports, reset, pvpanic);
- ``labport.py``: the lab port (events, delays, Python notifiers, host tools);
- ``snapshot.py``: a state to come back to; ``runstate.py``: what a snapshot keeps of the run.

The same configuration and the same input give the same console, byte for byte.

>>> m = Machine(cpus=2)                      # doctest: +SKIP
>>> m.boot().reason                          # doctest: +SKIP
'prompt'
>>> print(m.run_command("cat /proc/cmdline"))   # doctest: +SKIP
console=ttyS0
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from unicorn import UC_HOOK_INSN, UC_HOOK_INSN_INVALID, UC_HOOK_INTR
from unicorn import x86_const as X

from kpanic_lab.guest.image import KernelImage
from kpanic_lab.machine import snapshot as snapshots
from kpanic_lab.machine.config import MachineConfig
from kpanic_lab.machine.cpu import Cpu, CpuState, Registers
from kpanic_lab.machine.devices import Serial
from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.interrupts import Delivery, Interrupts
from kpanic_lab.machine.labport import LabEvent, LabPort, ToolFailed, ToolRequest, parse_tool_request
from kpanic_lab.machine.loader import BootInfo, load_kernel
from kpanic_lab.machine.memory import PhysicalMemory
from kpanic_lab.machine.ports import Ports
from kpanic_lab.machine.runloop import RunLoop, RunResult, Until
from kpanic_lab.machine.runstate import RunState
from kpanic_lab.machine.snapshot import Snapshot

__all__ = ["Machine", "CpuView", "Delivery", "LabEvent", "RunResult", "Snapshot", "ToolFailed", "ToolRequest",
           "parse_tool_request"]

KERNEL_SPACE = 0xFFFF800000000000


@dataclass(frozen=True)
class CpuView:
    """One CPU as a student sees it: where it is, whether IF is set, what it is doing."""

    index: int
    state: str
    rip: int
    symbol: str
    interrupts_enabled: bool
    cpl: int


class Machine:
    """A lab machine.  ``Machine(cpus=2, memory="256M", cmdline="...")`` or ``Machine(config)``."""

    def __init__(self, config: Optional[MachineConfig] = None, *, cpus: Optional[int] = None,
                 memory: Union[str, int, None] = None, cmdline: Optional[str] = None,
                 vmlinux: Union[str, Path, None] = None) -> None:
        if config is None:
            config = MachineConfig.create(cpus=2 if cpus is None else cpus,
                                          memory=(256 << 20) if memory is None else memory,
                                          cmdline=cmdline, vmlinux=vmlinux)
        self.config = config
        self.image = KernelImage.open(config.vmlinux)
        self.mem = PhysicalMemory(config.memory)
        self.cpus: List[Cpu] = [Cpu(i, self.mem) for i in range(config.cpus)]
        self.serial = Serial()
        self.events: List[LabEvent] = []
        self.event_listeners: List[Callable[["Machine", LabEvent], None]] = []
        self.clock_ns = 0
        self.total_instructions = 0
        self.boot_info: Optional[BootInfo] = None
        self.run_state = RunState()
        self.trace_interrupts = False
        self.interrupt_log: List[Delivery] = []
        # LAB_OP_PYCALL: the guest calls Python (a student's panic notifier); the handler
        # returns the int the guest reads back from LAB_PORT.
        self.pycall_handler: Optional[Callable[["Machine", int, int, Tuple[int, int, int]], int]] = None
        # LAB_OP_TOOL: host tools a guest program can run (kexec-tools, the kdump collector);
        # the kdump layer registers them: name -> fn(machine, cpu, request, reply_address) -> bytes
        self.host_tools: Dict[str, Callable[["Machine", int, ToolRequest, int], bytes]] = {}
        self.loop = RunLoop(self)
        self.interrupts = Interrupts(self)
        self.ports = Ports(self)
        self.labport = LabPort(self)
        for cpu in self.cpus:
            self._install_hooks(cpu)

    def _install_hooks(self, cpu: Cpu) -> None:
        # No code hooks stay installed: with count= every code hook is checked on every
        # instruction.  `hlt` is recognised after the quantum (runloop.py); iretq is watched
        # only while an NMI is being handled (interrupts.py).
        uc, i = cpu.uc, cpu.index
        uc.hook_add(UC_HOOK_INTR, self.interrupts.on_intr, i)
        uc.hook_add(UC_HOOK_INSN_INVALID, self.interrupts.on_invalid, i)
        uc.hook_add(UC_HOOK_INSN, self.interrupts.on_syscall, i, 1, 0, X.UC_X86_INS_SYSCALL)
        uc.hook_add(UC_HOOK_INSN, self.ports.on_in, i, 1, 0, X.UC_X86_INS_IN)
        uc.hook_add(UC_HOOK_INSN, self.ports.on_out, i, 1, 0, X.UC_X86_INS_OUT)

    def watch_hlt(self, addresses: Iterable[int]) -> None:
        """Also recognise these ``hlt`` instructions (code loaded outside the kernel image)."""
        self.loop.hlt_sites.update(addresses)

    # ------------------------------------------------------------------ events
    def emit(self, ev: LabEvent) -> None:
        """Record a lab event and tell the listeners."""
        self.events.append(ev)
        self.loop.seen.add(ev.kind)
        for listener in self.event_listeners:
            listener(self, ev)

    def request_stop(self) -> None:
        """From an event listener: end the current quantum and the run (reason 'stopped')."""
        self.loop.stop_requested = True

    # ------------------------------------------------------------------ power
    def power_on(self) -> None:
        """Reset every CPU and RAM, load the kernel, start the boot CPU at startup_64."""
        self.mem.zero()
        for cpu in self.cpus:
            cpu.rt.state = CpuState.PARKED
            cpu.pending = None
            cpu.uc.ctl_flush_tb()  # type: ignore[attr-defined]
        self.serial.input.clear()
        self.serial.ier = 0
        self.run_state = RunState()
        self.clock_ns = 0
        info = load_kernel(self.mem, self.image, self.config.cmdline, len(self.cpus))
        self.boot_info = info
        self.cpus[0].start(rip=info.entry, rsp=0, cr3=info.cr3, gdt=(info.gdt_base, info.gdt_limit),
                           rsi=info.boot_params)

    def boot(self, max_instructions: int = 2_000_000_000, max_seconds: float = 60.0) -> RunResult:
        """Power on and run until the shell waits for input (or the guest stops)."""
        self.power_on()
        return self.run("prompt", max_instructions=max_instructions, max_seconds=max_seconds)

    # ------------------------------------------------------------------ run
    def run(self, until: Until = "prompt", *,
            max_instructions: int = 2_000_000_000, max_seconds: float = 60.0) -> RunResult:
        """Run the CPUs until ``until`` ("prompt", "halt", or a predicate) or the guest stops.

        Every run is bounded: ``max_instructions`` of guest work (summed over CPUs) and
        ``max_seconds`` of host time; past either, BudgetExceeded says where each CPU was.
        """
        return self.loop.run(until, max_instructions, max_seconds)

    # ------------------------------------------------------------------ console
    def send(self, text: Union[str, bytes]) -> None:
        """Type ``text`` on the serial console."""
        data = text.encode() if isinstance(text, str) else text
        if self.serial.feed(data):
            self.cpus[self.run_state.serial_cpu].rt.irr.add(HW.SERIAL_VECTOR)

    def run_command(self, line: str, max_instructions: int = 2_000_000_000, max_seconds: float = 60.0) -> str:
        """Type one shell line, run until the shell waits again, and return what it printed."""
        start = len(self.serial.output)
        self.send(line.rstrip("\n") + "\n")
        self.last_result = self.run("prompt", max_instructions=max_instructions, max_seconds=max_seconds)
        out = self.serial.output[start:].decode("utf-8", "replace").replace("\r", "")
        lines = out.split("\n")
        if lines and lines[0].strip() == line.strip():
            lines = lines[1:]            # the echo of what was typed
        if lines and lines[-1].strip() in ("#", "$"):
            lines = lines[:-1]           # the next prompt
        return "\n".join(lines)

    @property
    def console(self) -> bytes:
        return bytes(self.serial.output)

    @property
    def console_text(self) -> str:
        return self.serial.output.decode("utf-8", "replace").replace("\r", "")

    @property
    def console_lines(self) -> List[str]:
        return self.console_text.splitlines()

    # ------------------------------------------------------------------ inspection
    def symbolize(self, addr: int) -> str:
        if addr >= KERNEL_SPACE:
            return self.image.symbolize(addr)
        return f"0x{addr:x} (user)"

    def symbol(self, name: str) -> int:
        """Address of a kernel symbol."""
        return self.image.address_of(name)

    def registers(self, cpu: int = 0) -> Registers:
        return self.cpus[cpu].registers()

    def cpu_views(self) -> List[CpuView]:
        return [CpuView(c.index, c.rt.state.value, c.rip, self.symbolize(c.rip), c.interrupts_enabled, c.cpl)
                for c in self.cpus]

    def read(self, addr: int, size: int, *, physical: bool = False, cpu: int = 0) -> bytes:
        """Guest memory: physical, or virtual through ``cpu``'s page tables (kernel addresses
        through the kernel's own)."""
        if physical:
            return self.mem.read(addr, size)
        if addr >= KERNEL_SPACE and self.boot_info is not None:
            return self.mem.read_virt(self.boot_info.cr3, addr, size)
        return self.mem.read_virt(self.cpus[cpu].cr3, addr, size)

    def read_u64(self, addr: int, **kw) -> int:
        return int.from_bytes(self.read(addr, 8, **kw), "little")

    def read_symbol(self, name: str, size: Optional[int] = None) -> bytes:
        s = self.image.symbol(name)
        return self.read(s.address, size or s.size or 8)

    # ------------------------------------------------------------------ snapshots
    def state_digest(self) -> str:
        """A digest of every CPU's registers and all of RAM: equal digests, equal machines."""
        return snapshots.digest(self)

    def snapshot(self, base: Optional[Snapshot] = None) -> Snapshot:
        """Everything needed to come back here: CPU contexts, devices, memory, clock.

        With ``base`` (a full snapshot taken earlier), only the pages that differ from it
        are kept, which makes a snapshot per panic stage cheap.
        """
        return snapshots.take(self, base)

    def restore(self, snap: Snapshot) -> None:
        """Come back to ``snap``: registers, devices, clock and every byte of RAM."""
        snapshots.restore(self, snap)
