"""User address spaces, read from their page tables (``ps`` RSS, crash's ``vm``).

The lab kernel maps every user page when it is mapped (no demand paging) and keeps no
``vm_area_struct``: the page tables are the whole truth, so regions are found as runs of
mapped pages with the same permissions.

>>> merge_runs([(0x400000, "r-x"), (0x401000, "r-x"), (0x403000, "rw-")])
[(4194304, 4202496, 'r-x'), (4206592, 4210688, 'rw-')]
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Iterator, List, Tuple

from kpanic_lab.analysis.errors import AnalysisError
from kpanic_lab.guest.headers import PAGE_SIZE, PTE_ADDR_MASK, _PAGE_NX, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program


def user_mappings(prog: "Program", pgd: int) -> Iterator[Tuple[int, int, str]]:
    """(virtual address, size, "rwx" permissions) of every mapped user page or huge page
    under the PML4 at physical ``pgd`` (slots 0-255: the user half).

    Page tables form a tree: a table reached twice means the entries are corrupted (a loop
    would make the walk endless), so the walk stops there with one line.
    """
    seen: set = set()

    def _table(prog: "Program", pa: int) -> Tuple[int, ...]:
        pa &= PTE_ADDR_MASK
        if pa in seen:
            raise AnalysisError(f"page table at physical {pa:x} is reached twice from the PML4 at "
                                f"{pgd & PTE_ADDR_MASK:x}: "
                                "the page tables are corrupted")
        seen.add(pa)
        return struct.unpack("<512Q", prog.target.read_physical(pa, PAGE_SIZE))

    for i4, e4 in enumerate(_table(prog, pgd)[:256]):
        if not e4 & _PAGE_PRESENT:
            continue
        for i3, e3 in enumerate(_table(prog, e4)):
            if not e3 & _PAGE_PRESENT:
                continue
            base3 = (i4 << 39) | (i3 << 30)
            if e3 & _PAGE_PSE:
                yield base3, 1 << 30, _perms(e4, e3)
                continue
            for i2, e2 in enumerate(_table(prog, e3)):
                if not e2 & _PAGE_PRESENT:
                    continue
                base2 = base3 | (i2 << 21)
                if e2 & _PAGE_PSE:
                    yield base2, 1 << 21, _perms(e4, e3, e2)
                    continue
                for i1, e1 in enumerate(_table(prog, e2)):
                    if e1 & _PAGE_PRESENT:
                        yield base2 | (i1 << 12), PAGE_SIZE, _perms(e4, e3, e2, e1)


def _perms(*levels: int) -> str:
    """Writable only if every level allows it; not executable if any level says NX."""
    rw = all(e & _PAGE_RW for e in levels)
    nx = any(e & _PAGE_NX for e in levels)
    return "r" + ("w" if rw else "-") + ("-" if nx else "x")


def user_pages(prog: "Program", pgd: int) -> int:
    """How many 4 KiB user pages the page tables at physical ``pgd`` map."""
    return sum(size // PAGE_SIZE for _, size, _ in user_mappings(prog, pgd))


def merge_runs(pages: List[Tuple[int, str]], page: int = PAGE_SIZE) -> List[Tuple[int, int, str]]:
    """Contiguous pages with the same permissions as [start, end) runs (pure)."""
    out: List[Tuple[int, int, str]] = []
    for va, perms in sorted(pages):
        if out and out[-1][1] == va and out[-1][2] == perms:
            out[-1] = (out[-1][0], va + page, perms)
        else:
            out.append((va, va + page, perms))
    return out


def user_regions(prog: "Program", pgd: int) -> List[Tuple[int, int, str]]:
    """The mapped runs of an address space: [(start, end, perms)] (huge pages are not split
    into 4 KiB ones: a corrupted table full of 1 GiB entries stays a short list)."""
    out: List[Tuple[int, int, str]] = []
    for va, size, perms in user_mappings(prog, pgd):       # in address order
        if out and out[-1][1] == va and out[-1][2] == perms:
            out[-1] = (out[-1][0], va + size, perms)
        else:
            out.append((va, va + size, perms))
    return out


def region_names(regions: List[Tuple[int, int, str]], start_code: int, end_code: int, start_brk: int,
                 brk: int, start_stack: int) -> List[Tuple[int, int, str, str]]:
    """Name each run after the mm_struct field it covers: [code], [heap], [stack], else [anon] (pure)."""
    out = []
    for lo, hi, perms in regions:
        if lo <= start_stack < hi or (start_stack and hi == start_stack):
            name = "[stack]"
        elif start_code < end_code and lo < end_code and hi > start_code:
            name = "[code]"
        elif start_brk <= lo < max(brk, start_brk + 1):
            name = "[heap]"
        else:
            name = "[anon]"
        out.append((lo, hi, perms, name))
    return out


def task_address_space(prog: "Program", mm: int) -> Tuple[int, int, List[Tuple[int, int, str, str]]]:
    """(pgd, resident KiB, named regions) of the address space ``mm`` (0: a kernel thread)."""
    if not mm:
        return 0, 0, []
    mt = prog.type("struct mm_struct")

    def field(name: str) -> int:
        return prog.read_u64(mm + mt.member(name).offset)

    pgd = field("pgd")
    runs = user_regions(prog, pgd)
    kb = sum(hi - lo for lo, hi, _ in runs) // 1024
    return pgd, kb, region_names(runs, field("start_code"), field("end_code"), field("start_brk"),
                                 field("brk"), field("start_stack"))
