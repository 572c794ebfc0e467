from __future__ import annotations

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest

from kpanic_lab.errors import MemoryFault
from kpanic_lab.formats.diskdump import (DISK_DUMP_HEADER, KDUMP_SUB_HEADER, PAGE_DESC, DiskDumpHeader,
                                         KdumpFile, KdumpSubHeader, Utsname, bitmap_blocks_for, write_kdump)
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.sink import StreamSink

# The first 0x1d0 bytes of the real header in shared/reference/d_kdump.host-analysis.txt
REAL = {0x0: b"KDUMP   ", 0x8: struct.pack("<i", 6), 0xC: b"Linux", 0x4D: b"(none)", 0x8E: b"6.1.0-56-amd64",
        0xCF: b"#1 SMP PREEMPT_DYNAMIC", 0x110: b"x86_64", 0x151: b"(none)", 0x198: struct.pack("<Q", 0x6B07C45A),
        0x1A8: struct.pack("<IiiII", 2, 4096, 2, 0x10, 0x3FFD7), 0x1CC: struct.pack("<i", 2)}


def real_like_header() -> bytes:
    h = DiskDumpHeader(Utsname(release="6.1.0-56-amd64", version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"),
                       timestamp=(0x6B07C45A, 0), status=2, sub_hdr_size=2, bitmap_blocks=0x10,
                       max_mapnr=0x3FFD7, nr_cpus=2)
    return h.pack()


def test_struct_sizes():
    assert DISK_DUMP_HEADER.size == 464 and KDUMP_SUB_HEADER.size == 104 and PAGE_DESC.itemsize == 24


def test_header_fields_sit_where_the_real_dump_has_them():
    raw = real_like_header()
    for off, want in REAL.items():
        assert raw[off:off + len(want)] == want, hex(off)
    assert bitmap_blocks_for(0x3FFD7) == 0x10


def small_dump(level=0, flags=0, zero_page=False, version=6):
    bitmap1 = np.zeros(40, bool); bitmap1[1:30] = True
    bitmap2 = bitmap1.copy(); bitmap2[10:20] = False
    n = int(bitmap2.sum())
    pages = [bytes([i]) * 4096 for i in range(n)]
    shared = np.zeros(n, bool)
    if zero_page:
        shared[0] = True
        pages = pages[1:]
    out = io.BytesIO()
    hdr = DiskDumpHeader(Utsname(release="6.1.0"), header_version=version, nr_cpus=1)
    write_kdump(StreamSink(out), hdr, KdumpSubHeader(dump_level=level), b"", None, bitmap1, bitmap2,
                np.full(n, 4096, np.uint32), np.zeros(n, np.uint32), shared, pages, zero_page)
    return out.getvalue(), bitmap2


def test_reader_round_trip_and_excluded_pages():
    raw, bm2 = small_dump(level=16)
    k = KdumpFile(io.BytesIO(raw), "small")
    assert k.dump_level == 16 and k.max_mapnr == 40
    assert k.ranges == [(4096, 30 * 4096)]
    assert k.read_physical(1 * 4096, 4) == b"\0\0\0\0"
    assert k.read_physical(20 * 4096, 4) == bytes([9]) * 4
    with pytest.raises(PageExcluded, match=r"-d 16 dropped free pages"):
        k.read_physical(12 * 4096, 8)
    with pytest.raises(MemoryFault, match="memory hole"):
        k.read_physical(35 * 4096, 8)


def test_shared_zero_page():
    raw, _ = small_dump(zero_page=True)
    k = KdumpFile(io.BytesIO(raw), "z")
    assert k.read_physical(4096, 4096) == bytes(4096)
    assert int(k.page_desc(1)["offset"]) == k.desc_offset + 24 * int(k.bitmap2.sum())


def test_page_descs_at_once_are_page_desc_one_by_one():
    raw, _ = small_dump(zero_page=True)
    k = KdumpFile(io.BytesIO(raw), "z")
    pfns = np.arange(-2, 45)
    many = k.page_descs(pfns)
    for pfn, d in zip(pfns, many):
        one = k.page_desc(int(pfn))
        assert (d.tobytes() == one.tobytes()) if one is not None else int(d["offset"]) == 0, pfn


def test_sub_header_packs_a_negative_phys_base_as_the_unsigned_long_it_is():
    # Linux under KASLR: NUMBER(phys_base)=-511705088 (captured from a real 6.1 run, tests/data/real)
    raw = KdumpSubHeader(phys_base=-511705088, dump_level=31).pack()
    assert struct.unpack_from("<Q", raw)[0] == (1 << 64) - 511705088


def test_file_says_kdump_compressed_v6(tmp_path):
    if shutil.which("file") is None:
        pytest.skip("file not installed")
    raw, _ = small_dump()
    p = tmp_path / "vmcore"
    p.write_bytes(raw)
    out = subprocess.run(["file", str(p)], capture_output=True, text=True).stdout
    assert "Kdump compressed dump v6, system Linux, node (none), release 6.1.0, machine x86_64" in out


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:100], "truncated"),
    (lambda b: b"DISKDUMP" + b[8:], "diskdump file"),
    (lambda b: b"KDUMPXX " + b[8:], "wrong magic"),
    (lambda b: b[:0x1AC] + struct.pack("<i", 512) + b[0x1B0:], "block_size"),
    (lambda b: b[:4096 + 96] + struct.pack("<Q", 1 << 40) + b[4096 + 104:], "max_mapnr"),
])
def test_bad_headers_are_named_errors(mutate, match):
    raw, _ = small_dump()
    with pytest.raises(DumpError, match=match):
        KdumpFile(io.BytesIO(mutate(raw)), "bad")


def test_corrupted_page_desc_and_data():
    raw, _ = small_dump(flags=0)
    k = KdumpFile(io.BytesIO(raw), "x")
    at = k.desc_offset
    bad = bytearray(raw)
    struct.pack_into("<qII", bad, at, len(raw) + 10, 4096, 0)
    with pytest.raises(DumpError, match="corrupted page_desc for pfn 0x1"):
        KdumpFile(io.BytesIO(bytes(bad)), "x").read_physical(4096, 1)
    bad = bytearray(raw)
    struct.pack_into("<qII", bad, at, k.desc_offset + 64, 100, 0x20)
    with pytest.raises(DumpError, match="corrupted page data"):
        KdumpFile(io.BytesIO(bytes(bad)), "x").read_physical(4096, 1)
