"""The lab machine: several x86-64 CPUs over one memory, run deterministically.

CPUs run round-robin from one thread, ``quantum`` instructions at a time
(Unicorn's ``count=``), which keeps guest atomics atomic and makes every run
reproducible: the same configuration and the same input give the same
console, byte for byte.  Virtual time advances one quantum per round (1 ns
per instruction); when every CPU is idle the clock jumps to the next timer
or deadline.  Interrupts, NMIs and IPIs are delivered between quanta, through
the guest's IDT (``cpu.py``).

>>> m = Machine(cpus=2)                      # doctest: +SKIP
>>> m.boot().reason                          # doctest: +SKIP
'prompt'
>>> print(m.run_command("cat /proc/cmdline"))   # doctest: +SKIP
console=ttyS0
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

from unicorn import UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UcError
from unicorn import x86_const as X

from kpanic_lab.guest.image import KernelImage
from kpanic_lab.machine.config import MachineConfig
from kpanic_lab.machine.cpu import Cpu, CpuState, PendingEvent, Registers, ERROR_CODE_VECTORS
from kpanic_lab.machine.devices import Serial, decode_icr
from kpanic_lab.machine.errors import BudgetExceeded, GuestError, MachineError, MemoryFault, TripleFault
from kpanic_lab.machine.hwdefs import HW, lab_events
from kpanic_lab.machine.loader import BootInfo, load_kernel
from kpanic_lab.machine.memory import PageSet, PhysicalMemory
from kpanic_lab.machine import pagefault

NEVER = 1 << 63                  # an `until` address no CPU can reach (non-canonical)
KERNEL_SPACE = 0xFFFF800000000000
IDLE_QUANTUM = 1_000               # the budget charged for a quantum that ends with the CPU idle


class ToolFailed(MachineError):
    """A host tool's failure, reported to the guest program as -errno and this message."""

    def __init__(self, message: str, errno: int = 22) -> None:
        super().__init__(message)
        self.errno = errno


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


