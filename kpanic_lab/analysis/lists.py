"""Linked-list walks, with the three starting points of crash's ``list``.

* plain (the default): ``start`` is the first structure, and the pointer at ``offset``
  in each structure is the address of the next *structure*; ends at NULL or back at
  ``start``;
* ``-h``: ``start`` is a structure with an embedded ``struct list_head`` at ``offset``;
  ``next`` pointers point at the embedded list_heads, so each entry is ``next - offset``;
  ``start`` itself is the first entry;
* ``-H``: ``start`` is a standalone ``LIST_HEAD()`` (not inside a structure), which is
  not an entry.

``list`` walks lists: it does not list source code (that is gdb's ``list``).

>>> mem = {0x10: 0x20, 0x20: 0x30, 0x30: 0x10}
>>> [hex(a) for a in walk(mem.__getitem__, 0x10, mode="H").entries]
['0x20', '0x30']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, Optional, Union

from kpanic_lab.analysis.errors import AnalysisError, ReadError

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program

MAX_ENTRIES = 1_000_000


@dataclass
class ListWalk:
    """The entries found (structure addresses), and why the walk ended if not normally."""

    entries: List[int] = field(default_factory=list)
    error: Optional[str] = None


def walk(read_u64: Callable[[int], int], start: int, offset: int = 0, mode: str = "plain",
         end: Optional[int] = None, limit: int = MAX_ENTRIES) -> ListWalk:
    """Walk a list (pure over ``read_u64``); ``mode`` is ``plain``, ``h`` or ``H``."""
    if mode not in ("plain", "h", "H"):
        raise ValueError(f"unknown list mode {mode!r}")
    out = ListWalk()
    seen = set()
    try:
        if mode == "plain":
            entry = start
            while entry and len(out.entries) < limit:
                if entry in seen:
                    out.error = f"duplicate list entry: {entry:x}"
                    break
                seen.add(entry)
                out.entries.append(entry)
                if end is not None and entry == end:
                    break
                entry = read_u64(entry + offset)
                if entry == start:
                    break
            return out
        head = start + offset if mode == "h" else start
        node = read_u64(head)
        if mode == "h":
            out.entries.append(start)
        while node != head and len(out.entries) < limit:
            if node == 0:
                out.error = "list ends in a NULL next pointer"
                break
            if node in seen:
                out.error = f"duplicate list entry: {node - offset:x}"
                break
            seen.add(node)
            out.entries.append(node - offset)
            if end is not None and node - offset == end:
                break
            node = read_u64(node)
    except ReadError as e:
        out.error = str(e)
    return out


def member_offset(prog: "Program", spec: Union[str, int]) -> int:
    """An offset given as a number or as ``struct.member`` (``task_struct.tasks``)."""
    if isinstance(spec, int):
        return spec
    if "." in spec:
        sname, _, member = spec.partition(".")
        return prog.type(sname).member(member).offset
    try:
        return int(spec, 0)
    except ValueError:
        raise AnalysisError(f"not an offset: {spec!r} (a number or struct.member)") from None


def walk_list(prog: "Program", start: int, offset: Union[str, int] = 0, mode: str = "plain",
              end: Optional[int] = None) -> ListWalk:
    """Walk a list in ``prog`` (see the module's docstring for ``mode``)."""
    return walk(prog.read_u64, start, member_offset(prog, offset), mode, end)
