"""The guest kernel's constants, read from its own C headers (``kpanic_lab/guest/kernel/*.h``).

Each number of the guest is written once, in C: its memory layout in ``memlayout.h``, page-table
bits in ``mm.h``, tunables in ``param.h``, the boot protocol in ``bootparam.h``, the machine's
hardware interface in ``hw.h``.  This module parses their ``#define`` lines, so the machine, the
dump readers and the analysis can never disagree with the guest; every other module imports the
numbers from here instead of typing them again.

>>> PAGE_SIZE, hex(PAGE_OFFSET), hex(START_KERNEL_MAP)
(4096, '0xffff888000000000', '0xffffffff80000000')
>>> header("param.h")["NR_CPUS"]
8

Linux's own numbers that the guest does not define (``KERNEL_IMAGE_SIZE``, a KASLR kernel's
``page_offset_base``) are not here: they live with the code that reads real Linux dumps.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Dict, FrozenSet, Optional, Set, Tuple

from kpanic_lab.guest import KERNEL_SRC

__all__ = ["parse_defines", "header", "define",
           "PAGE_SHIFT", "PAGE_SIZE", "PAGE_MASK", "PAGE_OFFSET", "START_KERNEL_MAP", "LOAD_PHYSICAL_ADDR",
           "BOOT_PARAMS_PHYS", "PTE_ADDR_MASK", "_PAGE_PRESENT", "_PAGE_RW", "_PAGE_USER", "_PAGE_PSE", "_PAGE_NX",
           "PAGE_MAPPING_ANON", "PAGE_BUDDY_MAPCOUNT_VALUE",
           "E820_TYPE_RAM", "E820_TYPE_RESERVED", "COMMAND_LINE_SIZE", "NR_CPUS", "THREAD_SIZE", "KERNEL_DS", "USER_DS",
           "ERROR_CODE_VECTORS"]

_DEFINE = re.compile(r"\s*#\s*define\s+([A-Za-z_]\w*)(\(?)(.*)")
_COMMENT = re.compile(r"/\*.*?(\*/|$)|//.*")
_LITERAL = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)\b")
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b, ast.BitOr: lambda a, b: a | b,
           ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a, ast.Invert: lambda a: ~a}
_U64 = (1 << 64) - 1


def _python_literal(m: "re.Match[str]") -> str:
    digits = m.group(1)
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xX":
        return "0o" + digits[1:]                 # C octal (fs.h: S_IFDIR 0040000)
    return digits


def _value(expr: str, known: Dict[str, int], unsigned: Set[str]) -> Optional[Tuple[int, bool]]:
    """(value, is unsigned) of a C integer constant expression, or None when it is not one."""
    is_unsigned = any("u" in m.group(2).lower() for m in _LITERAL.finditer(expr))
    try:
        tree = ast.parse(_LITERAL.sub(_python_literal, expr).strip(), mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> int:
        nonlocal is_unsigned
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            is_unsigned |= node.id in unsigned
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        raise ValueError(ast.dump(node))

    try:
        v = ev(tree.body)
    except (ValueError, ArithmeticError):
        return None
    return (v & _U64 if is_unsigned else v), is_unsigned


def parse_defines(text: str) -> Dict[str, int]:
    """The integer object-like ``#define``s of C source ``text``, by name (pure).

    A value is a literal (decimal, 0x hex, 0 octal, with U/L suffixes) or an expression of
    literals and names defined before it in ``text`` (``+ - * << >> | & ^ ~``, parentheses).
    Unsigned values (a ``U`` suffix anywhere in them) wrap to 64 bits as ``unsigned long``
    does.  Anything else (strings, casts, function-like macros, include guards) is left out.

    >>> parse_defines("#define PAGE_SHIFT 12  /* 4 KiB */\\n#define PAGE_SIZE (1UL << PAGE_SHIFT)\\n"
    ...               "#define PAGE_MASK (~(PAGE_SIZE - 1))\\n#define __va(pa) ((pa) + 1)\\n")
    {'PAGE_SHIFT': 12, 'PAGE_SIZE': 4096, 'PAGE_MASK': 18446744073709547520}
    >>> parse_defines("#define PAGE_BUDDY_MAPCOUNT_VALUE (-128)\\n#define S_IFDIR 0040000\\n")
    {'PAGE_BUDDY_MAPCOUNT_VALUE': -128, 'S_IFDIR': 16384}
    """
    out: Dict[str, int] = {}
    unsigned: Set[str] = set()
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if not m or m.group(2):
            continue
        got = _value(_COMMENT.sub(" ", m.group(3)), out, unsigned)
        if got is None:
            out.pop(m.group(1), None)         # redefined to something that is not a number
            continue
        out[m.group(1)], is_unsigned = got
        if is_unsigned:
            unsigned.add(m.group(1))
    return out


@lru_cache(maxsize=None)
def header(name: str) -> Dict[str, int]:
    """The integer ``#define``s of one guest header, e.g. ``header("param.h")["NR_CPUS"]``."""
    return parse_defines((KERNEL_SRC / name).read_text())


