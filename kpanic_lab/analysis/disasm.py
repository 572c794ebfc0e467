"""Disassembly with capstone, written as gdb writes it (crash's ``dis`` is gdb's).

gdb prints AT&T syntax the way objdump does: hex immediates and displacements,
``(%rax,%rbx,1)``, no size suffix when a register says the size, ``call``/``ret``/
``push`` without ``q``, branch targets as ``0xffffffff810076c0 <panic>`` and RIP-relative
operands resolved in a ``# 0x... <symbol>`` comment.  :func:`decode` is pure over bytes;
:func:`disassemble` reads the code from the program's memory (what actually ran).

>>> [str(i) for i in decode(bytes.fromhex("554889e5c3"), 0x1000)]
['push   %rbp', 'mov    %rsp,%rbp', 'ret']
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from capstone import CS_ARCH_X86, CS_MODE_64, CS_OPT_SYNTAX_ATT, Cs
from capstone.x86 import X86_OP_IMM

from kpanic_lab.analysis.errors import NotFound, ReadError

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

Symbolizer = Callable[[int], Optional[str]]

_ALWAYS_STRIP = {"callq", "retq", "jmpq", "pushq", "popq", "pushfq", "popfq", "leaveq", "lgdtq", "lidtq",
                 "sgdtq", "sidtq"}
_STRING_OPS = ("movs", "stos", "lods", "scas", "cmps")
_BRANCH = re.compile(r"^(call|jmp|j[a-z]+|loop[a-z]*)$")


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction, in gdb's words."""

    address: int
    size: int
    mnemonic: str
    operands: str
    raw: bytes
    target: Optional[int] = None          # a direct call/jump target
    comment: str = ""                     # "# 0xffffffff81069130 <panic_cpu>" for RIP-relative

    def __str__(self) -> str:
        text = f"{self.mnemonic:<6} {self.operands}" if self.operands else self.mnemonic
        return text + (f"        {self.comment}" if self.comment else "")

    @property
    def is_call(self) -> bool:
        return self.mnemonic == "call"

    @property
    def is_ret(self) -> bool:
        return self.mnemonic in ("ret", "retq")


@lru_cache(maxsize=2)
def _engines() -> Tuple[Cs, Cs]:
    att = Cs(CS_ARCH_X86, CS_MODE_64)
    att.syntax = CS_OPT_SYNTAX_ATT
    att.detail = True
    att.skipdata = True
    intel = Cs(CS_ARCH_X86, CS_MODE_64)
    intel.skipdata = True
    return att, intel


def _hex_disp(m: "re.Match[str]") -> str:
    v = int(m.group(2))
    return f"{m.group(1)}{'-' if v < 0 else ''}0x{abs(v):x}("


def _has_register_operand(ops: str) -> bool:
    outside = re.sub(r"\([^)]*\)", "", ops)
    return bool(re.search(r"%[a-z0-9]+\b(?!:)", outside))


def gdb_style(mnemonic: str, ops: str, intel_mnemonic: str, imms: Tuple[int, ...] = (),
              has_disp: bool = False) -> Tuple[str, str]:
    """capstone's AT&T text rewritten as objdump/gdb print it (pure).  ``imms`` are the
    immediate operands already masked to their size; ``has_disp`` says the encoding has
    a displacement (gdb prints ``0x0(%rax)`` then, not ``(%rax)``)."""
    prefix = ""
    parts = mnemonic.split()
    if len(parts) == 2:
        prefix, mnemonic = parts[0] + " ", parts[1]
        intel_mnemonic = intel_mnemonic.split()[-1]
    it = iter(imms)
    ops = re.sub(r"\$(-?(?:0x[0-9a-f]+|\d+))", lambda m: f"$0x{next(it, int(m.group(1), 0)) & (2**64 - 1):x}", ops)
    ops = re.sub(r"(^|[\s,:])(-?\d+)\(", _hex_disp, ops)
    if has_disp:
        ops = re.sub(r"(^|[\s,:*])\((%|,)", r"\g<1>0x0(\2", ops)
    if mnemonic.startswith("nop") and ops.startswith("%cs:"):
        prefix, ops = "cs ", ops[4:]
    ops = re.sub(r"(%[a-z]s:)(\d+)\b(?!\()", lambda m: f"{m.group(1)}0x{int(m.group(2)):x}", ops)
    ops = re.sub(r"\((%\w+), (%\w+)\)", r"(\1, \2, 1)", ops)
    ops = re.sub(r"\(, (%\w+)\)", r"(, \1, 1)", ops)
    ops = ops.replace(", ", ",")
    base = mnemonic
    if mnemonic in _ALWAYS_STRIP:
        base = mnemonic[:-1]
    elif mnemonic.startswith(_STRING_OPS) and len(mnemonic) == 5:
        base = mnemonic[:4] if _has_register_operand(ops.replace("(%rdi)", "").replace("(%rsi)", "")) else mnemonic
        ops = ops.replace("(%rsi)", "%ds:(%rsi)").replace("(%rdi)", "%es:(%rdi)")
    elif mnemonic in ("inb", "inw", "inl", "outb", "outw", "outl"):
        base = mnemonic[:-1]
        ops = ops.replace("%dx", "(%dx)")
    elif (mnemonic == intel_mnemonic + mnemonic[-1:] and mnemonic[-1:] in "bwlq"
          and _has_register_operand(ops)):
        base = intel_mnemonic
    return prefix + base, ops


