from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kpanic_lab.formats import PageExcluded, open_dump
from kpanic_lab.formats.diskdump import KdumpFile
from kpanic_lab.guest.headers import PAGE_OFFSET, PAGE_SIZE
from kpanic_lab.kdump.makedumpfile import (ML_PRINT_COMMON_MSG, MakedumpfileError, check_release, elf_loads,
                                           format_progress, makedumpfile, rebuild_flattened)
from tests.formats import synth

REAL_DUMP = Path(__file__).resolve().parents[1] / "data" / "real" / "vmcore.log-pages"

LEVELS = [0, 2, 6, 14, 30]


def run(dump, level=0, comp=None, **kw):
    out = io.BytesIO()
    try:
        res = makedumpfile(dump, out, level, comp, **kw)
    except Exception as e:
        if "not installed" in str(e):
            pytest.skip(str(e))
        raise
    return res, out.getvalue()


@pytest.mark.parametrize("comp", [None, "zlib", "lzo", "snappy", "zstd"])
def test_sizes_shrink_as_bits_are_added(synthetic, comp):
    d = open_dump(synthetic.elf)
    sizes = [len(run(d, lvl, comp)[1]) for lvl in LEVELS]
    assert all(a > b for a, b in zip(sizes, sizes[1:])), sizes
    with_zero = [len(run(d, lvl | 1, comp)[1]) for lvl in LEVELS]
    if comp is None:
        assert all(z < n for z, n in zip(with_zero, sizes)), (sizes, with_zero)
    else:
        # -d 1 stores one raw shared zero page: with few zero pages that costs more than the
        # few bytes each compressed zero page took (real makedumpfile behaves the same)
        assert all(z <= n + PAGE_SIZE for z, n in zip(with_zero, sizes)), (sizes, with_zero)


def test_zero_pages_share_one_copy(synthetic):
    d = open_dump(synthetic.elf)
    res, raw = run(d, 1)
    assert res.counts["zero"] == len(synthetic.pfns("zero"))
    k = KdumpFile(io.BytesIO(raw), "z")
    offsets = {int(k.page_desc(p)["offset"]) for p in synthetic.pfns("zero")}
    assert offsets == {k.desc_offset + 24 * int(k.bitmap2.sum())}            # pd_zero, first in the data
    assert all(k.read_physical(p * PAGE_SIZE, PAGE_SIZE) == bytes(PAGE_SIZE) for p in synthetic.pfns("zero"))


@pytest.mark.parametrize("comp", [None, "zstd"])
def test_flattened_then_rebuilt_is_the_same_file(synthetic, comp):
    d = open_dump(synthetic.elf)
    _, plain = run(d, 31, comp, timestamp=(1, 0))
    _, flat = run(d, 31, comp, flatten=True, timestamp=(1, 0))
    out = io.BytesIO()
    res = rebuild_flattened(io.BytesIO(flat), out, "vmcore")
    assert out.getvalue() == plain
    assert res.render()[0] == "\nThe dumpfile is saved to vmcore.\n\nmakedumpfile Completed.\n"


def test_report_is_makedumpfiles(synthetic):
    res, _ = run(open_dump(synthetic.elf), 31, "zstd")
    rep = res.report()
    total = synth.NPAGES
    hole = total - sum(1 for _ in synthetic.kinds)
    assert f"Original pages  : 0x{total - hole:016x}" in rep
    assert f"    Free pages              : 0x{112:016x}" in rep
    assert f"    Pages filled with zero  : 0x{32:016x}" in rep
    assert f"Memory Hole     : 0x{hole:016x}" in rep and f"Total pages     : 0x{total:016x}" in rep
    assert re.search(r"\(The number of pages is reduced to \d+%\.\)", rep)
    assert "-" * 50 in rep


def test_messages_follow_the_message_level(synthetic):
    res, _ = run(open_dump(synthetic.elf), 31)
    assert res.render(0) == ("", "")
    out, _ = res.render(7)
    assert out.endswith("\nThe dumpfile is saved to DUMPFILE.\n\nmakedumpfile Completed.\n")
    assert "Original pages" not in out and "Original pages" in res.render(16)[0]
    assert check_release("6.1.0")[0].text == "The kernel version is not supported.\n"
    assert check_release("6.0.3") == [] and check_release("5.10.0") == []
    assert check_release("6.1.0")[1].level == ML_PRINT_COMMON_MSG


def test_progress_line_format():
    # the columns of shared/reference/d_kdump.capture.makedumpfile.err
    assert format_progress("Copying data", 147, 1000, 0.5, 2) == (
        "Copying data" + " " * 38 + ": [ 14.7 %] \\           eta: 2s")
    assert format_progress("Checking for memory holes", 0, 10, None, 0) == (
        "Checking for memory holes" + " " * 25 + ": [  0.0 %] /" + " " * 18)


