"""kdump/report.py: the text views the kdump notebooks print, on literals and tiny built inputs,
checked against the wording of the reference logs (shared/reference/d_kdump.*) copied in as literals.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from kpanic_lab.formats import describe
from kpanic_lab.kdump import report
from kpanic_lab.kdump.kexec import Segment
from kpanic_lab.kdump.makedumpfile import Result
from kpanic_lab.text import size_words

M, G = 1 << 20, 1 << 30


def rows(table: str) -> list:
    """A text.table's body rows as lists of cells (two or more spaces separate cells)."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]


# ------------------------------------------------------------------ crashkernel=
BOOT = """\
[    0.000050] Command line: console=ttyS0 crashkernel=64M
[    0.000050] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
[    0.000050] Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)
[    0.001300] Kernel command line: console=ttyS0 crashkernel=64M
[    0.001650] Memory: 191140K/261624K available (108K kernel code, 70484K reserved, 0K cma-reserved)
# kexec -p
Memory for crashkernel is not reserved
"""


def test_crashkernel_lines_keeps_the_kernels_lines_only():
    lines = report.crashkernel_lines(BOOT).splitlines()
    assert [line.split("] ", 1)[1].split(":")[0] for line in lines] == [
        "Command line", "Reserving 64MB of memory at 176MB for crashkernel (System RAM", "Memory"]


def test_load_report_says_when_kexec_printed_nothing():
    assert report.load_report(BOOT, "").endswith("# kexec -p\n(nothing: it loaded)")
    assert report.load_report(BOOT, "Memory for crashkernel is not reserved\n").endswith(
        "# kexec -p\nMemory for crashkernel is not reserved")


def test_iomem_table_sizes_and_nesting():
    text = "00001000-0009fbff : System RAM\n00100000-0ffdffff : System RAM\n  0b000000-0effffff : Crash kernel\n"
    body = rows(report.iomem_table(text))
    assert body[0] == ["00001000-0009fbff", "635 KiB", "4 KiB", "System RAM"]
    assert body[2] == ["0b000000-0effffff", "64 MiB", "176 MiB", "Crash kernel"]
    assert report.iomem_table(text).splitlines()[-1].endswith("  Crash kernel")     # indented under its parent


def test_crashkernel_table_every_form_and_errors():
    table = report.crashkernel_table(
        ["crashkernel=256M@16M", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", "crashkernel=512M,high",
         "crashkernel=512M,high crashkernel=128M,low", "crashkernel=auto", "crashkernel=256Q",
         "crashkernel=4G-1G:256M", "quiet"], 8 * G)
    body = {r[0]: r[1:] for r in rows(table)}
    assert body["crashkernel=256M@16M"] == ["simple", "256 MiB", "16 MiB"]
    assert body["crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"] == ["ranges", "256 MiB", "RAM 8 GiB picks 256 MiB"]
    assert body["crashkernel=512M,high"][:2] == ["high", "512 MiB"]
    assert "plus 128 MiB below 4 GiB" in body["crashkernel=512M,high crashkernel=128M,low"][2]
    assert body["crashkernel=auto"][0] == "error"
    assert 'RHEL/CentOS' in body["crashkernel=auto"][1] and '"crashkernel: memory value expected"' in body["crashkernel=auto"][1]
    assert body["crashkernel=256Q"][1] == "unexpected 'Q' after the size; Linux prints \"crashkernel: unrecognized char: Q\""
    assert body["crashkernel=4G-1G:256M"][1].startswith("the range ends at or before it starts;")
    assert body["quiet"][0] == "none"


def test_ranges_by_ram_includes_linuxs_invalid_size():
    body = rows(report.ranges_by_ram("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", [512 * M, 768 * M, 2 * G, 128 * G]))
    assert body[0][1] == 'nothing: size 512M is not below the System RAM ("crashkernel: invalid size")'
    assert [r[1] for r in body[1:]] == ["nothing", "192 MiB", "512 MiB"]


def test_pc_ram_layout():
    assert report.pc_ram(256 * M) == [(0x1000, 0x9FC00), (0x100000, 256 * M)]
    assert report.pc_ram(3 * G) == [(0x1000, 0x9FC00), (0x100000, 3 * G)]
    assert report.pc_ram(8 * G) == [(0x1000, 0x9FC00), (0x100000, 3 * G), (4 * G, 9 * G)]


