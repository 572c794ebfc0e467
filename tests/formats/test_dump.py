from __future__ import annotations

import io

import numpy as np
import pytest

from kpanic_lab.errors import MemoryFault
from kpanic_lab.formats import DumpError, PageExcluded, open_dump
from kpanic_lab.formats.flattened import FlattenedWriter
from kpanic_lab.kdump.makedumpfile import makedumpfile
from tests.formats import synth


def test_open_by_path_bytes_and_stream(synthetic, tmp_path):
    p = tmp_path / "vmcore"
    p.write_bytes(synthetic.elf)
    for src in (str(p), p, synthetic.elf, io.BytesIO(synthetic.elf), open(p, "rb")):
        with open_dump(src, "vmcore") as d:
            assert d.format == "elf" and d.nr_cpus == 2 and d.dump_level is None
            assert d.vmcoreinfo.osrelease == "6.1.0-synth"
            assert d.ranges == synth.RANGES


def test_virtual_reads_through_each_map(synthetic):
    d = open_dump(synthetic.elf)
    assert d.read(synth.kvirt(300), 16) == synthetic.page(300)[:16]                 # direct map
    mem_map_ptr = d.vmcoreinfo.symbol("mem_map")                                     # kernel text map
    assert d.read_u64(mem_map_ptr) == synth.kvirt(synth.MEM_MAP_PFN)
    assert d.read(synth.VMALLOC_VA, 16) == b"vmalloc'd data!!"                      # page-table walk
    assert d.vtop(synth.VMALLOC_VA + 5) == synth.VMALLOC_PFN * 4096 + 5
    with pytest.raises(MemoryFault, match="not mapped"):
        d.read(synth.VMALLOC_VA + 0x1000, 8)
    with pytest.raises(MemoryFault, match="user address"):
        d.read(0x400000, 8)
    with pytest.raises(MemoryFault) as e:
        d.read(synth.kvirt(200), 8)
    assert e.value.address == synth.kvirt(200) and e.value.size == 8


def test_phys_base_moves_the_kernel_map():
    s = synth.build(phys_base=0x10000, with_pgd=False)
    d = open_dump(s.elf)
    assert d.phys_base == 0x10000
    assert d.read_u64(d.vmcoreinfo.symbol("mem_map")) == synth.kvirt(synth.MEM_MAP_PFN)
    with pytest.raises(MemoryFault, match="init_top_pgt"):
        d.read(synth.VMALLOC_VA, 8)


@pytest.mark.parametrize("comp", [None, "zlib", "lzo", "snappy", "zstd"])
@pytest.mark.parametrize("flatten", [False, True])
def test_every_format_and_codec_reads_the_same(synthetic, comp, flatten):
    elf = open_dump(synthetic.elf)
    out = io.BytesIO()
    try:
        makedumpfile(elf, out, 31, comp, flatten=flatten)
    except Exception as e:
        if "not installed" in str(e):
            pytest.skip(str(e))
        raise
    d = open_dump(out.getvalue(), "dumped")
    assert d.format == ("flattened" if flatten else "kdump") and d.inner_format == "kdump"
    assert d.dump_level == 31
    assert [p.regs for p in d.prstatus] == [p.regs for p in elf.prstatus]
    assert dict(d.vmcoreinfo) == dict(elf.vmcoreinfo)
    for pfn, kind in synthetic.kinds.items():
        if kind in ("kernel", "zero"):
            assert d.read(pfn * 4096, 4096, physical=True) == synthetic.page(pfn), pfn
        else:
            with pytest.raises(PageExcluded):
                d.read(pfn * 4096, 1, physical=True)


def test_page_excluded_names_virtual_and_physical_and_level(synthetic):
    out = io.BytesIO()
    makedumpfile(open_dump(synthetic.elf), out, 16)
    d = open_dump(out.getvalue(), "vmcore")
    with pytest.raises(PageExcluded) as e:
        d.read(synth.kvirt(260, 8), 4)
    msg = str(e.value)
    assert "page excluded: kernel virtual address: 0xffff888000104008 (physical 0x104008)" in msg
    assert "makedumpfile -d 16 dropped free pages" in msg
    assert isinstance(e.value, MemoryFault) and e.value.dump_level == 16


@pytest.mark.parametrize("data,match", [
    (b"", "zero-length"), (b"\x00" * 64, "wrong magic"), (b"MZ\x90\x00", "wrong magic"),
    (b"\x7fELF\x01\x01\x01" + bytes(60), "ELF64"), (b"KDUMP   " + bytes(10), "truncated"),
])
def test_bad_input_is_one_line_error(data, match):
    with pytest.raises(DumpError, match=match) as e:
        open_dump(data, "bad.vmcore")
    assert str(e.value).startswith("bad.vmcore at offset 0x") and "\n" not in str(e.value)


def test_missing_file():
    with pytest.raises(DumpError, match="cannot open"):
        open_dump("/nonexistent/vmcore")


def test_flattened_cut_short_is_not_a_whole_dump(synthetic):
    out = io.BytesIO()
    makedumpfile(open_dump(synthetic.elf), out, 31, "zstd", flatten=True)
    with pytest.raises(DumpError, match="end marker|truncated"):
        open_dump(out.getvalue()[:-100], "cut.flat")


def test_excluded_pages_of_an_elf_dump(synthetic):
    out = io.BytesIO()
    makedumpfile(open_dump(synthetic.elf), out, 16, fmt="elf")
    d = open_dump(out.getvalue(), "x.elf")
    # runs shorter than 256 pages stay in the file, with their data (makedumpfile -E does that)
    assert d.read(260 * 4096, 8, physical=True) == synthetic.page(260)[:8]
    with pytest.raises(PageExcluded):
        d.read(500 * 4096, 8, physical=True)                     # the free block that ends the range
