"""makedumpfile over a real vmcore of the lab machine (sysrq-c, 2 CPUs, 256 MiB).

Each -d bit is checked against an independent count made from the live machine's memory with
the DWARF struct layout and the guest's own counters (contig_zone free lists, nr_file_pages),
not from VMCOREINFO.
"""
from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest

from kpanic_lab.formats import PageExcluded, open_dump
from kpanic_lab.guest.dwarf import struct_layout
from kpanic_lab.guest.headers import PAGE_BUDDY_MAPCOUNT_VALUE
from kpanic_lab.kdump.makedumpfile import makedumpfile
from tests.support.livecore import vmcoreinfo_from_image

PAGE = 4096


def machine_pages(m):
    """The live struct pages, read with the DWARF layout: (flags, mapping, private, mapcount)."""
    lay = struct_layout(m.image, "page")
    n = m.read_u64(m.symbol("max_pfn"))
    raw = m.read(m.read_u64(m.symbol("mem_map")), n * lay.size)
    dt = np.dtype({"names": ["flags", "mapping", "private", "mapcount"], "formats": ["<u8", "<u8", "<u8", "<i4"],
                   "offsets": [lay.offset("flags"), lay.offset("mapping"), lay.offset("private"),
                               lay.offset("_mapcount")], "itemsize": lay.size})
    return np.frombuffer(raw, dt)


