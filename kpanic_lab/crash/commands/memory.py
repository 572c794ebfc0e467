"""Memory commands: ``rd``, ``struct`` (and ``union``), ``list``."""
from __future__ import annotations

from typing import List, Optional, Tuple

from kpanic_lab.analysis.lists import walk_list
from kpanic_lab.analysis.types import Type
from kpanic_lab.crash.registry import CommandError, Output, command, parse_options, py_lines
from kpanic_lab.crash.render_mem import render_list, render_rd, render_rd_ascii, render_struct_definition, \
    render_struct_value
from kpanic_lab.crash.session import CrashSession
from kpanic_lab.guest.headers import PAGE_SIZE

_SIZES = {"-8": 8, "-16": 16, "-32": 32, "-64": 64}
MAX_READ = 1 << 20


def _count(token: str, what: str = "count") -> int:
    try:
        n = int(token, 0) if token.startswith("0x") else int(token)
    except ValueError:
        raise CommandError(f"invalid {what}: {token}") from None
    if n <= 0:
        raise CommandError(f"invalid {what}: {token} (must be positive)")
    return n


@command("rd", "read memory: words, bytes or a string at an address or symbol",
         "rd [-8|-16|-32|-64] [-s] [-a] [-x] [-p|-u] address|symbol [count]",
         options=(("-8 -16 -32 -64", "the size of each value (default 64 bits)"),
                  ("-s", "show kernel addresses as symbol+offset (64-bit values)"),
                  ("-a", "the ASCII string at the address, up to its NUL"),
                  ("-x", "leave out the ASCII column"),
                  ("-p", "the address is physical"),
                  ("-u", "the address is a user address of the current context's task"),
                  ("count", "how many values (default 1)")))
