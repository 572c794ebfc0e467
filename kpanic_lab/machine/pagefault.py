"""The page-fault error code, which Unicorn computes internally but does not report.

Bit 0 P: the page was present (a protection fault) or not; bit 1 W: the access
was a write; bit 2 U: it came from ring 3; bit 4 I: it was an instruction fetch.
We rebuild it the way the MMU decided: walk the guest's page tables for CR2,
and decode the faulting instruction with capstone to see whether it writes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from unicorn import x86_const as X

if TYPE_CHECKING:
    from kpanic_lab.guest.image import KernelImage
    from kpanic_lab.machine.cpu import Cpu

PF_PROT, PF_WRITE, PF_USER, PF_INSTR = 1, 2, 4, 16
_IMPLICIT_WRITES = ("push", "call", "stos", "movs", "enter")


@lru_cache(maxsize=1)
def _disassembler():
    from capstone import CS_ARCH_X86, CS_MODE_64, Cs

    md = Cs(CS_ARCH_X86, CS_MODE_64)
    md.detail = True
    return md


def instruction_writes(code: bytes, address: int) -> bool:
    """Does the first instruction of ``code`` write to memory?  (pure)

    >>> instruction_writes(bytes.fromhex("c70425000000000100000000"), 0)   # movl $1, 0x0
    True
    >>> instruction_writes(bytes.fromhex("488b042508000000"), 0)           # mov 0x8, %rax
    False
    """
    from capstone import CS_AC_WRITE
    from capstone.x86 import X86_OP_MEM

    for ins in _disassembler().disasm(code, address, count=1):
        if ins.mnemonic.startswith(_IMPLICIT_WRITES):
            return True
        for op in ins.operands:
            if op.type == X86_OP_MEM and op.access & CS_AC_WRITE:
                return True
        return False
    return False


def error_code(cpu: "Cpu", image: "KernelImage") -> int:
    uc = cpu.uc
    cr2 = uc.reg_read(X.UC_X86_REG_CR2)
    rip = uc.reg_read(X.UC_X86_REG_RIP)
    code = 0
    pa, _, _ = cpu.mem.walk(cpu.cr3, cr2)
    if pa is not None:
        code |= PF_PROT
    if cpu.cpl == 3:
        code |= PF_USER
    if cr2 == rip:
        return code | PF_INSTR
    try:
        insn = cpu.read_virt(rip, 15)
    except Exception:
        return code | PF_INSTR
    if instruction_writes(insn, rip):
        code |= PF_WRITE
    return code
