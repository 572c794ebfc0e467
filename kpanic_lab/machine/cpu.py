"""One CPU: a Unicorn instance over the shared memory, and the x86-64 event
delivery Unicorn leaves to us.

Unicorn hands every exception to a hook and never reads the guest's IDT, and
it does not execute ``syscall``.  So this module does what the hardware does:
it reads the gate from the guest's IDT, switches to the TSS stack on a
privilege change (or to an IST stack), pushes the interrupt frame and the
error code, clears IF for interrupt gates, and jumps to the handler; and for
``syscall`` it follows the AMD64 manual (LSTAR, STAR, SFMASK, RCX, R11).

Unicorn cannot lower the privilege level through a register write (writing CS
or SS in 64-bit mode only changes the selector), so entering ring 0 from ring
3 restores a ring-0 context saved when the CPU was created and then copies
every architectural register the kernel can see back into it.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from unicorn import UC_ARCH_X86, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

from kpanic_lab.errors import MemoryFault
from kpanic_lab.guest.headers import ERROR_CODE_VECTORS
from kpanic_lab.machine.hwdefs import HW
from kpanic_lab.machine.memory import PhysicalMemory

MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_SFMASK = HW.MSR_EFER, HW.MSR_STAR, HW.MSR_LSTAR, HW.MSR_SYSCALL_MASK
MSR_KERNEL_GS_BASE = HW.MSR_KERNEL_GS_BASE
IF_FLAG, TF_FLAG = 0x200, 0x100

GPRS = [
    ("rax", X.UC_X86_REG_RAX), ("rbx", X.UC_X86_REG_RBX), ("rcx", X.UC_X86_REG_RCX),
    ("rdx", X.UC_X86_REG_RDX), ("rsi", X.UC_X86_REG_RSI), ("rdi", X.UC_X86_REG_RDI),
    ("rbp", X.UC_X86_REG_RBP), ("rsp", X.UC_X86_REG_RSP), ("r8", X.UC_X86_REG_R8),
    ("r9", X.UC_X86_REG_R9), ("r10", X.UC_X86_REG_R10), ("r11", X.UC_X86_REG_R11),
    ("r12", X.UC_X86_REG_R12), ("r13", X.UC_X86_REG_R13), ("r14", X.UC_X86_REG_R14),
    ("r15", X.UC_X86_REG_R15), ("rip", X.UC_X86_REG_RIP), ("rflags", X.UC_X86_REG_RFLAGS),
]
_CARRY_REGS = [r for n, r in GPRS if n not in ("rip", "rflags")] + [
    X.UC_X86_REG_CR0, X.UC_X86_REG_CR2, X.UC_X86_REG_CR3, X.UC_X86_REG_CR4,
    X.UC_X86_REG_FS_BASE, X.UC_X86_REG_GS_BASE,
]
_CARRY_MMRS = [X.UC_X86_REG_GDTR, X.UC_X86_REG_IDTR, X.UC_X86_REG_TR]
_CARRY_MSRS = [MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_SFMASK, MSR_KERNEL_GS_BASE]


class CpuState(enum.Enum):
    PARKED = "parked"        # not started (waiting for a STARTUP IPI), or sent INIT
    RUNNING = "running"
    HALTED = "halted"        # hlt with IF=1: an interrupt wakes it
    SLEEPING = "sleeping"    # LAB_OP_DELAY_UNTIL: wakes at a deadline (or an interrupt if IF=1)
    STOPPED = "stopped"      # hlt with IF=0: only an NMI wakes it


@dataclass
class Registers:
    """A CPU's registers at one moment (what a student reads, what a trace records)."""

    rax: int; rbx: int; rcx: int; rdx: int; rsi: int; rdi: int; rbp: int; rsp: int
    r8: int; r9: int; r10: int; r11: int; r12: int; r13: int; r14: int; r15: int
    rip: int; rflags: int; cs: int; cr2: int; cr3: int; gs_base: int

    @property
    def interrupts_enabled(self) -> bool:
        """RFLAGS.IF: 1 when the CPU accepts maskable interrupts."""
        return bool(self.rflags & IF_FLAG)

    @property
    def cpl(self) -> int:
        return self.cs & 3

    def as_dict(self) -> Dict[str, int]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        """In hex, as Linux and crash print registers (``rip=0xffffffff81012a34``), not in decimal."""
        return "Registers(" + ", ".join(f"{k}={v:#x}" for k, v in self.__dict__.items()) + ")"


@dataclass
class PendingEvent:
    kind: str                 # "exception", "syscall", "invalid"
    vector: int = 0
    next_rip: Optional[int] = None


@dataclass
class CpuRuntime:
    """What the machine tracks per CPU besides Unicorn's own state (saved in snapshots)."""

    state: CpuState = CpuState.PARKED
    irr: Set[int] = field(default_factory=set)     # pending maskable vectors
    nmi_pending: bool = False
    nmi_blocked: bool = False
    sleep_until: int = 0
    timer_period: int = 0
    timer_next: int = 0
    quanta: int = 0

    def copy(self) -> "CpuRuntime":
        return CpuRuntime(self.state, set(self.irr), self.nmi_pending, self.nmi_blocked,
                          self.sleep_until, self.timer_period, self.timer_next, self.quanta)