def test_reservation_table_high_takes_low_memory_too():
    text = report.reservation_table(["crashkernel=256M,high", "crashkernel=1G@3G"], report.pc_ram(8 * G))
    assert text.splitlines() == [
        "crashkernel=256M,high",
        "    Reserving 256MB of low memory at 2816MB for crashkernel (low RAM limit: 4096MB)",
        "    Reserving 256MB of memory at 8960MB for crashkernel (System RAM: 8191MB)",
        "crashkernel=1G@3G",
        "    crashkernel reservation failed - memory is in use."]


def _result(end, kexec="", capture="", outcome=None, kexec_exit=0):
    return SimpleNamespace(end=end, kexec_output=kexec, capture_console=capture, outcome=outcome,
                           kexec_exit=kexec_exit)


def test_capture_kernel_state():
    assert report.capture_kernel_state("") == "never started"
    assert report.capture_kernel_state("[ 0.0] Kernel panic - not syncing: memblock_alloc: Failed\n") == \
        "panicked: memblock_alloc: Failed"
    assert report.capture_kernel_state("[ 0.0] Memory: 61440K/66168K available (1K)\n") == \
        "booted, Memory: 61440K/66168K available"


def test_sizing_table():
    saved = SimpleNamespace(status="saved", result=SimpleNamespace(write_bytes=839289))
    table = report.sizing_table({
        "2M": _result("no-capture", "Could not find a free area of memory of 0xb7000 bytes...\nkexec: needs 3 MiB",
                      kexec_exit=1),
        "3M": _result("no-capture", kexec_exit=1),
        "4M": _result("no-capture", "kexec: a warning it loaded with", kexec_exit=0),
        "8M": _result("rebooted", capture="[ 0.0] Memory: 3984K/8824K available\n", outcome=saved)})
    assert rows(table) == [
        ["2M", "Could not find a free area of memory of 0xb7000 bytes...", "never started", "-", "no-capture"],
        ["3M", "exit 1", "never started", "-", "no-capture"],            # the exit code, not the words, decides
        ["4M", "loaded", "never started", "-", "no-capture"],
        ["8M", "loaded", "booted, Memory: 3984K/8824K available", "saved, 819.6 KiB", "rebooted"]]


# ------------------------------------------------------------------ kexec -p
def test_segment_table_digests_and_places():
    segs = [Segment(0xB000000, b"purgatory", 0x5000, "purgatory"),
            Segment(0xB200000, b"kernel text", 0x53000, "kernel 0xffffffff81000000"),
            Segment(0xB005000, b"\x7fELF", 0x1000, "ELF core header (elfcorehdr=)")]
    plan = SimpleNamespace(segments=segs, crash=(0xB000000, 0xEFFFFFF))
    body = rows(report.segment_table(plan))
    assert [r[3] for r in body] == ["purgatory", "ELF core header (elfcorehdr=)", "kernel 0xffffffff81000000"]
    assert body[0][4] == "(the checker)"
    assert body[1][:3] == ["0b005000-0b005fff", "+20 KiB", "4 KiB"]
    assert body[2][4] == hashlib.sha256(b"kernel text").hexdigest()[:16] + "..."


def test_capture_cmdline_table():
    body = {r[0]: r[1] for r in rows(report.capture_cmdline_table(
        "console=ttyS0 irqpoll nr_cpus=1 reset_devices acpi_rsdp=0xf59b0 elfcorehdr=900468K"))}
    assert body["elfcorehdr=900468K"].endswith("(0x36f5d000)")       # the reference's header: 900468 KiB
    assert body["acpi_rsdp=0xf59b0"] == "kept from the first kernel's command line"
    assert body["nr_cpus=1"].startswith("bring up this many CPUs only")


def test_seam_marks_the_jump():
    text = report.seam("a\nb\n[ 0.1]  </TASK>\n", "[ 0.0] Linux version 6.1\n[ 0.0] Command line: x\nmore\n", 2, 1)
    lines = text.splitlines()
    assert lines[0] == "b" and lines[1] == "[ 0.1]  </TASK>" and "capture kernel starts here" in lines[2]
    assert lines[3:] == ["[ 0.0] Linux version 6.1"]


def test_e820_lines():
    assert report.e820_lines(BOOT) == "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"


# ------------------------------------------------------------------ makedumpfile
def _mdf(level, write_bytes, compression=None, seconds=0.0, **counts):
    r = Result("out", dump_level=level, compression=compression)
    r.max_mapnr, r.memory_hole, r.write_bytes, r.seconds = 0x10000, 0x1000, write_bytes, seconds
    r.counts.update(counts)
    return r


