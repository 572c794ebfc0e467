"""Session commands: ``help``, ``q``/``exit``, and ``gdb``/``g`` explained."""
from __future__ import annotations

from typing import List

from kpanic_lab.crash.examples import stored_example
from kpanic_lab.crash.registry import ALIASES, COMMANDS, Command, CommandError, Output, command, lookup
from kpanic_lab.crash.session import CrashSession

FOOTER = """
kpanic-lab crash: a teaching subset of crash 8.0.2's commands, with no gdb inside.
For help on any command above, enter "help <command>".
Any command can show the Python that does the same: add --py (bt --py)."""

GDB_TEXT = """gdb: not available in the lab.
In crash, "gdb <command>" hands the rest of the line to the gdb that crash embeds,
and "g" is only crash's alias for that "gdb" command (not a command of its own).
This shell embeds no gdb.  Use its own commands instead (struct, rd, dis, sym, bt),
or run gdb itself on the same files: gdb $(kpanic-lab vmlinux) VMCORE"""


def help_table(names: List[str], columns: int = 5, width: int = 15) -> str:
    """Names in crash's help table: sorted, filled column by column (pure)."""
    names = sorted(names)
    rows = -(-len(names) // columns)
    lines = []
    for r in range(rows):
        cells = [names[c * rows + r] for c in range(columns) if c * rows + r < len(names)]
        lines.append("".join(f"{n:<{width}}" for n in cells))
    return "\n".join(lines)


def help_page(c: Command) -> str:
    """One command's help, in crash's sections: NAME, SYNOPSIS, DESCRIPTION, EXAMPLE."""
    out = ["NAME", f"  {c.name} - {c.summary}", "", "SYNOPSIS", f"  {c.synopsis}"]
    if c.aliases:
        out += ["", "ALIASES", "  " + ", ".join(c.aliases)]
    if c.description or c.options:
        out += ["", "DESCRIPTION"]
        out += [f"  {line}" if line else "" for line in c.description.splitlines()]
        if c.options:
            if c.description:
                out.append("")
            width = max(len(o) for o, _ in c.options)
            out += [f"    {o:>{width}}  {text}" for o, text in c.options]
    example = stored_example(c.name) or c.example     # from a real run of the shipped image
    if example:
        out += ["", "EXAMPLE"] + [f"  {line}" for line in example.splitlines()]
    return "\n".join(out)


@command("help", "the commands, or one command's help page", "help [command]")
def _help(s: CrashSession, args: List[str]) -> Output:
    if not args:
        names = list(COMMANDS) + ["q"] if "q" not in COMMANDS else list(COMMANDS)
        return Output("\n" + help_table(names) + "\n" + FOOTER)
    out = []
    for a in args:
        c = lookup(a)
        if c is None:
            raise CommandError(f"no help for {a!r}: not a command here (enter \"help\" for the list)")
        out.append(help_page(c))
    return Output("\n\n".join(out))


@command("q", "leave the session", "q", aliases=("exit", "quit"),
         description="Ends the session (in a script, the lines after it are not run).")
def _quit(s: CrashSession, args: List[str]) -> Output:
    s.done = True
    return Output("")


@command("gdb", "(crash passes the line to its embedded gdb; not available here)", "gdb command",
         aliases=("g",),
         description="""
In crash, "gdb <command>" passes the rest of the line to the gdb embedded in crash, and
"g" is merely an alias for it.  The lab's shell embeds no gdb: see the message it prints.""")
def _gdb(s: CrashSession, args: List[str]) -> Output:
    return Output(GDB_TEXT)


assert set(ALIASES) >= {"exit", "g"}
