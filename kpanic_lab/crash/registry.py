"""The crash-like shell's command table: each command registers itself with what ``help``
shows (name, summary, synopsis, options, an example transcript), as crash's help is
data in its command table.

A command is ``fn(session, args) -> Output``: the text crash would print, and the Python
(library calls) that does the same, which ``--py`` prints instead.

>>> @command("hello", "say hello", "hello [name]", example="crash> hello\\nhello")
... def _hello(session, args):
...     return Output("hello", "print('hello')")
>>> COMMANDS["hello"].summary
'say hello'
>>> del COMMANDS["hello"]
"""
from __future__ import annotations

import getopt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from kpanic_lab.errors import LabError

if TYPE_CHECKING:
    from kpanic_lab.crash.session import CrashSession


class CommandError(LabError):
    """A bad argument or a request the command cannot satisfy: one line for the user."""


@dataclass(frozen=True)
class Output:
    """What a command printed, and the Python that prints the same (``--py``)."""

    text: str
    code: str = ""


Runner = Callable[["CrashSession", List[str]], Output]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    synopsis: str
    run: Runner
    options: Tuple[Tuple[str, str], ...] = ()
    description: str = ""
    example: str = ""
    aliases: Tuple[str, ...] = ()


COMMANDS: Dict[str, Command] = {}
ALIASES: Dict[str, str] = {}


def command(name: str, summary: str, synopsis: str, *, options: Sequence[Tuple[str, str]] = (),
            description: str = "", example: str = "",
            aliases: Sequence[str] = ()) -> Callable[[Runner], Runner]:
    """Register ``fn(session, args) -> Output`` as the shell command ``name``."""

    def register(fn: Runner) -> Runner:
        if name in COMMANDS or name in ALIASES:
            raise ValueError(f"crash command {name!r} registered twice")
        COMMANDS[name] = Command(name, summary, synopsis, fn, tuple(options), description.strip("\n"),
                                 example.strip("\n"), tuple(aliases))
        for a in aliases:
            ALIASES[a] = name
        return fn

    return register


def lookup(name: str) -> Optional[Command]:
    """A command by name or alias."""
    return COMMANDS.get(ALIASES.get(name, name))


def parse_options(cmd: str, args: List[str], shortopts: str) -> Tuple[Dict[str, List[str]], List[str]]:
    """getopt for a command (``-af`` is ``-a -f``; ``c:`` takes a value; options may come
    after arguments, as crash allows): options by letter (each with the values given) and
    the other arguments.  A bad option is a CommandError."""
    try:
        opts, rest = getopt.gnu_getopt(args, shortopts)
    except getopt.GetoptError as e:
        raise CommandError(f"{cmd}: {e.msg} (see \"help {cmd}\")") from None
    out: Dict[str, List[str]] = {}
    for k, v in opts:
        out.setdefault(k[1:], []).append(v)
    return out, rest


def py_lines(*lines: str) -> str:
    """A ``--py`` snippet: the lines, with the one name it assumes spelled out first."""
    return "\n".join(("# prog: a kpanic_lab.analysis.Program (CrashSession.prog)",) + lines)