def _rd(s: CrashSession, args: List[str]) -> Output:
    bits = 64
    rest_args = []
    for a in args:
        if a in _SIZES:
            bits = _SIZES[a]
        else:
            rest_args.append(a)
    opts, rest = parse_options("rd", rest_args, "saxpu")
    if not rest or len(rest) > 2:
        raise CommandError("give an address or symbol, and optionally a count")
    if "p" in opts and "u" in opts:
        raise CommandError("-p and -u exclude each other")
    addr = s.resolve_address(rest[0])
    prog = s.prog
    if "a" in opts:
        limit = _count(rest[1]) if len(rest) > 1 else 4096
        n = min(limit, MAX_READ)
    else:
        if "s" in opts:
            bits = 64
        n = (_count(rest[1]) if len(rest) > 1 else 1) * (bits // 8)
        if n > MAX_READ:
            raise CommandError(f"at most {MAX_READ} bytes at a time")
    if "p" in opts:
        data, how = _read_upto(lambda a, k: prog.read(a, k, physical=True), addr, n, "a" in opts)
        how = f"prog.read({addr:#x}, {len(data)}, physical=True)"
    elif "u" in opts:
        if prog.linux:
            raise CommandError("rd -u is not available on this kernel (user page tables are read for the lab guest only)")
        task = s.context
        if not task.mm:
            raise CommandError(f"the context ({task.comm}, pid {task.pid}) is a kernel thread: no user memory")
        pgd = prog.read_u64(task.mm + prog.offsetof("mm_struct", "pgd"))
        data, _ = _read_upto(lambda a, k: prog.target.read_user(pgd, a, k), addr, n, "a" in opts)
        how = f"prog.target.read_user({pgd:#x}, {addr:#x}, {len(data)})"
    else:
        data, _ = _read_upto(prog.read, addr, n, "a" in opts)
        how = f"prog.read({addr:#x}, {len(data)})"
    if "a" in opts:
        text = render_rd_ascii(addr, data)
        call = f"render_rd_ascii({addr:#x}, data)"
    else:
        sym = "s" in opts
        text = render_rd(addr, data, bits, ascii="x" not in opts and not sym, symbolic=prog if sym else None)
        call = f"render_rd({addr:#x}, data, {bits}, ascii={'x' not in opts and not sym}, " \
               f"symbolic={'prog' if sym else None})"
    code = py_lines(f"from kpanic_lab.crash.render_mem import {call.split('(')[0]}",
                    f"data = {how}", f"print({call})")
    return Output(text, code)


def _read_upto(read, addr: int, n: int, stop_at_nul: bool) -> Tuple[bytes, str]:  # type: ignore[no-untyped-def]
    """``n`` bytes at ``addr``; for a string, up to what can be read before its NUL."""
    if not stop_at_nul:
        return read(addr, n), ""
    out = b""
    while len(out) < n:
        k = min(n - len(out), PAGE_SIZE - ((addr + len(out)) & (PAGE_SIZE - 1)))
        chunk = read(addr + len(out), k)
        out += chunk
        if b"\0" in chunk:
            break
    return out.split(b"\0", 1)[0] + b"\0", ""


def _struct_spec(s: CrashSession, spec: str, kind: str) -> Tuple[Type, Optional[List[str]]]:
    name, _, members = spec.partition(".")
    try:
        t = s.prog.type(f"{kind} {name}" if kind == "union" else name)
    except Exception:
        raise CommandError(f"invalid data structure reference: {name}") from None
    if t.strip().kind not in ("struct", "union"):
        raise CommandError(f"{name} is not a structure or union (it is {t.describe()}: {t.strip().describe()})")
    mlist = [m for m in members.split(",") if m] if members else None
    for m in mlist or []:
        if not t.has_member(m):
            raise CommandError(f"invalid data structure reference: {name}.{m}")
    return t, mlist


def _struct(s: CrashSession, args: List[str], kind: str) -> Output:
    opts, rest = parse_options(kind, args, "o")
    if not rest:
        raise CommandError(f"which {kind}? ({kind} name[.member[,member]] [address|symbol] [count])")
    t, members = _struct_spec(s, rest[0], kind)
    spec = t.describe()
    offsets = "o" in opts
    if len(rest) == 1:
        code = py_lines("from kpanic_lab.crash.render_mem import render_struct_definition",
                        f"print(render_struct_definition(prog.type({spec!r}), offsets={offsets}, members={members}))")
        return Output(render_struct_definition(t, offsets, members), code)
    if len(rest) > 3:
        raise CommandError(f"too many arguments: {' '.join(rest[3:])}")
    addr = s.resolve_address(rest[1])
    count = _count(rest[2]) if len(rest) == 3 else 1
    if count > 1000:
        raise CommandError("at most 1000 structures at a time")
    size = t.byte_size
    text = "\n".join(render_struct_value(s.prog, t, addr + i * size, members, offsets) for i in range(count))
    code = py_lines("from kpanic_lab.crash.render_mem import render_struct_value",
                    f"t = prog.type({spec!r})",
                    f"print(\"\\n\".join(render_struct_value(prog, t, {addr:#x} + i * t.byte_size, {members}, "
                    f"{offsets}) for i in range({count})))")
    return Output(text, code)



@command("struct", "a structure's definition, or its contents at an address",
         "struct name[.member[,member]] [-o] [address|symbol] [count]",
         options=(("name.member", "only these members (member.member goes into a nested struct)"),
                  ("-o", "each member's offset (or, with an address, its address)"),
                  ("address|symbol", "show the structure there; without one, its definition and SIZE"),
                  ("count", "that many structures in a row")),
         description="""
Layouts come from the vmlinux's DWARF, values print as gdb prints them.  A structure's
name alone works as a command too: 'task_struct ffffffff81065fb0'.""")
def _struct_cmd(s: CrashSession, args: List[str]) -> Output:
    return _struct(s, args, "struct")


@command("union", "a union's definition, or its contents at an address",
         "union name[.member[,member]] [-o] [address|symbol] [count]",
         description="As struct, for unions.")
def _union_cmd(s: CrashSession, args: List[str]) -> Output:
    return _struct(s, args, "union")


@command("list", "walk a linked list: each entry's address, and optionally its contents",
         "list [[-o] offset] [-s struct[.member[,member]]] [-e end] [-h|-H] start",
         options=(("offset", "where the next pointer is in each entry: a number or struct.member"),
                  ("-s struct[.member]", "show each entry as that structure (or just those members)"),
                  ("-h start", "start is a structure holding a list_head at offset (it is the first entry)"),
                  ("-H start", "start is a list_head of its own (LIST_HEAD): not an entry"),
                  ("-e end", "stop at this entry")),
         description="""
Follows next pointers from start until it comes back (or meets NULL).  Without -h/-H,
each next pointer points at the next structure itself.  'list' walks lists: it does not
list source code (that is gdb's list; see 'dis -l' and 'sym' for lines).""")
def _list(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("list", args, "o:s:h:H:e:")
    mode, start_tok = "plain", None
    if "h" in opts:
        mode, start_tok = "h", opts["h"][-1]
    if "H" in opts:
        if mode == "h":
            raise CommandError("-h and -H exclude each other")
        mode, start_tok = "H", opts["H"][-1]
    offset: object = opts["o"][-1] if "o" in opts else 0
    if start_tok is None:
        if not rest:
            raise CommandError("give the start of the list")
        start_tok = rest.pop()
    if rest:
        if "o" in opts or len(rest) > 1:
            raise CommandError(f"unexpected argument: {rest[0]}")
        offset = rest[0]
    if isinstance(offset, str) and "." not in offset:
        try:
            offset = int(offset, 0)
        except ValueError:
            raise CommandError(f"invalid offset: {offset} (a number or struct.member)") from None
    start = s.resolve_address(start_tok)
    if start == 0:
        raise CommandError("the start of the list is address 0")
    end = s.resolve_address(opts["e"][-1]) if "e" in opts else None
    struct_t, members = (None, None)
    if "s" in opts:
        struct_t, members = _struct_spec(s, opts["s"][-1], "struct")
    walk = walk_list(s.prog, start, offset, mode, end)  # type: ignore[arg-type]
    text = render_list(s.prog, walk.entries, struct_t, members, walk.error)
    tspec = f"prog.type({struct_t.describe()!r})" if struct_t is not None else "None"
    code = py_lines("from kpanic_lab.analysis.lists import walk_list",
                    "from kpanic_lab.crash.render_mem import render_list",
                    f"walk = walk_list(prog, {start:#x}, {offset!r}, mode={mode!r}, end={end})",
                    f"print(render_list(prog, walk.entries, {tspec}, {members}, walk.error))")
    return Output(text, code)


@command("p", "print a kernel variable, as crash's p (gdb's print) shows it",
         "p variable", aliases=("print",),
         options=(("variable", "a global variable by name (jiffies, init_task, panic_cpu)"),),
         description="""
Reads the variable at its symbol's address with its DWARF type and prints it as gdb does,
numbered $1, $2 ... in the session as crash numbers them.  Only a variable's name is taken
here: gdb's expressions (casts, arithmetic, members) are not; for a member, use
struct NAME.member ADDRESS.""")
def _p(s: CrashSession, args: List[str]) -> Output:
    import re

    if len(args) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", args[0]):
        raise CommandError("only a global variable by name is printed here (p VARIABLE; gdb's expressions are "
                           "not available: for a member use struct NAME.member ADDRESS)")
    name = args[0]
    if s.prog.symbols.get(name) is None:
        raise CommandError(f"no symbol \"{name}\" in current context.")
    value = s.prog.object(name).format_()
    s.value_count += 1
    code = py_lines(f"print({name!r}, '=', prog[{name!r}].format_())")
    return Output(f"{name} = ${s.value_count} = {value}", code)
