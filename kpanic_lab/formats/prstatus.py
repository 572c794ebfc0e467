"""NT_PRSTATUS for x86-64: ``struct elf_prstatus`` with the registers a CPU had when it stopped.

``crash_save_cpu()`` fills one per CPU (the pid of the task it was running and its registers
in ``struct user_regs_struct`` order) and kexec-tools points the vmcore's PT_NOTE at them.
gdb, crash and readelf read the same 336 bytes (``readelf -n``: "CORE 0x00000150 NT_PRSTATUS").

    offset  field
      0     struct elf_siginfo pr_info { int si_signo, si_code, si_errno }
     12     short pr_cursig  (+2 pad)
     16     unsigned long pr_sigpend, pr_sighold
     32     pid_t pr_pid, pr_ppid, pr_pgrp, pr_sid
     48     struct timeval pr_utime, pr_stime, pr_cutime, pr_cstime
    112     elf_gregset_t pr_reg: 27 x u64, in USER_REGS order
    328     int pr_fpvalid  (+4 pad)

>>> p = PrStatus(pid=1, regs={"rip": 0xffffffff81001234, "rsp": 0xffff888000100000})
>>> q = PrStatus.unpack(p.pack()); (q.pid, hex(q.regs["rip"]), len(p.pack()))
(1, '0xffffffff81001234', 336)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict

NT_PRSTATUS = 1

# struct user_regs_struct (arch/x86/include/asm/user_64.h), with gdb's register names
USER_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
             "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base",
             "ds", "es", "fs", "gs")

_PRSTATUS = struct.Struct("<3ih2x2Q4i8q27Qi4x")
PRSTATUS_SIZE = _PRSTATUS.size          # 336 = 0x150
PR_REG_OFFSET = 112
assert PRSTATUS_SIZE == 336


class PrStatusError(ValueError):
    """The bytes are not a struct elf_prstatus of x86-64."""


@dataclass(frozen=True)
class PrStatus:
    """One CPU's saved state: the task's pid and the 27 registers (missing ones are 0)."""

    pid: int = 0
    regs: Dict[str, int] = field(default_factory=dict)
    ppid: int = 0
    pgrp: int = 0
    sid: int = 0
    cursig: int = 0

    def reg(self, name: str) -> int:
        """A register by gdb's name (``rip``, ``rsp``, ``eflags`` ...); 0 if not saved."""
        if name not in USER_REGS:
            raise KeyError(f"x86-64 elf_prstatus has no register {name!r} (it has {', '.join(USER_REGS)})")
        return self.regs.get(name, 0)

    def pack(self) -> bytes:
        unknown = set(self.regs) - set(USER_REGS)
        if unknown:
            raise PrStatusError(f"not x86-64 user_regs_struct registers: {', '.join(sorted(unknown))}")
        values = [self.regs.get(r, 0) & 0xFFFFFFFFFFFFFFFF for r in USER_REGS]
        return _PRSTATUS.pack(0, 0, 0, self.cursig, 0, 0, self.pid, self.ppid, self.pgrp, self.sid,
                              *([0] * 8), *values, 0)

    @classmethod
    def unpack(cls, data: bytes) -> "PrStatus":
        if len(data) < PRSTATUS_SIZE:
            raise PrStatusError(f"NT_PRSTATUS is {len(data)} bytes; x86-64 struct elf_prstatus is {PRSTATUS_SIZE}")
        f = _PRSTATUS.unpack_from(data)
        regs = dict(zip(USER_REGS, f[18:45]))
        return cls(pid=f[6], ppid=f[7], pgrp=f[8], sid=f[9], cursig=f[3], regs=regs)
