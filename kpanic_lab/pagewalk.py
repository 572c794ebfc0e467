"""The x86-64 four-level page walk, written once: what the MMU does, and what crash's ``vtop`` shows.

Pure over ``read_u64(physical address)``: the machine (its RAM), the analysis targets (a live
machine or a dump, through the target's physical reads) and the dump reader each pass their own.
A ``read_u64`` that returns None ends the walk there (a table outside memory).

>>> tables = {0x1000: 0x2003, 0x2000: 0x3003, 0x3000: 0x200083}     # PML4 -> PDPT -> a 2 MiB PDE
>>> w = walk(tables.get, 0x1000, 0x12345)
>>> hex(w.pa), w.entries[-1]
('0x212345', (2, 2097283))
>>> walk(tables.get, 0x1000, 1 << 30).pa is None                    # PDPT entry 1 is not present
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from kpanic_lab.guest.headers import PTE_ADDR_MASK, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_USER

LEVELS = ((4, 39), (3, 30), (2, 21), (1, 12))     # (level, the shift of its index in a virtual address)


@dataclass(frozen=True)
class Walk:
    """Where a walk ended: the physical address (None when not mapped), the permission bits
    P|RW|US of every level together, and each entry read as (level, entry)."""

    pa: Optional[int]
    perms: int
    entries: Tuple[Tuple[int, int], ...]


def walk(read_u64: Callable[[int], Optional[int]], root: int, va: int) -> Walk:
    """Translate ``va`` under the top-level table at physical ``root`` (a CR3 value)."""
    entries: List[Tuple[int, int]] = []
    table = root & PTE_ADDR_MASK
    perms = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER
    for level, shift in LEVELS:
        e = read_u64(table + ((va >> shift) & 0x1FF) * 8)
        if e is None:
            return Walk(None, 0, tuple(entries))
        entries.append((level, e))
        if not e & _PAGE_PRESENT:
            return Walk(None, 0, tuple(entries))
        perms &= e & (_PAGE_RW | _PAGE_USER) | _PAGE_PRESENT
        if level in (3, 2) and e & _PAGE_PSE:
            mask = (1 << shift) - 1
            return Walk((e & PTE_ADDR_MASK & ~mask) | (va & mask), perms, tuple(entries))
        table = e & PTE_ADDR_MASK
    return Walk(table | (va & 0xFFF), perms, tuple(entries))
