"""kdump/report.py: the text views the kdump notebooks print, on literals and tiny built inputs.

The ELF views are checked against readelf where it is installed; the rest against the wording of
the reference logs (shared/reference/d_kdump.*) copied in as literals.
"""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.kdump import report
from kpanic_lab.kdump.config import parse_kdump_conf, parse_kdump_tools, parse_makedumpfile_args
from kpanic_lab.kdump.kexec import Segment, build_elfcorehdr
from kpanic_lab.kdump.makedumpfile import Result

M, G = 1 << 20, 1 << 30


def rows(table: str) -> list:
    """A _table's body rows as lists of cells (two or more spaces separate cells)."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]


# ------------------------------------------------------------------ sizes
@pytest.mark.parametrize("n,words", [(0, "0 bytes"), (4096, "4 KiB"), (0x9EC00, "635 KiB"), (64 * M, "64 MiB"),
                                     (int(254.875 * M), "254.9 MiB"), (8 * G, "8 GiB"), (4132, "4.0 KiB")])
def test_size_words(n, words):
    assert report.size_words(n) == words


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


def _result(end, kexec="", capture="", outcome=None):
    return SimpleNamespace(end=end, kexec_output=kexec, capture_console=capture, outcome=outcome)


def test_capture_kernel_state():
    assert report.capture_kernel_state("") == "never started"
    assert report.capture_kernel_state("[ 0.0] Kernel panic - not syncing: memblock_alloc: Failed\n") == \
        "panicked: memblock_alloc: Failed"
    assert report.capture_kernel_state("[ 0.0] Memory: 61440K/66168K available (1K)\n") == \
        "booted, Memory: 61440K/66168K available"


def test_sizing_table():
    saved = SimpleNamespace(status="saved", result=SimpleNamespace(write_bytes=839289))
    table = report.sizing_table({
        "2M": _result("no-capture", "Could not find a free area of memory of 0xb7000 bytes...\nkexec: needs 3 MiB"),
        "8M": _result("rebooted", capture="[ 0.0] Memory: 3984K/8824K available\n", outcome=saved)})
    assert rows(table) == [
        ["2M", "Could not find a free area of memory of 0xb7000 bytes...", "never started", "-", "no-capture"],
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


NOTES = [(0x107DA80, 368), (0x107DBF0, 368)]
RAM = [(0x1000, 0x9FC00), (0x100000, 0xB000000), (0xF000000, 0xFFE0000)]


def elfcorehdr() -> bytes:
    return build_elfcorehdr(NOTES, (0x107E600, 0x1024), RAM, (0xFFFFFFFF81000000, 0x1000000, 0xB1000))


def test_program_headers_of_kexecs_header():
    hdr = elfcorehdr()
    assert report.elf_header_line(hdr) == "ELF64 ET_CORE EM_X86_64, 7 program headers at offset 64, 0 section headers"
    body = rows(report.program_headers(hdr, NOTES, "107e600 1024\n"))
    assert [r[-1] for r in body] == ["crash_notes of CPU 0", "crash_notes of CPU 1", "VMCOREINFO",
                                     "the kernel image (its virtual addresses)", "RAM at 4 KiB", "RAM at 1 MiB",
                                     "RAM at 240 MiB"]
    assert body[5][1:5] == ["0x100000", "ffff888000100000", "00100000", "175 MiB"]


def small_vmcore() -> bytes:
    notes = build_vmcore_notes([PrStatus(pid=0, regs={"rip": 0xFFFFFFFF8100BF32}),
                                PrStatus(pid=4, regs={"rip": 0xFFFFFFFF81006CC7})], "OSRELEASE=6.1.0-kpanic\n")
    loads = [ElfLoad(0x1000, 0xFFFF888000001000, 0x3000, 0x1000), ElfLoad(0x100000, 0xFFFF888000100000, 0x2000, 0x2000)]
    out = io.BytesIO()
    sink = StreamSink(out)
    write_elf_core(sink, notes, loads, lambda ld: [bytes(ld.filesz)])
    sink.close()
    return out.getvalue()


def test_program_headers_and_notes_of_a_vmcore():
    core = small_vmcore()
    ph = rows(report.program_headers(core))
    assert [r[0] for r in ph] == ["NOTE", "LOAD", "LOAD"]
    assert ph[0][-1] == "notes (NT_PRSTATUS per CPU, VMCOREINFO)"
    assert ph[1][-1] == "RAM at 4 KiB, last 8 KiB not in the file"
    assert rows(report.note_table(core)) == [["CORE", "0x00000150", "NT_PRSTATUS"], ["CORE", "0x00000150", "NT_PRSTATUS"],
                                             ["VMCOREINFO", "0x00000017", "type 0x0"]]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not installed")
def test_program_headers_agree_with_readelf(tmp_path: Path):
    for name, data in (("hdr", elfcorehdr()), ("core", small_vmcore())):
        path = tmp_path / name
        path.write_bytes(data)
        out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True).stdout
        theirs = [(m.group(1), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16))
                  for m in re.finditer(r"^\s+(NOTE|LOAD)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)", out, re.M)]
        ours = [(r[0], int(r[1], 16), int(r[2], 16), int(r[3], 16)) for r in rows(report.program_headers(data))]
        assert ours == theirs
    out = subprocess.run(["readelf", "-n", str(tmp_path / "core")], capture_output=True, text=True).stdout
    owners = re.findall(r"^\s+(CORE|VMCOREINFO)\s+(0x[0-9a-f]+)", out, re.M)
    assert [(r[0], r[1]) for r in rows(report.note_table(small_vmcore()))] == owners


def test_prstatus_table():
    table = report.prstatus_table([PrStatus(pid=0, regs={"rip": 0x10, "rsp": 0x20}), PrStatus(pid=4, regs={"rip": 0x30})],
                                  lambda a: f"sym+{a:#x}")
    assert rows(table) == [["0", "0", "sym+0x10", "0000000000000020"], ["1", "4", "sym+0x30", "0000000000000000"]]


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


def test_level_words_bit_4_is_all_cache():
    assert report.level_words(0) == "nothing"
    assert report.level_words(2) == "cache pages without private data"
    assert report.level_words(6) == report.level_words(4) == "all cache pages"
    assert report.level_words(31) == "zero pages + all cache pages + user process data + free pages"


def test_kinds_and_level_tables():
    full = _mdf(31, 4395916, zero=241, cache=256, cache_private=256, user=604, free=46606)
    kinds = rows(report.kinds_table(full))
    assert kinds[0] == ["1", "Pages filled with zero", "241", "964 KiB"]
    assert kinds[4] == ["16", "Free pages", "46606", "182.1 MiB"]
    assert kinds[5] == ["kept (written)", str(0xF000 - 47963), report.size_words((0xF000 - 47963) * 4096)]
    levels = rows(report.level_table([_mdf(0, 200 << 20), full]))
    assert levels[0] == ["0", "nothing", str(0xF000), "200 MiB", "100.0%"]
    assert levels[1][0] == "31" and levels[1][4] == "2.1%"


def test_codec_table_ratio_to_uncompressed():
    body = rows(report.codec_table([_mdf(31, 4 << 20), _mdf(31, 1 << 20, "zstd", 0.25)]))
    assert body == [["(none)", "none", "4 MiB", "1.0x", "0.00"], ["-z", "zstd", "1 MiB", "4.0x", "0.25"]]


def test_hexdump_matches_xxd_layout_of_the_reference():
    head = bytes.fromhex("4b44554d50202020060000004c696e75" "78000000000000000000000000000000")
    assert report.hexdump(head, 32).splitlines() == [
        "00000000: 4b44 554d 5020 2020 0600 0000 4c69 6e75  KDUMP   ....Linu",
        "00000010: 7800 0000 0000 0000 0000 0000 0000 0000  x..............."]
    assert report.hexdump(b"abc", 16) == "00000000: 6162 63                                  abc"


# ------------------------------------------------------------------ configuration
def test_makedumpfile_words():
    assert report.makedumpfile_words(parse_makedumpfile_args("-F -c -d 17")) == \
        "kdump-compressed, flattened (-F), zlib, -d 17 (drops zero pages + free pages)"
    assert report.makedumpfile_words(parse_makedumpfile_args("-E -d 0")) == "ELF (-E), uncompressed, -d 0 (drops nothing)"
    assert report.makedumpfile_words(None).startswith("not makedumpfile")


def test_conf_summary_fills_in_defaults():
    text = report.conf_summary(parse_kdump_conf("ssh kdump@10.0.0.1\ndefault shell\n"))
    assert "dump target     ssh kdump@10.0.0.1, /var/crash/<host>-<date>/" in text
    assert "core_collector  makedumpfile -F -l --message-level 7 -d 31" in text      # ssh: mkdumprd's flat default
    assert "failure_action  shell" in text
    assert "renamed 'failure_action'" in text


def test_check_kdump_conf_marks_the_line():
    text = report.check_kdump_conf("path /var/crash\ncore_collector makedumpfile -d 31\npath /srv\n")
    assert text.splitlines()[2] == ">  3  path /srv"
    assert text.splitlines()[-1] == ("kdumpctl: kdump.conf:3: Duplicated kdump config value of option path "
                                     "(first set on line 1)")
    assert report.check_kdump_conf("raw /dev/vdb\n").startswith("dump target     raw device /dev/vdb")


def test_tools_summary():
    text = report.tools_summary(parse_kdump_tools('USE_KDUMP=1\nMAKEDUMP_ARGS="-c -d 31"\nSSH="kdump@10.0.0.1"\n'))
    assert "kdump is on" in text and "on ssh kdump@10.0.0.1" in text
    assert "MAKEDUMP_ARGS    -c -d 31 = kdump-compressed, zlib, -d 31" in text
    assert "(unset: reboot after a failed dump)" in text


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


def test_check_kdump_tools_marks_the_line():
    text = report.check_kdump_tools('USE_KDUMP=1\nMAKEDUMP_ARGS=-c -d 31\n')
    assert text.splitlines()[1] == ">  2  MAKEDUMP_ARGS=-c -d 31"
    assert text.splitlines()[-1].startswith("error: kdump-tools:2: MAKEDUMP_ARGS=-c -d 31: the shell would run '-d'")
    assert report.check_kdump_tools("USE_KDUMP=1\n").startswith("USE_KDUMP=1       kdump is on")


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


def test_real_boot_lines_and_iomem(loaded):
    m = loaded.session.machine
    lines = report.crashkernel_lines(m.console_text)
    assert "Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)" in lines
    assert "kexec" not in lines                                   # the shell's lines are not the kernel's
    crash = [r for r in rows(report.iomem_table(m.run_command("cat /proc/iomem"))) if r[-1] == "Crash kernel"]
    assert crash == [["0b000000-0effffff", "64 MiB", "176 MiB", "Crash kernel"]]


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


def test_real_elfcorehdr_names_every_note(loaded):
    m = loaded.session.machine
    plan = loaded.kexec_plan
    body = rows(report.program_headers(m.read(plan.elfcorehdr, 4096, physical=True), plan.notes,
                                       m.run_command("cat /sys/kernel/vmcoreinfo")))
    notes = [r[-1] for r in body if r[0] == "NOTE"]
    assert notes == ["crash_notes of CPU 0", "crash_notes of CPU 1", "VMCOREINFO"]
    loads = [(int(r[3], 16), r[-1]) for r in body if r[0] == "LOAD"]
    assert all(not 0xB000000 <= start < 0xF000000 for start, _ in loads)      # the reservation is left out
