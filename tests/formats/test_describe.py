"""formats/describe.py: a dump in words, and readelf's and xxd's views of its bytes (checked against
readelf where it is installed)."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kpanic_lab.formats import describe, open_dump
from kpanic_lab.formats.describe import describe_dump, file_description
from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.kdump.kexec import build_elfcorehdr
from kpanic_lab.kdump.makedumpfile import makedumpfile


def rows(table: str) -> list:
    """A text.table's body rows as lists of cells (two or more spaces separate cells)."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:]]


def test_describe_elf_and_kdump(synthetic):
    elf = open_dump(synthetic.elf, "vmcore.elf")
    text = describe_dump(elf)
    assert text.startswith("vmcore.elf: ELF 64-bit LSB core file, x86-64")
    assert "kernel      6.1.0-synth" in text and "CRASHTIME 1700000000" in text
    assert "dump level  not recorded (ELF)" in text and "CPU 0       pid 1" in text
    out = io.BytesIO()
    makedumpfile(elf, out, 16, "zlib")
    k = open_dump(out.getvalue(), "vmcore")
    assert file_description(k) == ("Kdump compressed dump v6, system Linux, node (none), release 6.1.0-synth, "
                                   "machine x86_64, domain (none)")
    assert "dump level  16: dropped free pages" in describe_dump(k)
    assert "112 excluded" in describe_dump(k)


# ------------------------------------------------------------------ readelf's and xxd's views
NOTES = [(0x107DA80, 368), (0x107DBF0, 368)]
RAM = [(0x1000, 0x9FC00), (0x100000, 0xB000000), (0xF000000, 0xFFE0000)]


def elfcorehdr() -> bytes:
    return build_elfcorehdr(NOTES, (0x107E600, 0x1024), RAM, (0xFFFFFFFF81000000, 0x1000000, 0xB1000))


def test_program_headers_of_kexecs_header():
    hdr = elfcorehdr()
    assert describe.elf_header_line(hdr) == "ELF64 ET_CORE EM_X86_64, 7 program headers at offset 64, 0 section headers"
    body = rows(describe.program_headers(hdr, NOTES, "107e600 1024\n"))
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
    ph = rows(describe.program_headers(core))
    assert [r[0] for r in ph] == ["NOTE", "LOAD", "LOAD"]
    assert ph[0][-1] == "notes (NT_PRSTATUS per CPU, VMCOREINFO)"
    assert ph[1][-1] == "RAM at 4 KiB, last 8 KiB not in the file"
    assert rows(describe.note_table(core)) == [["CORE", "0x00000150", "NT_PRSTATUS"], ["CORE", "0x00000150", "NT_PRSTATUS"],
                                             ["VMCOREINFO", "0x00000017", "type 0x0"]]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not installed")
def test_program_headers_agree_with_readelf(tmp_path: Path):
    for name, data in (("hdr", elfcorehdr()), ("core", small_vmcore())):
        path = tmp_path / name
        path.write_bytes(data)
        out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True).stdout
        theirs = [(m.group(1), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16))
                  for m in re.finditer(r"^\s+(NOTE|LOAD)\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)", out, re.M)]
        ours = [(r[0], int(r[1], 16), int(r[2], 16), int(r[3], 16)) for r in rows(describe.program_headers(data))]
        assert ours == theirs
    out = subprocess.run(["readelf", "-n", str(tmp_path / "core")], capture_output=True, text=True).stdout
    owners = re.findall(r"^\s+(CORE|VMCOREINFO)\s+(0x[0-9a-f]+)", out, re.M)
    assert [(r[0], r[1]) for r in rows(describe.note_table(small_vmcore()))] == owners


def test_prstatus_table():
    table = describe.prstatus_table([PrStatus(pid=0, regs={"rip": 0x10, "rsp": 0x20}), PrStatus(pid=4, regs={"rip": 0x30})],
                                  lambda a: f"sym+{a:#x}")
    assert rows(table) == [["0", "0", "sym+0x10", "0000000000000020"], ["1", "4", "sym+0x30", "0000000000000000"]]


def test_hexdump_matches_xxd_layout_of_the_reference():
    head = bytes.fromhex("4b44554d50202020060000004c696e75" "78000000000000000000000000000000")
    assert describe.hexdump(head, 32).splitlines() == [
        "00000000: 4b44 554d 5020 2020 0600 0000 4c69 6e75  KDUMP   ....Linu",
        "00000010: 7800 0000 0000 0000 0000 0000 0000 0000  x..............."]
    assert describe.hexdump(b"abc", 16) == "00000000: 6162 63                                  abc"


def test_docstring_examples():
    import doctest
    assert doctest.testmod(describe).failed == 0