class Cpu:
    """CPU ``index``: its Unicorn instance and how events enter it."""

    def __init__(self, index: int, mem: PhysicalMemory, tcg_buffer: int = 64 << 20) -> None:
        self.index = index
        self.mem = mem
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64)
        try:
            self.uc.ctl_set_tcg_buffer_size(tcg_buffer)  # type: ignore[attr-defined]
        except Exception:  # older builds: keep the default
            pass
        self.uc.mem_map_ptr(0, mem.size, UC_PROT_ALL, mem.address)
        self.rt = CpuRuntime()
        self.pending: Optional[PendingEvent] = None
        self._reset = self.uc.context_save()   # power-on state (CPL 0, paging off)
        self._ring0 = self._reset              # replaced by start(): CPL 0, long mode, paging on

    # -- registers ----------------------------------------------------------
    def reg(self, name: str) -> int:
        return self.uc.reg_read(getattr(X, f"UC_X86_REG_{name.upper()}"))

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(getattr(X, f"UC_X86_REG_{name.upper()}"), value & 0xFFFFFFFFFFFFFFFF)

    def registers(self) -> Registers:
        vals = {n: self.uc.reg_read(r) for n, r in GPRS}
        return Registers(cs=self.uc.reg_read(X.UC_X86_REG_CS), cr2=self.uc.reg_read(X.UC_X86_REG_CR2),
                         cr3=self.uc.reg_read(X.UC_X86_REG_CR3),
                         gs_base=self.uc.reg_read(X.UC_X86_REG_GS_BASE), **vals)

    @property
    def rip(self) -> int:
        return self.uc.reg_read(X.UC_X86_REG_RIP)

    @property
    def cr3(self) -> int:
        return self.uc.reg_read(X.UC_X86_REG_CR3)

    @property
    def interrupts_enabled(self) -> bool:
        return bool(self.uc.reg_read(X.UC_X86_REG_RFLAGS) & IF_FLAG)

    @property
    def cpl(self) -> int:
        return self.uc.reg_read(X.UC_X86_REG_CS) & 3

    def read_virt(self, va: int, n: int) -> bytes:
        return self.mem.read_virt(self.cr3, va, n)

    # -- start --------------------------------------------------------------
    def start(self, rip: int, rsp: int, cr3: int, gdt: Tuple[int, int], efer: int = 0x501,
              cr0: int = 0x80050033, cr4: int = 0x6A0, rdi: int = 0, rsi: int = 0) -> None:
        """Start in long mode at CPL 0 with paging on (what the boot loader or a STARTUP IPI leaves)."""
        uc = self.uc
        uc.context_restore(self._reset)
        uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt[0], gdt[1], 0))
        uc.reg_write(X.UC_X86_REG_CR3, cr3)
        uc.reg_write(X.UC_X86_REG_CR4, cr4)
        uc.msr_write(MSR_EFER, efer)
        uc.reg_write(X.UC_X86_REG_CR0, cr0)
        uc.reg_write(X.UC_X86_REG_CS, HW.KERNEL_CS)
        uc.reg_write(X.UC_X86_REG_SS, HW.KERNEL_DS)
        uc.reg_write(X.UC_X86_REG_RFLAGS, 0x2)
        for n, r in GPRS:
            if n not in ("rip", "rflags"):
                uc.reg_write(r, 0)
        uc.reg_write(X.UC_X86_REG_RSP, rsp)
        uc.reg_write(X.UC_X86_REG_RDI, rdi)
        uc.reg_write(X.UC_X86_REG_RSI, rsi)
        uc.reg_write(X.UC_X86_REG_RIP, rip)
        self._ring0 = uc.context_save()   # CPL 0 in long mode: the template for entering ring 0
        self.pending = None
        self.rt.state = CpuState.RUNNING
        self.rt.irr.clear()
        self.rt.nmi_pending = self.rt.nmi_blocked = False
        self.rt.timer_period = 0

    # -- ring change --------------------------------------------------------
    def _enter_ring0(self) -> int:
        """Reload a clean CPL-0 context keeping every architectural register; returns RFLAGS.

        Used for every delivery and every ``syscall``: it is the only way into ring 0 from
        ring 3, and it also clears QEMU's exception bookkeeping (``old_exception``, which turns
        a second fault into a double fault) and the state ``hlt`` leaves, both of which only
        the interrupt delivery Unicorn skips would reset.
        """
        uc = self.uc
        vals = [uc.reg_read(r) for r in _CARRY_REGS]
        mmrs = [uc.reg_read(r) for r in _CARRY_MMRS]
        msrs = [uc.msr_read(m) for m in _CARRY_MSRS]
        rflags = uc.reg_read(X.UC_X86_REG_RFLAGS)
        uc.context_restore(self._ring0)
        for m, v in zip(_CARRY_MSRS, msrs):
            uc.msr_write(m, v)
        for r, v in zip(_CARRY_REGS, vals):
            uc.reg_write(r, v)
        for r, v in zip(_CARRY_MMRS, mmrs):
            uc.reg_write(r, v)
        return rflags

    # -- delivery -----------------------------------------------------------
    def _tss_stack(self, which: int) -> int:
        """TSS.rsp0 (which=0) or TSS.ist[which] from the task register's TSS."""
        _, base, limit, _ = self.uc.reg_read(X.UC_X86_REG_TR)
        off = 4 if which == 0 else 0x24 + 8 * (which - 1)
        if base == 0 or off + 8 > limit + 1:
            raise MemoryFault(base + off, 8, "no usable TSS loaded (ltr) for a stack switch")
        return int.from_bytes(self.read_virt(base + off, 8), "little")

    def deliver(self, vector: int, error_code: Optional[int] = None, return_rip: Optional[int] = None) -> int:
        """Enter the guest's handler for ``vector`` as the hardware does; returns the handler RIP.

        Raises MemoryFault when the IDT, TSS or new stack cannot be accessed (the
        caller turns that into a double fault, then a triple fault).
        """
        uc = self.uc
        _, idt_base, idt_limit, _ = uc.reg_read(X.UC_X86_REG_IDTR)
        if vector * 16 + 15 > idt_limit:
            raise MemoryFault(idt_base + vector * 16, 16, f"vector {vector} is beyond the IDT limit")
        lo, hi = struct.unpack("<QQ", self.read_virt(idt_base + vector * 16, 16))
        if not lo & (1 << 47):
            raise MemoryFault(idt_base + vector * 16, 16, f"IDT gate for vector {vector} is not present")
        target = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) | ((hi & 0xFFFFFFFF) << 32)
        selector = (lo >> 16) & 0xFFFF
        ist = (lo >> 32) & 7
        gate_type = (lo >> 40) & 0xF
        rip = uc.reg_read(X.UC_X86_REG_RIP) if return_rip is None else return_rip
        old_cs = uc.reg_read(X.UC_X86_REG_CS)
        old_ss = uc.reg_read(X.UC_X86_REG_SS)
        old_rsp = uc.reg_read(X.UC_X86_REG_RSP)
        from_user = (old_cs & 3) == 3
        if ist:
            new_rsp = self._tss_stack(ist)
        elif from_user:
            new_rsp = self._tss_stack(0)
        else:
            new_rsp = old_rsp
        new_rsp &= ~0xF
        # Always through a clean CPL-0 context: besides the ring change, this clears QEMU's
        # exception bookkeeping and the halted state `hlt` leaves behind, either of which
        # would otherwise turn the next fault into a silent double/triple fault.
        rflags = self._enter_ring0()
        if from_user:
            old_ss |= 3
        frame = [old_ss, old_rsp, rflags, old_cs, rip]
        if error_code is not None:
            frame.append(error_code)
        new_rsp -= 8 * len(frame)
        # frame[0] is pushed first, so it sits at the highest address
        self.mem.write_virt(self.cr3, new_rsp, struct.pack(f"<{len(frame)}Q", *reversed(frame)))
        uc.reg_write(X.UC_X86_REG_RSP, new_rsp)
        uc.reg_write(X.UC_X86_REG_CS, selector)
        uc.reg_write(X.UC_X86_REG_SS, 0 if from_user else old_ss)
        new_flags = rflags & ~(TF_FLAG | 0x10000 | 0x4000)
        if gate_type == 0xE:
            new_flags &= ~IF_FLAG
        uc.reg_write(X.UC_X86_REG_RFLAGS, new_flags)
        uc.reg_write(X.UC_X86_REG_RIP, target)
        return target

    def enter_syscall(self, next_rip: int) -> int:
        """``syscall`` as AMD64 defines it; returns the new RIP (LSTAR)."""
        uc = self.uc
        star = uc.msr_read(MSR_STAR)
        lstar = uc.msr_read(MSR_LSTAR)
        mask = uc.msr_read(MSR_SFMASK)
        rflags = self._enter_ring0()
        uc.reg_write(X.UC_X86_REG_RCX, next_rip)
        uc.reg_write(X.UC_X86_REG_R11, rflags)
        uc.reg_write(X.UC_X86_REG_RFLAGS, (rflags & ~mask & ~0x10000) | 0x2)
        sel = (star >> 32) & 0xFFFC
        uc.reg_write(X.UC_X86_REG_CS, sel)
        uc.reg_write(X.UC_X86_REG_SS, sel + 8)
        uc.reg_write(X.UC_X86_REG_RIP, lstar)
        return lstar

    # -- snapshots ----------------------------------------------------------
    def save(self) -> Tuple[object, CpuRuntime, Optional[PendingEvent]]:
        return self.uc.context_save(), self.rt.copy(), self.pending

    def restore(self, saved: Tuple[object, CpuRuntime, Optional[PendingEvent]]) -> None:
        ctx, rt, pending = saved
        self.uc.context_restore(ctx)  # type: ignore[arg-type]
        self.rt = rt.copy()
        self.pending = pending
        self.uc.ctl_flush_tb()  # type: ignore[attr-defined]