def define(name: str, *headers: str) -> int:
    """The ``#define name`` of the first of ``headers`` that has it (KeyError names them all)."""
    for h in headers:
        if name in header(h):
            return header(h)[name]
    raise KeyError(f"no integer #define {name} in the guest's {', '.join(headers)}")


# ------------------------------------------------------------------ memlayout.h: where things live
PAGE_SHIFT = define("PAGE_SHIFT", "memlayout.h")
PAGE_SIZE = define("PAGE_SIZE", "memlayout.h")                  # 4096
PAGE_MASK = define("PAGE_MASK", "memlayout.h")
PAGE_OFFSET = define("PAGE_OFFSET", "memlayout.h")              # the direct map of all RAM
START_KERNEL_MAP = define("__START_KERNEL_map", "memlayout.h")  # the kernel image, at phys_base
LOAD_PHYSICAL_ADDR = define("LOAD_PHYSICAL_ADDR", "memlayout.h")
BOOT_PARAMS_PHYS = define("BOOT_PARAMS_PHYS", "memlayout.h")

# ------------------------------------------------------------------ mm.h: page-table entry bits
PTE_ADDR_MASK = define("PTE_ADDR_MASK", "mm.h")                  # the next table's (or page's) address
_PAGE_PRESENT = define("_PAGE_PRESENT", "mm.h")
_PAGE_RW = define("_PAGE_RW", "mm.h")
_PAGE_USER = define("_PAGE_USER", "mm.h")
_PAGE_PSE = define("_PAGE_PSE", "mm.h")                          # a 1 GiB or 2 MiB page, not a table
_PAGE_NX = define("_PAGE_NX", "mm.h")
PAGE_MAPPING_ANON = define("PAGE_MAPPING_ANON", "mm.h")          # page->mapping & 1: anonymous memory
PAGE_BUDDY_MAPCOUNT_VALUE = define("PAGE_BUDDY_MAPCOUNT_VALUE", "mm.h")   # _mapcount of a free buddy block

# ------------------------------------------------------------------ bootparam.h: the boot protocol
E820_TYPE_RAM = define("E820_TYPE_RAM", "bootparam.h")
E820_TYPE_RESERVED = define("E820_TYPE_RESERVED", "bootparam.h")
COMMAND_LINE_SIZE = define("COMMAND_LINE_SIZE", "bootparam.h")

# ------------------------------------------------------------------ param.h, hw.h
NR_CPUS = define("NR_CPUS", "param.h")
THREAD_SIZE = define("THREAD_SIZE", "param.h")                  # a task's kernel stack
KERNEL_DS = define("KERNEL_DS", "hw.h")                          # selectors (Linux's __KERNEL_DS, __USER_DS)
USER_DS = define("USER_DS", "hw.h")

# ------------------------------------------------------------------ x86.h: the exceptions that push an error code
ERROR_CODE_VECTORS: FrozenSet[int] = frozenset(
    define("X86_TRAP_" + name, "x86.h") for name in ("DF", "TS", "NP", "SS", "GP", "PF", "AC", "CP"))