def whole_pages(d):
    """Pages wholly in a range: makedumpfile dumps no page only partly in a PT_LOAD (its
    exclude_nodata_pages), such as the one where the first RAM range ends at 0x9fc00."""
    bm = np.zeros(d.source.max_mapnr, dtype=bool)
    for a, b in d.ranges:
        bm[-(-a // PAGE):b // PAGE] = True
    return bm


def guest_free_pages(m):
    zone, fa = struct_layout(m.image, "zone"), struct_layout(m.image, "free_area")
    base = m.symbol("contig_zone") + zone.offset("free_area")
    return sum(m.read_u64(base + o * fa.size + fa.offset("nr_free")) << o for o in range(11))


@pytest.fixture(scope="module")
def dumped(live):
    m, path = live
    d = open_dump(path)
    results = {}
    for level in (1, 2, 4, 8, 16, 31):
        out = io.BytesIO()
        results[level] = (makedumpfile(d, out, level, "zstd", record_exclusion=True), out.getvalue())
    return m, d, results


def test_free_pages_match_the_guests_free_lists(dumped):
    m, d, res = dumped
    assert res[16][0].counts["free"] == guest_free_pages(m) > 50_000


def test_cache_pages_match_nr_file_pages(dumped):
    m, d, res = dumped
    nr_file = m.read_u64(m.symbol("nr_file_pages"))
    c4 = res[4][0].counts
    assert c4["cache"] + c4["cache_private"] == nr_file > 0
    assert res[2][0].counts["cache"] == c4["cache"] and res[2][0].counts["cache_private"] == 0


def test_each_bit_against_struct_pages_read_from_the_machine(dumped):
    m, d, res = dumped
    p = machine_pages(m)
    bit = lambda nr: ((p["flags"] >> np.uint64(nr)) & np.uint64(1)).astype(bool)   # noqa: E731
    buddy = PAGE_BUDDY_MAPCOUNT_VALUE
    anon = (p["mapping"] & np.uint64(1)).astype(bool)
    lru, private = bit(4), bit(13)
    assert res[8][0].counts["user"] == int(np.count_nonzero(anon)) > 0
    assert res[2][0].counts["cache"] == int(np.count_nonzero(lru & ~private & ~anon))
    assert res[4][0].counts["cache_private"] == int(np.count_nonzero(lru & private & ~anon))
    heads = np.nonzero(p["mapcount"] == buddy)[0]
    assert res[16][0].counts["free"] == int(sum(1 << int(p["private"][h]) for h in heads))
    masks = {lvl: r.exclusion for lvl, (r, _) in res.items()}
    assert np.array_equal(np.nonzero(masks[8].mask("user"))[0], np.nonzero(anon)[0])


def test_zero_pages_are_the_zero_pages(dumped):
    m, d, res = dumped
    r1 = res[1][0]
    ram = d.source.ram_bitmap()
    pfns = np.nonzero(ram & whole_pages(d))[0]
    zeros = sum(1 for pfn in pfns if not any(m.read(int(pfn) * PAGE, PAGE, physical=True)))
    assert r1.counts["zero"] == zeros


def test_sizes_shrink_and_31_keeps_what_crash_needs(dumped):
    m, d, res = dumped
    sizes = {lvl: len(raw) for lvl, (_, raw) in res.items()}
    assert sizes[31] < sizes[16] < sizes[1] and sizes[31] < 1 << 20
    k = open_dump(res[31][1], "vmcore")
    vi = k.vmcoreinfo
    assert k.read(vi.symbol("log_buf"), 8) == m.read(vi.symbol("log_buf"), 8)
    init_task = m.symbol("init_task")
    assert k.read(init_task, 256) == m.read(init_task, 256)
    for cpu in range(2):
        rsp = k.prstatus[cpu].reg("rsp")
        assert k.read(rsp, 64) == m.read(rsp, 64)                     # the stacks bt walks


def test_every_format_and_codec_round_trips_the_dumped_pages(live):
    m, path = live
    d = open_dump(path)
    for comp in (None, "zlib", "lzo", "snappy", "zstd"):
        for fmt, flatten in (("kdump", False), ("kdump", True), ("elf", False), ("elf", True)):
            if fmt == "elf" and comp:
                continue
            out = io.BytesIO()
            try:
                r = makedumpfile(d, out, 31, comp, fmt=fmt, flatten=flatten, record_exclusion=True)
            except Exception as e:
                if "not installed" in str(e):
                    continue
                raise
            k = open_dump(out.getvalue(), f"{comp}-{fmt}-{flatten}")
            kept = np.nonzero(~r.exclusion.excluded & d.source.ram_bitmap() & whole_pages(d))[0]
            got = k.source.read_pages(kept[:400]) if fmt == "kdump" else None
            want = d.source.read_pages(kept[:400])
            if got is not None:
                assert np.array_equal(got, want), (comp, fmt, flatten)
            else:
                for i, pfn in enumerate(kept[:400]):
                    try:
                        assert k.read(int(pfn) * PAGE, PAGE, physical=True) == want[i].tobytes()
                    except PageExcluded:
                        assert not want[i].any()          # -E -d 1 drops zero pages from the file


def test_vmcoreinfo_from_image_uses_linux_names(live):
    m, _ = live
    text = vmcoreinfo_from_image(m.image, crashtime=5)
    for key in ("OSRELEASE=6.1.0", "BUILD-ID=", "PAGESIZE=4096", "SYMBOL(mem_map)=", "SIZE(page)=56",
                "OFFSET(page.flags)=0", "OFFSET(page._mapcount)=48", "NUMBER(PG_lru)=4", "NUMBER(PG_private)=13",
                "NUMBER(PG_swapcache)=10", "NUMBER(PG_slab)=9", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-128",
                "SYMBOL(log_buf)=", "SIZE(printk_log)=16", "OFFSET(printk_log.text_len)=10",
                "NUMBER(phys_base)=0", "KERNELOFFSET=0", "CRASHTIME=5"):
        assert key in text, key


def test_live_vmcore_readelf_and_registers(live):
    m, path = live
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    out = subprocess.run(["readelf", "-n", "-l", str(path)], capture_output=True, text=True, check=True).stdout
    assert out.count("NT_PRSTATUS (prstatus structure)") == 2 and "VMCOREINFO" in out
    assert "0xffffffff81000000 0x0000000001000000" in out            # the kernel text PT_LOAD
    assert "0xffff888000100000 0x0000000000100000" in out            # System RAM from 1 MiB
    d = open_dump(path)
    for cpu in range(2):
        assert d.prstatus[cpu].reg("rip") == m.registers(cpu).rip
        assert d.prstatus[cpu].reg("rsp") == m.registers(cpu).rsp


def test_excluded_read_on_the_live_dump(dumped):
    m, d, res = dumped
    k = open_dump(res[16][1], "vmcore")
    free_pfn = int(np.nonzero(res[16][0].exclusion.mask("free"))[0][100])
    with pytest.raises(PageExcluded, match="-d 16"):
        k.read(0xFFFF888000000000 + free_pfn * PAGE, 8)
