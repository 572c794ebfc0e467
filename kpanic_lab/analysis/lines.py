"""Source lines of kernel addresses, from the DWARF line programs (what ``dis -l``,
``bt -l`` and ``sym`` print after an address).

Only the compilation unit that holds an address is decoded (``.debug_aranges`` says
which), so a lookup costs one CU's line program, not the whole ``.debug_line``.

>>> lines = LineTable.for_image(KernelImage.open())                 # doctest: +SKIP
>>> lines.line_for(KernelImage.open().address_of("panic"))          # doctest: +SKIP
SourceLine(file='kernel/panic.c', line=117)
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from kpanic_lab.guest.image import KernelImage


@dataclass(frozen=True)
class SourceLine:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}: {self.line}"


# one decoded CU: row addresses, and per row ((file, line), is_stmt), or None for an end of sequence
_Rows = Tuple[List[int], List[Optional[Tuple[Tuple[str, int], bool]]]]


class LineTable:
    """Address -> (file, line) for one kernel image."""

    _instances: Dict[Tuple[str, Optional[str]], "LineTable"] = {}

    def __init__(self, image: KernelImage) -> None:
        self.image = image
        self._file = open(image.path, "rb")
        elf = ELFFile(self._file)
        self.dwarf = elf.get_dwarf_info() if elf.has_dwarf_info() else None
        self._aranges = self.dwarf.get_aranges() if self.dwarf is not None else None
        self._rows: Dict[int, _Rows] = {}

    @classmethod
    def for_image(cls, image: KernelImage) -> "LineTable":
        key = (str(image.path), image.build_id)
        if key not in cls._instances:
            cls._instances[key] = cls(image)
        return cls._instances[key]

    def line_for(self, addr: int) -> Optional[SourceLine]:
        """The source line the instruction at ``addr`` came from, chosen as gdb's
        ``info line *addr`` chooses it (the last row at or before ``addr``; a statement
        row at the same address rather than a non-statement one), or None."""
        if self._aranges is None:
            return None
        cu_off = self._aranges.cu_offset_at_addr(addr)
        if cu_off is None:
            return None
        addrs, rows = self._cu_rows(cu_off)
        i = bisect.bisect_right(addrs, addr) - 1     # the last row at or before addr
        row = rows[i] if i >= 0 else None
        if row is None:
            return None
        if not row[1]:                                # not a statement: one at the same address?
            j = i
            while j > 0 and addrs[j - 1] == addrs[j]:
                prev = rows[j - 1]
                if prev is None:
                    break
                j -= 1
                if prev[1]:
                    row = prev
                    break
        (file, line), _ = row
        return SourceLine(file, line)

    def _cu_rows(self, cu_off: int) -> _Rows:
        hit = self._rows.get(cu_off)
        if hit is not None:
            return hit
        assert self.dwarf is not None
        cu = self.dwarf.get_CU_at(cu_off)
        lp = self.dwarf.line_program_for_CU(cu)
        if lp is None:
            self._rows[cu_off] = ([], [])
            return self._rows[cu_off]
        files = _file_names(lp, cu)
        entries: List[Tuple[int, int, Optional[Tuple[str, int]], bool]] = []
        for e in lp.get_entries():
            st = e.state
            if st is None:
                continue
            if st.end_sequence:
                entries.append((st.address, 0, None, False))
            else:
                entries.append((st.address, 1, (files.get(st.file, "??"), st.line), bool(st.is_stmt)))
        # stable sort by address; an end of sequence sorts before a sequence starting there
        entries.sort(key=lambda x: (x[0], x[1]))
        hit = ([a for a, _, _, _ in entries], [(r, stmt) if r else None for _, _, r, stmt in entries])
        self._rows[cu_off] = hit
        return hit


def _file_names(lp, cu) -> Dict[int, str]:
    """File index -> path as the CU recorded it (``kernel/panic.c``), DWARF 4 and 5."""
    hdr = lp.header
    dirs = [d.decode(errors="replace") if isinstance(d, bytes) else str(d) for d in hdr.include_directory]
    top = cu.get_top_DIE().attributes
    comp_dir = top["DW_AT_comp_dir"].value.decode(errors="replace") if "DW_AT_comp_dir" in top else ""
    v5 = hdr.version >= 5
    out = {}
    for i, fe in enumerate(hdr.file_entry):
        name = fe.name.decode(errors="replace") if isinstance(fe.name, bytes) else str(fe.name)
        di = fe.dir_index
        if v5:
            d = dirs[di] if di < len(dirs) else ""
        else:
            d = dirs[di - 1] if 0 < di <= len(dirs) else ""
        if d and d != comp_dir and not name.startswith("/"):
            name = f"{d}/{name}"
        out[i if v5 else i + 1] = name
    return out