@dataclass
class RunResult:
    """Why a run stopped, and what it cost."""

    reason: str                   # prompt, panic-loop, halted, reset, poweroff, stopped
    clock_ns: int
    instructions: int             # instruction budget consumed by this run (quanta x quantum)
    wall_seconds: float
    events: List[LabEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """One event entering a CPU through its IDT (recorded when ``trace_interrupts`` is on)."""

    time_ns: int
    cpu: int
    vector: int
    rflags: int          # RFLAGS before delivery: IF tells whether the CPU accepted interrupts
    rip: int


@dataclass(frozen=True)
class CpuView:
    """One CPU as a student sees it: where it is, whether IF is set, what it is doing."""

    index: int
    state: str
    rip: int
    symbol: str
    interrupts_enabled: bool
    cpl: int


@dataclass
class Snapshot:
    """A machine state to come back to.  With a ``base``, memory is kept as the pages that
    differ from the base snapshot (a panic step costs kilobytes, not the whole RAM)."""

    clock_ns: int
    cpus: list
    memory: PageSet
    serial: tuple
    events: Tuple[LabEvent, ...]
    flags: dict
    total_instructions: int
    base: Optional["Snapshot"] = None
    boot_info: Optional[BootInfo] = None    # where the kernel was loaded (a fresh Machine restored needs it)


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
        self._event_names = lab_events()
        self._flags: Dict[str, object] = {}
        self._stop_now = False
        self._run_kinds: set = set()
        self.trace_interrupts = False
        # LAB_OP_PYCALL: the guest calls Python (a student's panic notifier); the handler
        # returns the int the guest reads back from LAB_PORT.
        self.pycall_handler: Optional[Callable[["Machine", int, int, Tuple[int, int, int]], int]] = None
        self._pycall_result: Dict[int, int] = {}
        # LAB_OP_TOOL: host tools a guest program can run (kexec-tools, the kdump collector);
        # the kdump layer registers them: name -> fn(machine, cpu, request, reply_address) -> bytes
        self.host_tools: Dict[str, Callable[["Machine", int, ToolRequest, int], bytes]] = {}
        self.interrupt_log: List[Delivery] = []
        self._hlt_sites = set(self.image.instruction_sites("hlt"))
        self._iret_sites = set(self.image.instruction_sites("iretq"))
        for cpu in self.cpus:
            self._install_hooks(cpu)

    # ------------------------------------------------------------------ hooks
    def _install_hooks(self, cpu: Cpu) -> None:
        uc = cpu.uc
        i = cpu.index
        uc.hook_add(UC_HOOK_INTR, self._on_intr, i)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid, i)
        uc.hook_add(UC_HOOK_INSN, self._on_syscall, i, 1, 0, X.UC_X86_INS_SYSCALL)
        uc.hook_add(UC_HOOK_INSN, self._on_in, i, 1, 0, X.UC_X86_INS_IN)
        uc.hook_add(UC_HOOK_INSN, self._on_out, i, 1, 0, X.UC_X86_INS_OUT)
        # No code hooks stay installed: with count= every code hook is checked on every
        # instruction (measured: 144 -> 52 M instructions/s with two of them).  `hlt` is
        # recognised after the quantum (see _run_quantum); iretq is watched only while an
        # NMI is being handled (_arm_nmi_unblock).
        self._nmi_hooks: Dict[int, list] = {}

    def _on_intr(self, uc, intno: int, i: int) -> None:
        self.cpus[i].pending = PendingEvent("exception", intno)
        uc.emu_stop()

    def _on_invalid(self, uc, i: int) -> bool:
        self.cpus[i].pending = PendingEvent("exception", 6)
        uc.emu_stop()
        return True

    def _on_syscall(self, uc, i: int) -> None:
        self.cpus[i].pending = PendingEvent("syscall")
        uc.emu_stop()

    def watch_hlt(self, addresses) -> None:  # type: ignore[no-untyped-def]
        """Also recognise these ``hlt`` instructions (code loaded outside the kernel image)."""
        self._hlt_sites.update(addresses)

    def _on_iret(self, uc, address: int, size: int, i: int) -> None:
        """The first iretq after an NMI: NMIs are accepted again (as the hardware does)."""
        self.cpus[i].rt.nmi_blocked = False
        self._disarm_nmi_unblock(self.cpus[i])

    def _arm_nmi_unblock(self, cpu: Cpu) -> None:
        if cpu.index in self._nmi_hooks:
            return
        hooks = []
        for a in self._iret_sites:
            hooks.append(cpu.uc.hook_add(UC_HOOK_CODE, self._on_iret, cpu.index, a, a))
            cpu.uc.ctl_remove_cache(a, a + 2)   # retranslate so the new hook fires
        self._nmi_hooks[cpu.index] = hooks

    def _disarm_nmi_unblock(self, cpu: Cpu) -> None:
        for h in self._nmi_hooks.pop(cpu.index, []):
            cpu.uc.hook_del(h)
        for a in self._iret_sites:
            cpu.uc.ctl_remove_cache(a, a + 2)

    def _on_in(self, uc, port: int, size: int, i: int) -> int:
        cpu = self.cpus[i]
        if port == HW.COM1_BASE:
            return self.serial.read()
        if port == HW.COM1_LSR:
            return self.serial.lsr()
        if port == HW.COM1_IER:
            return self.serial.ier
        if port == HW.APIC_ID_PORT:
            return i
        if port == HW.APIC_NCPUS_PORT:
            return len(self.cpus)
        if port == HW.PVPANIC_PORT:
            return HW.PVPANIC_CAPABILITY
        if port == HW.LAB_PORT:
            return self._pycall_result.pop(i, 0) & 0xFFFFFFFF
        if port == HW.APIC_CLOCK_LO:
            self._flags[f"clock_hi{i}"] = self.clock_ns >> 32
            return self.clock_ns & 0xFFFFFFFF
        if port == HW.APIC_CLOCK_HI:
            return int(self._flags.get(f"clock_hi{i}", self.clock_ns >> 32))  # type: ignore[call-overload]
        return 0xFFFFFFFF >> (32 - 8 * size)   # an empty ISA bus reads all ones

    def _on_out(self, uc, port: int, size: int, value: int, i: int) -> None:
        cpu = self.cpus[i]
        if port == HW.COM1_BASE:
            self.serial.write(value)
        elif port == HW.COM1_IER:
            # the CPU that enables the UART's interrupt gets it (as the OS routing it there
            # through the I/O APIC would): after a kdump jump that is the capture kernel's CPU
            self.serial.ier = value & 0xFF
            self._flags["serial_cpu"] = i
            if self.serial.ier & 1 and self.serial.input:
                cpu.rt.irr.add(HW.SERIAL_VECTOR)
        elif port == HW.APIC_EOI_PORT:
            pass   # no in-service tracking: the interrupt gate's IF=0 is the only mask
        elif port == HW.APIC_TIMER_PORT:
            period = value * 1000
            cpu.rt.timer_period = period
            cpu.rt.timer_next = self.clock_ns + period if period else 0
        elif port == HW.APIC_ICR_PORT:
            self._ipi(cpu, value)
        elif port == HW.RESET_PORT and value in (0x06, 0x0E):
            self._flags["reset"] = True
            uc.emu_stop()
        elif port == HW.POWEROFF_PORT and value == HW.POWEROFF_VALUE:
            self._flags["poweroff"] = True
            uc.emu_stop()
        elif port == HW.LAB_PORT:
            self._lab_op(cpu, value)
        elif port == HW.PVPANIC_PORT:
            # the pvpanic device: the guest tells the host it panicked (recorded, not printed)
            self._emit(LabEvent(self.clock_ns, i, "pvpanic", (value & 0xFF, 0, 0), cpu.rip))

    def _ipi(self, sender: Cpu, value: int) -> None:
        vector, mode, dest = decode_icr(value)
        targets = [c for c in self.cpus if c is not sender] if dest == HW.ICR_ALL_BUT_SELF else \
            [self.cpus[dest]] if dest < len(self.cpus) else []
        for t in targets:
            if mode == HW.ICR_MODE_NMI:
                t.rt.nmi_pending = True
            elif mode == HW.ICR_MODE_FIXED:
                t.rt.irr.add(vector)
            elif mode == HW.ICR_MODE_INIT:
                t.rt.state = CpuState.PARKED
            elif mode == HW.ICR_MODE_STARTUP and t.rt.state == CpuState.PARKED:
                uc = sender.uc
                gdtr = uc.reg_read(X.UC_X86_REG_GDTR)
                t.start(rip=uc.reg_read(X.UC_X86_REG_RDI), rsp=uc.reg_read(X.UC_X86_REG_RSI),
                        cr3=uc.reg_read(X.UC_X86_REG_CR3), gdt=(gdtr[1], gdtr[2]),
                        efer=uc.msr_read(0xC0000080), cr0=uc.reg_read(X.UC_X86_REG_CR0),
                        cr4=uc.reg_read(X.UC_X86_REG_CR4), rdi=t.index)

    def _lab_op(self, cpu: Cpu, op: int) -> None:
        uc = cpu.uc
        if op == HW.LAB_OP_DELAY_UNTIL:
            cpu.rt.sleep_until = uc.reg_read(X.UC_X86_REG_RDI)
            cpu.pending = PendingEvent("sleep")
            uc.emu_stop()
        elif op == HW.LAB_OP_PYCALL:
            slot = uc.reg_read(X.UC_X86_REG_RDI)
            args = (uc.reg_read(X.UC_X86_REG_RSI), uc.reg_read(X.UC_X86_REG_RCX), uc.reg_read(X.UC_X86_REG_R8))
            handler = self.pycall_handler
            self._pycall_result[cpu.index] = handler(self, cpu.index, slot, args) if handler else 0
        elif op == HW.LAB_OP_TOOL:
            self._pycall_result[cpu.index] = self._host_tool(cpu)
        elif op == HW.LAB_OP_EVENT:
            code = uc.reg_read(X.UC_X86_REG_RDI)
            ev = LabEvent(self.clock_ns, cpu.index, self._event_names.get(code, f"event{code}"),
                          (uc.reg_read(X.UC_X86_REG_RSI), uc.reg_read(X.UC_X86_REG_RCX),
                           uc.reg_read(X.UC_X86_REG_R8)), uc.reg_read(X.UC_X86_REG_RIP))
            self._emit(ev)
            if self._stop_now:
                uc.emu_stop()

    def _host_tool(self, cpu: Cpu) -> int:
        """LAB_OP_TOOL: a guest program asks for a host tool; the reply goes into its buffer."""
        uc = cpu.uc
        req_at, req_len = uc.reg_read(X.UC_X86_REG_RDI), uc.reg_read(X.UC_X86_REG_RSI)
        out_at, out_len = uc.reg_read(X.UC_X86_REG_RCX), uc.reg_read(X.UC_X86_REG_R8)
        try:
            request = parse_tool_request(cpu.read_virt(req_at, min(req_len, 1 << 24)))
        except (MemoryFault, ValueError) as e:
            return self._tool_reply(cpu, out_at, out_len, f"lab: bad tool request: {e}\n".encode(), -22)
        tool = self.host_tools.get(request.name)
        if tool is None:
            return self._tool_reply(cpu, out_at, out_len, f"lab: no host tool {request.name!r}\n".encode(), -2)
        try:
            reply = tool(self, cpu.index, request, out_at)
        except ToolFailed as e:
            return self._tool_reply(cpu, out_at, out_len, (str(e) + "\n").encode(), -e.errno)
        if len(reply) > out_len:
            return self._tool_reply(cpu, out_at, out_len, b"lab: reply does not fit the buffer\n", -28)
        return self._tool_reply(cpu, out_at, out_len, reply, len(reply))

    def _tool_reply(self, cpu: Cpu, at: int, size: int, data: bytes, result: int) -> int:
        try:
            self.mem.write_virt(cpu.cr3, at, data[:size])
        except MemoryFault:
            return -14   # -EFAULT
        return result

    def _emit(self, ev: LabEvent) -> None:
        self.events.append(ev)
        self._run_kinds.add(ev.kind)          # what this run has seen: _stop_reason asks every turn
        for listener in self.event_listeners:
            listener(self, ev)

    def request_stop(self) -> None:
        """From an event listener: end the current quantum and the run (reason 'stopped')."""
        self._stop_now = True

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
        self._flags.clear()
        self.clock_ns = 0
        info = load_kernel(self.mem, self.image, self.config.cmdline, len(self.cpus))
        self.boot_info = info
        self.cpus[0].start(rip=info.entry, rsp=0, cr3=info.cr3, gdt=(info.gdt_base, info.gdt_limit),
                           rsi=info.boot_params)

    def boot(self, max_instructions: int = 2_000_000_000, max_seconds: float = 60.0) -> RunResult:
        """Power on and run until the shell waits for input (or the guest stops)."""
        self.power_on()
        return self.run("prompt", max_instructions=max_instructions, max_seconds=max_seconds)

    # ------------------------------------------------------------------ input
    def send(self, text: Union[str, bytes]) -> None:
        """Type ``text`` on the serial console."""
        data = text.encode() if isinstance(text, str) else text
        if self.serial.feed(data):
            self.cpus[int(self._flags.get("serial_cpu", 0))].rt.irr.add(HW.SERIAL_VECTOR)  # type: ignore[call-overload]

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

    # ------------------------------------------------------------------ console
    @property
    def console(self) -> bytes:
        return bytes(self.serial.output)

    @property
    def console_text(self) -> str:
        return self.serial.output.decode("utf-8", "replace").replace("\r", "")

    @property
    def console_lines(self) -> List[str]:
        return self.console_text.splitlines()

    # ------------------------------------------------------------------ run
    def _stop_reason(self, until: Union[str, Callable[["Machine"], bool]]) -> Optional[str]:
        if self._stop_now:
            return "stopped"
        if self._flags.get("reset"):
            return "reset"
        if self._flags.get("poweroff"):
            return "poweroff"
        live = [c for c in self.cpus if c.rt.state != CpuState.PARKED]
        seen = self._run_kinds
        if "panic_loop" in seen:
            others = [c for c in live if c.rt.state not in (CpuState.STOPPED, CpuState.SLEEPING)]
            if not others or all(self._looping(c) for c in live):
                return "panic-loop"
        if all(c.rt.state == CpuState.STOPPED for c in live) and not any(c.rt.nmi_pending for c in live):
            return "halted"
        if until == "prompt":
            if not self.serial.input and "tty_wait" in seen:
                if not any(c.rt.irr or c.rt.nmi_pending for c in live):
                    return "prompt"
        elif callable(until) and until(self):
            return "until"
        return None

    def _looping(self, cpu: Cpu) -> bool:
        return any(e.kind == "panic_loop" and e.cpu == cpu.index for e in self.events) or \
            cpu.rt.state in (CpuState.STOPPED, CpuState.PARKED)

    def run(self, until: Union[str, Callable[["Machine"], bool]] = "prompt", *,
            max_instructions: int = 2_000_000_000, max_seconds: float = 60.0) -> RunResult:
        """Run the CPUs until ``until`` ("prompt", "halt", or a predicate) or the guest stops.

        Every run is bounded: ``max_instructions`` of guest work (summed over CPUs) and
        ``max_seconds`` of host time; past either, BudgetExceeded says where each CPU was.
        """
        if self.boot_info is None:
            raise MachineError("the machine is off: call boot() or power_on() first")
        t0 = time.perf_counter()
        start_events = len(self.events)
        used = 0
        q = self.config.quantum
        self._stop_now = False
        self._run_kinds = set()
        for k in ("reset", "poweroff"):
            self._flags.pop(k, None)
        n = len(self.cpus)
        while True:
            # One CPU's turn.  A round gives every CPU one quantum, in index order, then the
            # clock advances; a run that stops mid-round resumes with the next CPU, so
            # stopping (at a panic stage, say) never reorders the CPUs.
            i = int(self._flags.get("rr", 0))  # type: ignore[call-overload]
            cpu = self.cpus[i]
            if self._service(cpu):
                # a quantum that ends with the CPU going idle (mdelay's sleep, hlt) ran only
                # the few instructions up to it: the budget counts guest work, not waiting,
                # so panic=7200's reboot wait costs virtual time, not the instruction budget
                used += q if self._run_quantum(cpu, q) else IDLE_QUANTUM
                self._flags["ran"] = True
            self._flags["rr"] = (i + 1) % n
            if i + 1 == n:
                self.clock_ns += q
                if not self._flags.get("ran"):
                    self._fast_forward()
                self._flags["ran"] = False
                self._fire_timers()
            reason = self._stop_reason(until)
            if reason:
                break
            if used > max_instructions:
                raise BudgetExceeded("instruction", f"{max_instructions:,}", self._where())
            if time.perf_counter() - t0 > max_seconds:
                raise BudgetExceeded("wall-clock", f"{max_seconds:g} s", self._where())
        self.total_instructions += used
        return RunResult(reason, self.clock_ns, used, time.perf_counter() - t0, self.events[start_events:])

    def _service(self, cpu: Cpu) -> bool:
        """Deliver what is pending to ``cpu``; True when it should run this round."""
        rt = cpu.rt
        if rt.state == CpuState.PARKED:
            return False
        if rt.nmi_pending and not rt.nmi_blocked:
            rt.nmi_pending = False
            rt.nmi_blocked = True
            self._deliver(cpu, 2)
            self._arm_nmi_unblock(cpu)
            rt.state = CpuState.RUNNING
        elif rt.irr and rt.state != CpuState.STOPPED and cpu.interrupts_enabled:
            v = max(rt.irr)
            rt.irr.discard(v)
            self._deliver(cpu, v)
            rt.state = CpuState.RUNNING
        if rt.state == CpuState.SLEEPING and self.clock_ns >= rt.sleep_until:
            rt.state = CpuState.RUNNING
        return rt.state == CpuState.RUNNING

    def _deliver(self, cpu: Cpu, vector: int, error_code: Optional[int] = None,
                 return_rip: Optional[int] = None) -> None:
        if self.trace_interrupts:
            self.interrupt_log.append(Delivery(self.clock_ns, cpu.index, vector,
                                               cpu.uc.reg_read(X.UC_X86_REG_RFLAGS), cpu.rip))
        try:
            cpu.deliver(vector, error_code, return_rip)
        except MemoryFault as first:
            try:
                cpu.deliver(8, 0, return_rip)
            except MemoryFault:
                raise TripleFault(cpu.index, vector, cpu.rip, self.symbolize(cpu.rip)) from first

    def _run_quantum(self, cpu: Cpu, q: int) -> bool:
        """Run ``cpu`` for up to ``q`` instructions; False when it went idle (sleep, hlt)."""
        cpu.pending = None
        rip = cpu.rip
        try:
            cpu.uc.emu_start(rip, NEVER, 0, q)
        except UcError as e:
            where = self.symbolize(cpu.rip)
            raise GuestError(cpu.index, cpu.rip, where, str(e),
                             "an access outside guest RAM or an instruction Unicorn cannot run") from None
        p = cpu.pending
        if p is None:
            rip = cpu.rip
            if rip - 1 in self._hlt_sites:
                # Unicorn ends emu_start right after `hlt`.  RIP just past one of the
                # kernel's hlt instructions means the CPU halted: those instructions are
                # only ever followed by code reached through them.
                cpu.rt.state = CpuState.HALTED if cpu.interrupts_enabled else CpuState.STOPPED
                return False
            return True
        cpu.pending = None
        if p.kind == "exception":
            v = p.vector
            err = None
            if v == 14:
                err = pagefault.error_code(cpu, self.image)
            elif v in ERROR_CODE_VECTORS:
                err = 0
            if v < 32 and v not in (3,):
                # observed, not reported by the guest: the CPU raised an exception
                self._emit(LabEvent(self.clock_ns, cpu.index, "exception",
                                    (v, err or 0, cpu.reg("cr2") if v == 14 else 0), cpu.rip))
            self._deliver(cpu, v, err)
        elif p.kind == "syscall":
            cpu.enter_syscall(cpu.rip)
        elif p.kind == "sleep":
            if self.clock_ns + q < cpu.rt.sleep_until:
                cpu.rt.state = CpuState.SLEEPING
                return False
        return True

    def _fire_timers(self) -> None:
        for cpu in self.cpus:
            rt = cpu.rt
            if rt.timer_period and rt.state != CpuState.PARKED and self.clock_ns >= rt.timer_next:
                rt.irr.add(HW.LOCAL_TIMER_VECTOR)
                while rt.timer_next <= self.clock_ns:
                    rt.timer_next += rt.timer_period

    def _fast_forward(self) -> None:
        """No CPU could run: jump the clock to the next thing that can wake one."""
        wake = []
        for cpu in self.cpus:
            rt = cpu.rt
            if rt.state == CpuState.PARKED:
                continue
            if rt.state == CpuState.SLEEPING:
                wake.append(rt.sleep_until)
            if rt.timer_period and rt.state in (CpuState.HALTED, CpuState.SLEEPING):
                if rt.state == CpuState.HALTED or cpu.interrupts_enabled:
                    wake.append(rt.timer_next)
        if wake:
            q = self.config.quantum
            target = min(wake)
            if target > self.clock_ns:
                self.clock_ns += ((target - self.clock_ns + q - 1) // q) * q

    # ------------------------------------------------------------------ inspection
    def _where(self) -> List[str]:
        out = []
        for c in self.cpus:
            if c.rt.state == CpuState.PARKED:
                out.append(f"CPU {c.index} parked")
            else:
                out.append(f"CPU {c.index} {c.rt.state.value} at {self.symbolize(c.rip)} "
                           f"(IF={int(c.interrupts_enabled)})")
        return out

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
        import hashlib

        h = hashlib.blake2b(digest_size=16)
        for c in self.cpus:
            h.update(repr((c.rt.state.value, sorted(c.registers().as_dict().items()))).encode())
        h.update(self.mem.digest_source())
        h.update(repr((self.clock_ns, len(self.events))).encode())
        return h.hexdigest()

    def snapshot(self, base: Optional[Snapshot] = None) -> Snapshot:
        """Everything needed to come back here: CPU contexts, devices, memory, clock.

        With ``base`` (a full snapshot taken earlier), only the pages that differ from it
        are kept, which makes a snapshot per panic stage cheap.
        """
        if base is not None and base.base is not None:
            base = base.base
        pages = self.mem.diff_pages(base.memory) if base is not None else self.mem.save_pages()
        return Snapshot(self.clock_ns, [c.save() for c in self.cpus], pages,
                        self.serial.save(), tuple(self.events), dict(self._flags), self.total_instructions, base,
                        self.boot_info)

    def restore(self, snap: Snapshot) -> None:
        """Come back to ``snap``: registers, devices, clock and every byte of RAM."""
        if snap.base is None:
            self.mem.restore_pages(snap.memory)
        else:
            self.mem.restore_delta(snap.base.memory, snap.memory)
        for c, s in zip(self.cpus, snap.cpus):
            c.restore(s)
        self.serial.restore(snap.serial)
        self.events[:] = snap.events
        self._flags = dict(snap.flags)
        self.clock_ns = snap.clock_ns
        self.total_instructions = snap.total_instructions
        if snap.boot_info is not None:
            self.boot_info = snap.boot_info