def decode(code: bytes, address: int, symbolize: Optional[Symbolizer] = None,
           count: Optional[int] = None) -> List[Instruction]:
    """Instructions in ``code`` (which starts at ``address``), at most ``count`` (pure;
    ``symbolize(addr)`` names branch targets and RIP-relative addresses)."""
    att, intel = _engines()
    out: List[Instruction] = []
    intel_iter = intel.disasm(code, address)
    for ins in att.disasm(code, address):
        ii = next(intel_iter, None)
        try:
            imms = tuple(o.imm & ((1 << (8 * o.size)) - 1) for o in ins.operands if o.type == X86_OP_IMM)
            has_disp = ins.disp_size > 0 and ins.disp == 0
            implicit_one = ins.imm_size == 0 and imms == (1,)     # shl/shr/sar by 1 (D0/D1/D3)
        except Exception:          # skipdata bytes have no detail
            imms, has_disp, implicit_one = (), False, False
        if bytes(ins.bytes) == b"\x66\x90":
            mnem, ops = "xchg", "%ax,%ax"
        else:
            mnem, ops = gdb_style(ins.mnemonic, ins.op_str, ii.mnemonic if ii else ins.mnemonic, imms, has_disp)
            if implicit_one and ops.startswith("$0x1,"):
                ops = ops[5:]
        target = None
        comment = ""
        bare = mnem.split()[-1]
        if _BRANCH.match(bare) and re.fullmatch(r"0x[0-9a-f]+", ops):
            target = int(ops, 16)
            name = symbolize(target) if symbolize else None
            if name:
                ops = f"{ops} <{name}>"
        m = re.search(r"(-?)0x([0-9a-f]+)\(%rip\)", ops)
        if m:
            disp = int(m.group(2), 16) * (-1 if m.group(1) else 1)
            dest = (ins.address + ins.size + disp) & 0xFFFFFFFFFFFFFFFF
            name = symbolize(dest) if symbolize else None
            comment = f"# 0x{dest:x}" + (f" <{name}>" if name else "")
        out.append(Instruction(ins.address, ins.size, mnem, ops, bytes(ins.bytes), target, comment))
        if count is not None and len(out) >= count:
            break
    return out


# ---------------------------------------------------------------------------- over a program
def _code(prog: "Program", start: int, size: int) -> bytes:
    try:
        return prog.read(start, size)
    except ReadError:
        img = prog.image
        lo = img._text_range[0]
        if img.in_text(start):
            return img._text_bytes[start - lo:start - lo + size]
        raise


def function_bounds(prog: "Program", addr: int) -> Tuple[int, int]:
    """[start, end) of the function holding ``addr`` (NotFound outside the kernel's text)."""
    loc = prog.symbols.lookup(addr)
    if loc is None or not loc.symbol.is_text and not prog.symbols.in_text(addr):
        raise NotFound(f"{addr:x} is not in a kernel function")
    start = loc.symbol.address
    size = loc.symbol.size            # the ELF size, as gdb bounds a function
    if not size:
        hit = prog.image.lookup(addr)
        size = hit[0].size if hit else 1
    return start, start + max(size, addr - start + 1)


def disassemble(prog: "Program", start: int, count: Optional[int] = None,
                end: Optional[int] = None) -> List[Instruction]:
    """``count`` instructions from ``start``, or everything up to ``end``."""
    if end is None:
        end = start + 16 * (count or 1)
    code = _code(prog, start, end - start)
    return decode(code, start, prog.symbols.near, count)


def disassemble_function(prog: "Program", addr: int) -> List[Instruction]:
    """The whole function that holds ``addr``."""
    lo, hi = function_bounds(prog, addr)
    return disassemble(prog, lo, end=hi)


def disassemble_reverse(prog: "Program", addr: int) -> List[Instruction]:
    """From the start of the function that holds ``addr`` up to the instruction at
    ``addr`` (crash's ``dis -r``: what ran before it)."""
    lo, _ = function_bounds(prog, addr)
    return [i for i in disassemble(prog, lo, end=addr + 16) if i.address <= addr]
