"""makedumpfile in bounded memory: cycles, threads, back-filled layout, ENOSPC, -E on filtered dumps.

The real-tool check compares with Debian's makedumpfile 1.7.2 (``apt-get install makedumpfile``)
when it is installed, both tools given the lab's vmcore as it is written (with the kernel-text
PT_LOAD kexec-tools adds, which both keep in their -E output).
"""
from __future__ import annotations

import errno
import io
import os
import tempfile
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.codecs import DUMP_DH_COMPRESSED_INCOMPLETE
from kpanic_lab.formats.diskdump import DiskDumpHeader, KdumpFile
from kpanic_lab.formats.elfcore import DUMP_ELF_INCOMPLETE
from kpanic_lab.formats.errors import PageExcluded
from kpanic_lab.kdump.capture import _Limited
from kpanic_lab.kdump.makedumpfile import ElfLoadBuilder, elf_loads, makedumpfile
from kpanic_lab.kdump.pagestream import MIN_CYCLE, CycleWalk

PAGE = 4096
LEVELS = (0, 1, 2, 4, 8, 16, 31)


def run(dump, level=0, comp=None, **kw):
    out = io.BytesIO()
    try:
        res = makedumpfile(dump, out, level, comp, timestamp=(1, 0), **kw)
    except Exception as e:
        if "not installed" in str(e):
            pytest.skip(str(e))
        raise
    return res, out.getvalue()


