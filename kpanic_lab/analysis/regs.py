"""A CPU's registers as a post-mortem tool sees them: one frozen set, named as crash names them.

They come from three places, all turned into the same :class:`RegisterSet`:
the live machine's CPUs (now), a ``struct pt_regs`` the entry code saved on a stack,
and an ELF ``NT_PRSTATUS`` note of a vmcore, whose ``pr_reg`` (``struct user_regs_struct``)
starts with the same 21 words as ``pt_regs``.

>>> r = RegisterSet.from_pt_regs_bytes(bytes(168))
>>> r.rip, r.cs
(0, 0)
"""
from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, replace
from typing import Dict, Mapping

# struct pt_regs (arch/x86/include/asm/ptrace.h), word by word, under crash's names
PT_REGS_ORDER = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                 "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss")
PT_REGS_SIZE = 8 * len(PT_REGS_ORDER)

KERNEL_CS, KERNEL_DS = 0x10, 0x18
USER_CS, USER_DS = 0x33, 0x2B


@dataclass(frozen=True)
class RegisterSet:
    """The general registers, RIP, RFLAGS, the segment selectors and ``orig_rax``."""

    rip: int = 0
    rsp: int = 0
    rbp: int = 0
    rflags: int = 0
    rax: int = 0
    rbx: int = 0
    rcx: int = 0
    rdx: int = 0
    rsi: int = 0
    rdi: int = 0
    r8: int = 0
    r9: int = 0
    r10: int = 0
    r11: int = 0
    r12: int = 0
    r13: int = 0
    r14: int = 0
    r15: int = 0
    orig_rax: int = 0xFFFFFFFFFFFFFFFF
    cs: int = KERNEL_CS
    ss: int = KERNEL_DS

    @property
    def user_mode(self) -> bool:
        """True when these registers are a user-mode context (CPL 3)."""
        return self.cs & 3 == 3

    def as_dict(self) -> Dict[str, int]:
        return asdict(self)

    def replace(self, **changes: int) -> "RegisterSet":
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, int]) -> "RegisterSet":
        """From any mapping with (a superset of) these names; ``eflags``/``flags`` and
        pt_regs' short names (``ip``, ``sp``, ``bp``, ``ax`` ...) are accepted too."""
        alias = {"eflags": "rflags", "flags": "rflags", "ip": "rip", "sp": "rsp", "bp": "rbp",
                 "ax": "rax", "bx": "rbx", "cx": "rcx", "dx": "rdx", "si": "rsi", "di": "rdi",
                 "orig_ax": "orig_rax"}
        fields = {f for f in cls.__dataclass_fields__}
        kw = {}
        for k, v in values.items():
            k = alias.get(k, k)
            if k in fields:
                kw[k] = int(v)
        if "ss" not in kw and "cs" in kw:
            kw["ss"] = USER_DS if kw["cs"] & 3 == 3 else KERNEL_DS
        return cls(**kw)

    @classmethod
    def from_pt_regs_bytes(cls, data: bytes) -> "RegisterSet":
        """From the 168 bytes of a ``struct pt_regs`` (or the start of an NT_PRSTATUS ``pr_reg``)."""
        if len(data) < PT_REGS_SIZE:
            raise ValueError(f"a pt_regs is {PT_REGS_SIZE} bytes, got {len(data)}")
        words = struct.unpack_from("<21Q", data)
        return cls(**dict(zip(PT_REGS_ORDER, words)))