def test_kinds_and_level_tables():
    full = _mdf(31, 4395916, zero=241, cache=256, cache_private=256, user=604, free=46606)
    kinds = rows(report.kinds_table(full))
    assert kinds[0] == ["1", "Pages filled with zero", "241", "964 KiB"]
    assert kinds[4] == ["16", "Free pages", "46606", "182.1 MiB"]
    assert kinds[5] == ["kept (written)", str(0xF000 - 47963), size_words((0xF000 - 47963) * 4096)]
    levels = rows(report.level_table([_mdf(0, 200 << 20), full]))
    assert levels[0] == ["0", "nothing", str(0xF000), "200 MiB", "100.0%"]
    assert levels[1][0] == "31" and levels[1][4] == "2.1%"


def test_codec_table_ratio_to_uncompressed():
    body = rows(report.codec_table([_mdf(31, 4 << 20), _mdf(31, 1 << 20, "zstd", 0.25)]))
    assert body == [["(none)", "none", "4 MiB", "1.0x", "0.00"], ["-z", "zstd", "1 MiB", "4.0x", "0.25"]]


def test_listing(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "vmcore-incomplete").write_bytes(bytes(2000))
    (tmp_path / "a" / "vmcore-dmesg.txt").write_bytes(bytes(12))
    assert report.listing(tmp_path).splitlines() == ["      12  a/vmcore-dmesg.txt", "    2000  a/vmcore-incomplete"]
    assert report.listing(tmp_path / "a" / "nothing") == "(empty)"


def test_outcome_summary():
    failed = SimpleNamespace(status="failed", error="No space left on device", action="halt", vmcore=None, raw=None)
    assert report.outcome_summary(SimpleNamespace(outcome=failed, end="halted")).splitlines() == [
        "dump      failed: No space left on device", "then      halt", "machine   halted"]
    assert report.outcome_summary(SimpleNamespace(outcome=None, end="no-capture", trace=SimpleNamespace(end="task-killed"))) \
        == "no dump: the capture kernel never ran (the crashed kernel's run ended: task-killed)\nmachine   no-capture"


def test_tail():
    assert report.tail("a\nb\nc\n\n", 2) == "b\nc"
    assert report.tail("", 3) == ""


def test_docstring_examples():
    import doctest
    assert doctest.testmod(report).failed == 0


# ------------------------------------------------------------------ one real load
@pytest.fixture(scope="module")
def loaded():
    from kpanic_lab.guest import vmlinux_path
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    from kpanic_lab.kdump.run import KdumpRun
    return KdumpRun("sysrq-c", crashkernel="64M").load()


@pytest.mark.slow
def test_real_boot_lines_and_iomem(loaded):
    m = loaded.session.machine
    lines = report.crashkernel_lines(m.console_text)
    assert "Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)" in lines
    assert "kexec" not in lines                                   # the shell's lines are not the kernel's
    crash = [r for r in rows(report.iomem_table(m.run_command("cat /proc/iomem"))) if r[-1] == "Crash kernel"]
    assert crash == [["0b000000-0effffff", "64 MiB", "176 MiB", "Crash kernel"]]


@pytest.mark.slow
def test_segment_digests_are_the_ones_purgatory_checks(loaded):
    import struct
    from kpanic_lab.kdump.kexec import PURGATORY_MAGIC
    plan = loaded.kexec_plan
    purgatory = plan.segments[0].data
    at = purgatory.rfind(struct.pack("<Q", PURGATORY_MAGIC))          # purgatory_args, in .data after the code
    n = struct.unpack_from("<Q", purgatory, at + 8)[0]
    stored = {}
    for i in range(n):
        mem, _, digest = struct.unpack_from("<QQ32s", purgatory, at + 16 + 48 * i)
        stored[mem] = digest.hex()[:16] + "..."
    body = rows(report.segment_table(plan))
    shown = {int(r[0].split("-")[0], 16): r[4] for r in body if r[4] != "(the checker)"}
    assert shown == stored and len(shown) == len(plan.segments) - 1


@pytest.mark.slow
def test_real_elfcorehdr_names_every_note(loaded):
    m = loaded.session.machine
    plan = loaded.kexec_plan
    body = rows(describe.program_headers(m.read(plan.elfcorehdr, 4096, physical=True), plan.notes,
                                       m.run_command("cat /sys/kernel/vmcoreinfo")))
    notes = [r[-1] for r in body if r[0] == "NOTE"]
    assert notes == ["crash_notes of CPU 0", "crash_notes of CPU 1", "VMCOREINFO"]
    loads = [(int(r[3], 16), r[-1]) for r in body if r[0] == "LOAD"]
    assert all(not 0xB000000 <= start < 0xF000000 for start, _ in loads)      # the reservation is left out