def test_elf_output_drops_long_runs_only(synthetic):
    d = open_dump(synthetic.elf)
    res, raw = run(d, 16, fmt="elf")
    e = open_dump(raw, "x.elf")
    assert e.format == "elf" and e.nr_cpus == 2
    assert res.elf_excluded == 64                       # only the free block that ends the range
    for p in (256, 320):                                # short free runs stay, with their data
        assert e.read(p * PAGE_SIZE, 8, physical=True) == synthetic.page(p)[:8]
    with pytest.raises(PageExcluded):
        e.read(448 * PAGE_SIZE, 8, physical=True)
    assert "     in ELF format : 0x0000000000000040" in res.report()


def test_elf_loads_split_at_256_excluded_pages():
    keep = np.ones(1024, bool)
    keep[100:400] = False                               # 300 pages: a cut
    keep[500:600] = False                               # 100 pages: stays in the file
    keep[1000:] = False                                 # trailing: in memsz only
    loads, dropped = elf_loads([(0, 1024 * PAGE_SIZE)], keep, PAGE_OFFSET)
    assert [(ld.paddr // PAGE_SIZE, ld.filesz // PAGE_SIZE, ld.memsz // PAGE_SIZE) for ld in loads] == [
        (0, 100, 400), (400, 600, 624)]
    assert dropped == 300 + 24
    assert loads[1].vaddr == PAGE_OFFSET + 400 * PAGE_SIZE


def test_readelf_on_elf_output(synthetic, tmp_path):
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    _, raw = run(open_dump(synthetic.elf), 31, fmt="elf")
    p = tmp_path / "dumpfile"
    p.write_bytes(raw)
    out = subprocess.run(["readelf", "-n", "-l", str(p)], capture_output=True, text=True, check=True).stdout
    assert out.count("NT_PRSTATUS (prstatus structure)") == 2 and "VMCOREINFO" in out
    assert out.count("LOAD") >= 2


@pytest.mark.parametrize("kw,match", [
    (dict(dump_level=32), "out of range"), (dict(dump_level=-1), "out of range"),
    (dict(fmt="elf", compression="zstd"), "-E cannot be used with"),
    (dict(fmt="srec"), "unknown output format"),
])
def test_bad_options(synthetic, kw, match):
    with pytest.raises(MakedumpfileError, match=match):
        makedumpfile(open_dump(synthetic.elf), io.BytesIO(), **kw)


def test_filtering_needs_vmcoreinfo():
    s = synth.build()
    s.vmcoreinfo = None                                   # type: ignore[assignment]
    raw = synth.elf_bytes(s)
    d = open_dump(raw)
    with pytest.raises(MakedumpfileError, match="needs the kernel's VMCOREINFO"):
        makedumpfile(d, io.BytesIO(), 31)
    res, _ = run(d, 1)                                    # zero pages need only the contents
    assert res.counts["zero"] == 32


def test_refiltering_a_kdump_dump(synthetic):
    d = open_dump(synthetic.elf)
    _, first = run(d, 16, "zlib")
    res, second = run(open_dump(first, "first"), 31, "zstd")
    k = open_dump(second, "second")
    assert k.dump_level == 31 and res.counts["user"] == 32
    for p in synthetic.pfns("kernel")[:50]:
        assert k.read(p * PAGE_SIZE, PAGE_SIZE, physical=True) == synthetic.page(p)


def test_refiltering_takes_the_inputs_level_in_and_says_so_as_makedumpfile_does(synthetic):
    _, first = run(open_dump(synthetic.elf), 16, "zlib")
    res, second = run(open_dump(first, "first"), 1, "zlib")
    assert res.dump_level == 17 and open_dump(second, "second").dump_level == 17
    # makedumpfile 1.7.2 prints it with no newline of its own, before anything else
    assert res.messages[0].text == "dump_level is changed to 17, because first was created by dump_level(16)."
    res, _ = run(open_dump(first, "first"), 16, "zlib")
    assert not any("dump_level is changed" in m.text for m in res.messages)


def test_a_real_sparsemem_dump_refilters_without_reading_struct_page():
    # Linux 6.1's dump (tests/data/real, -d 31, SPARSEMEM: no SYMBOL(mem_map)); what -d 31 left out
    # stays out, so no struct page is read, and the trimmed file (no mem_map pages) is enough.
    # Real makedumpfile re-reads struct page there and fails on this trimmed file; on the whole
    # dump the two outputs are the same bytes (tests/real/test_real_run.py)
    real = open_dump(REAL_DUMP)
    res, out = run(real, 1, "zlib")
    again = open_dump(out, "again")
    assert res.dump_level == 31 and again.dump_level == 31
    assert again.vmcoreinfo.osrelease == "6.1.0-57-amd64"
