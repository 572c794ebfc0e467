"""Code commands: ``sym`` and ``dis``."""
from __future__ import annotations

import re
from typing import List

from kpanic_lab.analysis.disasm import disassemble, disassemble_function, disassemble_reverse
from kpanic_lab.crash.registry import CommandError, Output, command, parse_options, py_lines
from kpanic_lab.crash.render_mem import render_dis, sym_line
from kpanic_lab.crash.session import CrashSession


@command("sym", "a symbol's address, type and source line, or the symbol an address is in",
         "sym [-l] [-q string] [symbol | address]...",
         options=(("symbol", "its address, nm type letter and source line"),
                  ("address", "the symbol it falls in, as symbol+offset (decimal)"),
                  ("-l", "every symbol, by address"),
                  ("-q string", "the symbols whose names contain string")))
def _sym(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("sym", args, "lq:")
    prog = s.prog
    if "l" in opts or "q" in opts:
        pattern = opts["q"][-1] if "q" in opts else ""
        syms = prog.symbols.matching(pattern)
        text = "\n".join(f"{k.address:016x} ({k.letter}) {k.name}" + (f" [{k.module}]" if k.module else "")
                         for k in syms)
        code = py_lines(f"for k in prog.symbols.matching({pattern!r}):",
                        '    print(f"{k.address:016x} ({k.letter}) {k.name}" + (f" [{k.module}]" if k.module else ""))')
        return Output(text, code)
    if not rest:
        raise CommandError("give a symbol or an address (or -l, -q string)")
    lines, addrs, names = [], [], []
    for a in rest:
        k = prog.symbols.get(a)
        if k is not None:
            addr = k.address
        else:
            if re.fullmatch(r"[A-Za-z_.$][\w.$]*", a) and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", a):
                raise CommandError(f"symbol not found: {a}")
            addr = s.resolve_address(a)
        line = sym_line(prog, addr, a if k is not None else None)
        if line is None:
            raise CommandError(f"invalid address: {a}")
        lines.append(line)
        addrs.append(addr)
        names.append(a if k is not None else None)
    code = py_lines("from kpanic_lab.crash.render_mem import sym_line",
                    "for addr, name in [" + ", ".join(f"({a:#x}, {n!r})" for a, n in zip(addrs, names)) + "]:",
                    "    print(sym_line(prog, addr, name))")
    return Output("\n".join(lines), code)


@command("dis", "disassemble: a function, or instructions from an address",
         "dis [-l] [-r] symbol | address [count]",
         options=(("symbol", "the whole function (a plain function name, no count)"),
                  ("address", "one instruction there (hex, or symbol+offset), or count of them"),
                  ("-r", "from the start of the function up to and including the address"),
                  ("-l", "the source file and line above each new line of instructions"),
                  ("count", "how many instructions")),
         description="""
AT&T syntax as gdb (and so crash) writes it, call and jump targets named, RIP-relative
operands resolved.  dis -r on an exception RIP shows the code that ran up to the fault.""")
def _dis(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("dis", args, "lr")
    if not rest or len(rest) > 2:
        raise CommandError("give a symbol or address, and optionally a count")
    prog = s.prog
    lines = "l" in opts
    addr = s.resolve_address(rest[0])
    if not prog.symbols.in_text(addr):
        raise CommandError(f"{rest[0]} is not in the kernel's text")
    named = prog.symbols.get(rest[0])
    whole = named is not None and named.is_text and len(rest) == 1 and "r" not in opts
    if "r" in opts:
        if len(rest) > 1:
            raise CommandError("-r takes no count: it goes from the function's start to the address")
        insns = disassemble_reverse(prog, addr)
        call = f"disassemble_reverse(prog, {addr:#x})"
    elif whole:
        insns = disassemble_function(prog, addr)
        call = f"disassemble_function(prog, {addr:#x})"
    else:
        try:
            count = int(rest[1]) if len(rest) > 1 else 1
        except ValueError:
            raise CommandError(f"invalid count: {rest[1]}") from None
        if not 0 < count <= 10000:
            raise CommandError(f"invalid count: {rest[1]}")
        insns = disassemble(prog, addr, count=count)
        call = f"disassemble(prog, {addr:#x}, count={count})"
    code = py_lines(f"from kpanic_lab.analysis.disasm import {call.split('(')[0]}",
                    "from kpanic_lab.crash.render_mem import render_dis",
                    f"print(render_dis(prog, {call}, lines={lines}))")
    return Output(render_dis(prog, insns, lines), code)