def whole_pages(d):
    bm = np.zeros(d.source.max_mapnr, dtype=bool)
    for a, b in d.ranges:
        bm[-(-a // PAGE):b // PAGE] = True
    return bm


@pytest.fixture(scope="module")
def elf(live):
    return open_dump(live[1])


# ------------------------------------------------------------------ threads and cycles
@pytest.mark.parametrize("comp", [None, "zlib", "lzo", "zstd"])
def test_threads_give_the_same_bytes(elf, comp):
    _, one = run(elf, 1, comp, num_threads=0)
    for n in (1, 2, 3):
        _, many = run(elf, 1, comp, num_threads=n)
        assert many == one, (comp, n)


@pytest.mark.parametrize("fmt,level,comp", [("kdump", 31, "zstd"), ("kdump", 1, "zlib"), ("kdump", 0, None),
                                            ("elf", 31, None), ("elf", 1, None)])
def test_small_cycles_give_the_same_bytes(elf, fmt, level, comp):
    _, big = run(elf, level, comp, fmt=fmt)
    res, small = run(elf, level, comp, fmt=fmt, cyclic_buffer=1)      # the smallest cycle: 32768 pfns
    assert res.cycles == -(-elf.source.max_mapnr // MIN_CYCLE) >= 2
    assert small == big


def test_cycles_classify_as_the_whole_array_does(elf):
    whole = CycleWalk(elf, 31, 1 << 40).exclusion()
    cyc = CycleWalk(elf, 31, 1)
    assert cyc.ncycles >= 2
    parts = cyc.exclusion()
    assert np.array_equal(parts.kind, whole.kind) and parts.counts == whole.counts


def test_elf_loads_built_in_cycles_match_the_whole_bitmap():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(300, 5000))
        keep = np.ones(n, dtype=bool)
        for _ in range(int(rng.integers(0, 12))):
            s = int(rng.integers(0, n))
            keep[s:s + int(rng.choice([1, 10, 255, 256, 257, 600, 2000]))] = False
        if rng.random() < 0.3:
            keep[:] = rng.random(n) < 0.5
        ranges = [(int(rng.choice([0, 0x1000, 0x1400])), n * PAGE // 2 - 0x200), (n * PAGE // 2 + 0x3000, n * PAGE)]
        want = elf_loads(ranges, keep, 0)
        for step in (37, 1024):
            b = ElfLoadBuilder(ranges, 0)
            for lo in range(0, n, step):
                b.feed(lo, keep[lo:lo + step])
            assert b.finish() == want


def test_a_truncated_kdump_input_is_one_error_naming_it(elf):
    from kpanic_lab.errors import LabError

    _, raw = run(elf, 0, "zlib")
    cut = open_dump(raw[:len(raw) // 2], "cut")
    with pytest.raises(LabError, match=r"cut at offset 0x[0-9a-f]+: (truncated|corrupted page_desc)"):
        run(cut, 31, "zstd")
    with tempfile.TemporaryDirectory() as d:                     # from a file: read with pread
        path = os.path.join(d, "cut")
        with open(path, "wb") as f:
            f.write(raw[:len(raw) // 2])
        with open_dump(path) as cut_file, pytest.raises(LabError, match=r"cut at offset 0x[0-9a-f]+: truncated"):
            run(cut_file, 31, "zstd")


def test_a_pipe_needs_the_flattened_format(elf):
    import os
    from kpanic_lab.kdump.makedumpfile import MakedumpfileError

    r, w = os.pipe()
    with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb") as wf:
        with pytest.raises(MakedumpfileError, match=r"cannot seek \(a pipe\?\).*-F"):
            makedumpfile(elf, wf, 31, "zstd")


# ------------------------------------------------------------------ memory
# VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across fork and exec
_CHILD = """
import os, re, sys
from kpanic_lab.cli import main
rc = main(sys.argv[1:])
with open("/proc/self/status") as st, open(os.environ["PEAK_FILE"], "w") as f:
    f.write(re.search(r"VmHWM:\\s+(\\d+) kB", st.read()).group(1))
sys.exit(rc)
"""


def _child(tmp_path, args, stdin=None, stdout=None):
    """Run ``kpanic-lab ARGS`` in a child process; its own peak RSS in KiB."""
    import os
    peak = tmp_path / "peak"
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], stdin=stdin, stdout=stdout or subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300, env={**os.environ, "PEAK_FILE": str(peak)})
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    return int(peak.read_text())


@pytest.mark.parametrize("args", [["-d", "0", "-z"], ["-d", "31", "-c"], ["-E", "-d", "0"], ["-d", "1", "-l"],
                                  ["--dump-dmesg"]])
def test_peak_memory_stays_under_100_mib(live, tmp_path, args):
    """A 256 MiB guest's whole memory through makedumpfile in a child process: its own peak RSS
    (interpreter, numpy and the codecs included) stays under 100 MiB.  Before streaming, -d 0
    held every kept page at once and peaked near 400 MiB here."""
    out = tmp_path / "out"
    peak = _child(tmp_path, ["makedumpfile", *args, "--message-level", "0", str(live[1]), str(out)])
    assert out.stat().st_size > 0
    assert peak < 100 * 1024, f"peak RSS {peak >> 10} MiB"


def test_flattened_and_rebuilt_in_bounded_memory(live, tmp_path):
    flat, out = tmp_path / "flat", tmp_path / "vmcore"
    with open(flat, "wb") as f:
        peak_f = _child(tmp_path, ["makedumpfile", "-F", "-d", "0", "--message-level", "0", str(live[1]), "-"],
                        stdout=f)
    with open(flat, "rb") as f:
        peak_r = _child(tmp_path, ["makedumpfile", "-R", "--message-level", "0", str(out)], stdin=f)
    assert open_dump(out).format == "kdump"
    assert peak_f < 100 * 1024 and peak_r < 100 * 1024, (peak_f >> 10, peak_r >> 10)


# ------------------------------------------------------------------ a full disk
def test_a_full_disk_marks_the_dump_incomplete(elf, tmp_path):
    _, whole = run(elf, 1, "zstd", num_threads=0)
    w = KdumpFile(io.BytesIO(whole), "whole")
    data_off = w.desc_offset + 24 * int(w.bitmap2.sum())
    limit = (data_off + len(whole)) // 2                  # the disk fills up halfway through the data
    path = tmp_path / "vmcore-incomplete"
    with open(path, "wb") as f, pytest.raises(OSError) as ei:
        makedumpfile(elf, _Limited(f, limit), 1, "zstd", timestamp=(1, 0))  # type: ignore[arg-type]
    assert ei.value.errno == errno.ENOSPC and ei.value.incomplete_dump
    raw = path.read_bytes()
    assert len(raw) == limit
    assert DiskDumpHeader.unpack(raw).status & DUMP_DH_COMPRESSED_INCOMPLETE
    assert not DiskDumpHeader.unpack(whole).status & DUMP_DH_COMPRESSED_INCOMPLETE
    k = KdumpFile(io.BytesIO(raw + bytes(len(whole) - len(raw))), "t")     # as far as it got, zero-padded
    assert k.incomplete and np.array_equal(k.bitmap2, w.bitmap2)
    kept = np.nonzero(k.bitmap2)[0]
    assert k.read_page(int(kept[0])) == elf.read(int(kept[0]) * PAGE, PAGE, physical=True)
    with pytest.raises(PageExcluded, match="incomplete"):
        k.read_page(int(kept[-1]))


def test_a_full_disk_marks_an_elf_dump_incomplete(elf, tmp_path):
    """-E: makedumpfile sets DUMP_ELF_INCOMPLETE in e_flags; the reader and crash's sys say so."""
    from kpanic_lab.crash.session import CrashSession
    from kpanic_lab.guest import vmlinux_path

    _, whole = run(elf, 31, fmt="elf")
    limit = len(whole) // 2                               # the disk fills up halfway through the pages
    path = tmp_path / "vmcore-incomplete"
    with open(path, "wb") as f, pytest.raises(OSError) as ei:
        makedumpfile(elf, _Limited(f, limit), 31, fmt="elf", timestamp=(1, 0))  # type: ignore[arg-type]
    assert ei.value.errno == errno.ENOSPC and ei.value.incomplete_dump
    raw = path.read_bytes()
    assert len(raw) == limit
    e_flags = int.from_bytes(raw[48:52], "little")
    assert e_flags == DUMP_ELF_INCOMPLETE and int.from_bytes(whole[48:52], "little") == 0
    assert raw[:48] == whole[:48] and raw[52:limit] == whole[52:limit]     # only the flag differs
    with open_dump(path) as d:
        assert d.incomplete and any("DUMP_ELF_INCOMPLETE" in w for w in d.warnings)
        cut = next(ld for ld in d.source.loads if ld.offset + ld.filesz == limit)   # where the disk filled up
        written = (cut.paddr + cut.filesz) // PAGE * PAGE - PAGE
        assert d.read(written, PAGE, physical=True) == elf.read(written, PAGE, physical=True)
        with pytest.raises(PageExcluded, match="incomplete"):
            d.read(written + 2 * PAGE, PAGE, physical=True)
    with open_dump(io.BytesIO(whole), "whole") as d:
        assert not d.incomplete and d.warnings == []
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    s = CrashSession.open(path, vmlinux_path())
    assert any("DUMP_ELF_INCOMPLETE" in w for w in s.warnings)
    assert "[INCOMPLETE]" in next(line for line in s.run("sys").splitlines() if "DUMPFILE" in line)


@pytest.mark.slow
def test_the_collector_says_the_dump_is_incomplete(tmp_path):
    from kpanic_lab.guest import vmlinux_path
    from kpanic_lab.kdump.capture import Targets
    from kpanic_lab.kdump.run import KdumpRun

    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    t = Targets(crash_dir=tmp_path, disk_limit=1 << 20)
    r = KdumpRun("sysrq-c", targets=t, kdump_conf="core_collector makedumpfile -l -d 1\n").run()
    assert r.outcome.status == "failed" and "No space left on device" in r.outcome.error
    lines = r.capture_console.splitlines()
    i = next(i for i, line in enumerate(lines) if "Can't write the dump file" in line)
    assert lines[i + 1:i + 3] == ["This is an incomplete dumpfile, but might analyzable.", "makedumpfile Failed."]
    vmcore = next(tmp_path.rglob("vmcore-incomplete"))
    assert DiskDumpHeader.unpack(vmcore.read_bytes()[:464]).status & DUMP_DH_COMPRESSED_INCOMPLETE


# ------------------------------------------------------------------ every conversion (issue 9 item 7)
@pytest.fixture(scope="module")
def inputs(elf):
    """The dumps the lab writes, as makedumpfile's inputs: the ELF /proc/vmcore, kdump-compressed
    at -d 31 (what kdump saves), at -d 1 with lzo, and a flattened stream."""
    out = {"elf": elf}
    for name, level, comp, flat in (("kdump-31", 31, "zstd", False), ("kdump-1-lzo", 1, "lzo", False),
                                    ("flattened-31", 31, "zlib", True)):
        _, raw = run(elf, level, comp, flatten=flat)
        out[name] = open_dump(raw, name)
    return out


def _check(src, elf, level, raw, name):
    """The output opens; every page it holds is the old memory, or zeros where its input held none."""
    d = open_dump(raw, name)
    assert d.vmcoreinfo.osrelease == elf.vmcoreinfo.osrelease and len(d.prstatus) == len(elf.prstatus)
    ram = whole_pages(elf)
    held = src.source.saved_bitmap() & ram
    pfns = np.nonzero(ram)[0]
    sample = np.unique(np.concatenate([pfns[:300], pfns[-300:], pfns[:: max(1, len(pfns) // 500)]]))
    got_any = 0
    for pfn in sample:
        try:
            page = d.read(int(pfn) * PAGE, PAGE, physical=True)
        except PageExcluded:
            continue
        got_any += 1
        want = elf.read(int(pfn) * PAGE, PAGE, physical=True) if held[pfn] else bytes(PAGE)
        assert page == want, (name, hex(int(pfn)))
    assert got_any
    # what crash needs survives every conversion
    assert d.read(d.vmcoreinfo.symbol("log_buf"), 8) == elf.read(elf.vmcoreinfo.symbol("log_buf"), 8)


@pytest.mark.parametrize("src_name", ["elf", "kdump-31", "kdump-1-lzo", "flattened-31"])
@pytest.mark.parametrize("level", LEVELS)
def test_every_conversion_at_every_level(inputs, elf, src_name, level):
    src = inputs[src_name]
    for fmt, comp, flat in (("elf", None, False), ("kdump", "zstd", False), ("kdump", "zlib", True),
                            ("elf", None, True)):
        if level not in (0, 1, 31) and (flat or src_name == "flattened-31"):
            continue                                   # the -F half at the levels that matter most
        res, raw = run(src, level, comp, fmt=fmt, flatten=flat)
        if flat:
            back = io.BytesIO()
            from kpanic_lab.kdump.makedumpfile import rebuild_flattened
            rebuild_flattened(io.BytesIO(raw), back)
            raw = back.getvalue()
        _check(src, elf, level, raw, f"{src_name}->{fmt}{'-F' if flat else ''} -d {level}")


def test_cli_elf_from_the_dump_kdump_saved(inputs, elf, tmp_path, capsys):
    """The reproduction of issue 9: `makedumpfile -E` on a -d 31 vmcore used to fail with
    'page excluded ... not saved'."""
    from kpanic_lab.cli import main

    src = tmp_path / "vmcore"
    _, raw = run(elf, 31, "lzo")
    src.write_bytes(raw)
    assert main(["makedumpfile", "-E", "-d", "31", str(src), str(tmp_path / "vmcore.elf")]) == 0
    assert "makedumpfile Completed." in capsys.readouterr().out
    _check(open_dump(src), elf, 31, (tmp_path / "vmcore.elf").read_bytes(), "cli -E")


# ------------------------------------------------------------------ the real makedumpfile
@pytest.mark.skipif(shutil.which("makedumpfile") is None, reason="makedumpfile not installed (apt-get install makedumpfile)")
@pytest.mark.parametrize("args", [["-c", "-d", "31"], ["-c", "-d", "1"], ["-c", "-d", "0"], ["-l", "-d", "31"],
                                  ["-E", "-d", "31"], ["-E", "-d", "1"]])
def test_byte_identical_to_makedumpfile_1_7_2(live, tmp_path, args):
    inp = live[1]
    real, lab = tmp_path / "real", tmp_path / "lab"
    p = subprocess.run(["makedumpfile", *args, str(inp), str(real)], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    with open_dump(inp) as d, open(lab, "wb") as f:
        makedumpfile(d, f, int(args[2]), {"-c": "zlib", "-l": "lzo", "-E": None}[args[0]],
                     fmt="elf" if args[0] == "-E" else "kdump")
    if args[0] == "-l":
        from kpanic_lab.formats.codecs import _liblzo2
        if _liblzo2() is None:
            pytest.skip("-l is lzo1x_1_compress only with the system's liblzo2; lzallright's LZO1X-999 differs")
    assert lab.read_bytes() == real.read_bytes()
