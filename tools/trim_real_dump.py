"""Cut a real kdump-compressed dump down to the pages one reader needs, for tests/data/real/.

A real ``-d 31`` dump of Debian's 6.1 kernel is about 16 MB even for a small guest (the kernel image
alone is most of it), too big for the repository.  This keeps, byte for byte, what real makedumpfile
wrote in the first blocks (disk_dump_header, kdump_sub_header, VMCOREINFO, the NT_PRSTATUS notes,
the first bitmap) and the compressed pages the kernel log is read from (with the page tables that map them,
init_uts_ns, which real makedumpfile reads first, and the tables that show where the randomised
direct map starts); the second bitmap then marks
only those pages as dumped, so every other page reads as excluded, as in any filtered dump.  The
page descriptors are rewritten for the new file offsets; each page's compressed bytes are copied.

    .venv/bin/python tools/trim_real_dump.py crash/vmcore tests/data/real/vmcore.log-pages
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile
from typing import Any, Set

import numpy as np

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.diskdump import PAGE_DESC
from kpanic_lab.formats.direct_map import find_direct_map
from kpanic_lab.kdump.dmesg import read_dmesg

PAGE = 4096


class _Recorder:
    """A dump that notes the physical page of every byte read through it."""

    def __init__(self, dump: Any) -> None:
        self.dump, self.vmcoreinfo, self.pfns = dump, dump.vmcoreinfo, set()  # type: Set[int]

    def read(self, addr: int, size: int, **kw: Any) -> bytes:
        for va in range(addr & ~(PAGE - 1), addr + size, PAGE):
            self.pfns.add(self.dump.vtop(va) // PAGE)
            self._tables(va)
        return bytes(self.dump.read(addr, size, **kw))

    def _tables(self, va: int) -> None:
        """The page-table pages real makedumpfile reads to translate ``va`` (it walks init_top_pgt)."""
        table = self.dump.vtop(self.vmcoreinfo.symbol("init_top_pgt"))
        for level, shift in ((4, 39), (3, 30), (2, 21), (1, 12)):
            self.pfns.add(table // PAGE)
            entry = int.from_bytes(self.dump.read(table + ((va >> shift) & 0x1FF) * 8, 8, physical=True), "little")
            if not entry & 1 or (level in (3, 2) and entry & 0x80):
                return
            table = entry & 0x000FFFFFFFFFF000

    def read_u64(self, addr: int, **kw: Any) -> int:
        return int.from_bytes(self.read(addr, 8, **kw), "little")


def trim(src: str, dst: str, extra: Set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """Write ``dst``: ``src`` with only the pages of its kernel log (and ``extra`` pfns); return the
    pages kept."""
    with open(src, "rb") as f:
        raw = f.read()
    with open_dump(src) as d:
        k = d.source
        rec = _Recorder(d)
        read_dmesg(rec)
        rec.read(d.vmcoreinfo.symbol("init_uts_ns"), 512)      # makedumpfile checks the release first

        def read_physical(addr: int, size: int) -> bytes:     # the tables find_direct_map walks
            rec.pfns.add(addr // PAGE)
            return bytes(k.read_physical(addr, size))
        find_direct_map(read_physical, d.vtop(d.vmcoreinfo.symbol("init_top_pgt")))
        h = k.header
        half = h.bitmap_blocks * PAGE // 2
        bitmap_off = (1 + h.sub_hdr_size) * PAGE
        for off, size in ((k.sub.offset_vmcoreinfo, k.sub.size_vmcoreinfo), (k.sub.offset_note, k.sub.size_note)):
            assert off + size <= bitmap_off, "VMCOREINFO and notes are expected before the bitmaps"
        keep = sorted(p for p in rec.pfns | set(extra) if k.bitmap2[p])
        bitmap2 = np.zeros(half * 8, dtype=bool)
        bitmap2[keep] = True
        out = bytearray(raw[:bitmap_off + half])
        out += np.packbits(bitmap2, bitorder="little").tobytes()
        data_off = len(out) + PAGE_DESC.itemsize * len(keep)
        data = bytearray()
        for p in keep:
            desc = k.descs[k._index[p]]
            off, size = int(desc["offset"]), int(desc["size"])
            out += struct.pack("<qIIQ", data_off + len(data), size, int(desc["flags"]), int(desc["page_flags"]))
            data += raw[off:off + size]
        out += data
    with open(dst, "wb") as f:
        f.write(out)
    return len(keep)


def trim_for_makedumpfile(src: str, dst: str, rounds: int = 200) -> int:
    """``trim``, then add each page real ``makedumpfile --dump-dmesg`` says is excluded (it reads
    mem_section, node_online_map, ... before the log) until it reads the trimmed file."""
    extra: Set[int] = set()
    for _ in range(rounds):
        n = trim(src, dst, extra)
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(["makedumpfile", "--dump-dmesg", dst, os.path.join(tmp, "log")],
                               capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            return n
        m = re.search(r"pfn\(([0-9a-f]+)\) is excluded", r.stdout + r.stderr)
        if not m or int(m.group(1), 16) in extra:
            raise SystemExit(f"makedumpfile --dump-dmesg {dst} fails: {(r.stdout + r.stderr).strip()[-300:]}")
        extra.add(int(m.group(1), 16))
    raise SystemExit(f"makedumpfile still wants more pages after {rounds} rounds")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: trim_real_dump.py VMCORE OUT")
    n = trim_for_makedumpfile(sys.argv[1], sys.argv[2])
    sys.stderr.write(f"{sys.argv[2]}: {n} pages kept; real makedumpfile --dump-dmesg reads it\n")
