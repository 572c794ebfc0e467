from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from kpanic_lab.errors import MemoryFault
from kpanic_lab.formats.elfcore import (ElfCore, ElfLoad, build_vmcore_notes, direct_map_load, pack_note, parse_notes,
                                        write_elf_core)
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.guest.headers import PAGE_OFFSET
from tests.formats import synth


def readelf(path, *opts):
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    return subprocess.run(["readelf", *opts, str(path)], capture_output=True, text=True, check=True).stdout


def test_readelf_lists_what_proc_vmcore_lists(synthetic, tmp_path):
    f = tmp_path / "vmcore"
    f.write_bytes(synthetic.elf)
    head = readelf(f, "-h", "-l")
    assert "Type:                              CORE (Core file)" in head
    assert "Machine:                           Advanced Micro Devices X86-64" in head
    assert "Number of program headers:         3" in head
    assert "Number of section headers:         0" in head
    assert "NOTE           0x0000000000001000 0x0000000000000000 0x0000000000000000" in head
    assert "LOAD           0x0000000000002000 0xffff888000001000 0x0000000000001000" in head
    assert "RWE    0x0" in head
    notes = readelf(f, "-n")
    assert notes.count("CORE                 0x00000150\tNT_PRSTATUS (prstatus structure)") == 2
    assert "VMCOREINFO" in notes and "Unknown note type: (0x00000000)" in notes
    assert "description data: 4f 53 52 45 4c 45 41 53 45 3d" in notes      # "OSRELEASE="


def test_reader_gives_back_notes_and_memory(synthetic):
    core = ElfCore(io.BytesIO(synthetic.elf), "synth")
    assert [p.pid for p in core.prstatus] == [1, 0]
    assert core.prstatus[0].reg("rip") == 0xFFFFFFFF81001234
    assert core.vmcoreinfo_raw.decode() == synthetic.vmcoreinfo
    assert core.ranges == synth.RANGES
    assert core.page_offset == PAGE_OFFSET
    assert core.read_physical(300 * 4096, 4096) == synthetic.page(300)
    assert core.read_physical(159 * 4096 + 4000, 96) == synthetic.page(159)[4000:]
    with pytest.raises(MemoryFault):
        core.read_physical(159 * 4096 + 4000, 200)          # runs into the hole
    with pytest.raises(MemoryFault, match="no PT_LOAD covers"):
        core.read_physical(200 * 4096, 8)


def test_filesz_short_of_memsz_reads_as_excluded():
    mem = bytes(range(256)) * 64
    out = io.BytesIO()
    write_elf_core(StreamSink(out), b"", [ElfLoad(0x100000, PAGE_OFFSET + 0x100000, 0x4000, 0x2000)],
                   lambda ld: [mem[:ld.filesz]])
    core = ElfCore(io.BytesIO(out.getvalue()), "short")
    assert core.read_physical(0x101000, 16) == mem[0x1000:0x1010]
    with pytest.raises(PageExcluded, match="page excluded: physical address: 0x102000"):
        core.read_physical(0x102000, 16)


def test_notes_pack_and_parse():
    blob = pack_note("CORE", 1, b"x" * 5) + pack_note("VMCOREINFO", 0, b"A=1\n")
    notes = parse_notes(blob + bytes(24))
    assert [(n.name, n.type, n.desc) for n in notes] == [("CORE", 1, b"xxxxx"), ("VMCOREINFO", 0, b"A=1\n")]
    with pytest.raises(ValueError, match="runs past the end"):
        parse_notes(blob[:-3])


def test_kernel_text_alias_does_not_shadow_the_direct_map():
    mem = bytearray(0x200000)
    mem[0x100000:0x100004] = b"TEXT"
    loads = [ElfLoad(0x100000, 0xFFFFFFFF81000000, 0x1000, 0x1000), direct_map_load(0x1000, 0x200000)]
    out = io.BytesIO()
    write_elf_core(StreamSink(out), build_vmcore_notes([PrStatus()], None), loads,
                   lambda ld: [bytes(mem[ld.paddr:ld.paddr + ld.filesz])])
    core = ElfCore(io.BytesIO(out.getvalue()), "alias")
    assert core.ranges == [(0x1000, 0x200000)]
    assert core.read_physical(0x100000, 4) == b"TEXT"


@pytest.mark.parametrize("cut", [10, 64, 100, 0x1000 + 40, 0x2000 + 100])
def test_truncated_files_are_named_errors(synthetic, cut):
    with pytest.raises(DumpError, match="truncated|corrupted"):
        ElfCore(io.BytesIO(synthetic.elf[:cut]), "cut")


def test_not_a_core_file():
    import pathlib
    vmlinux = pathlib.Path(__file__).resolve().parents[2] / "kpanic_lab" / "guest" / "images" / "vmlinux"
    if not vmlinux.is_file():
        pytest.skip("no guest image")
    with pytest.raises(DumpError, match="ET_EXEC, not ET_CORE"):
        ElfCore(open(vmlinux, "rb"), "vmlinux")


def test_headers_read_with_struct_match_pyelftools(synthetic):
    """ElfCore unpacks the headers itself (no pyelftools on makedumpfile's path): the same PT_LOADs
    as pyelftools reads, and a wrong e_phentsize or ELF class is a named error."""
    from elftools.elf.elffile import ELFFile

    core = ElfCore(io.BytesIO(synthetic.elf), "synth")
    theirs = [s.header for s in ELFFile(io.BytesIO(synthetic.elf)).iter_segments() if s.header["p_type"] == "PT_LOAD"]
    assert [(s.paddr, s.vaddr, s.offset, s.filesz, s.memsz) for s in core.loads] == \
        [(h["p_paddr"], h["p_vaddr"], h["p_offset"], h["p_filesz"], h["p_memsz"]) for h in theirs]
    assert core.machine == "EM_X86_64" and not core.incomplete
    bad = bytearray(synthetic.elf)
    bad[54:56] = (32).to_bytes(2, "little")                    # e_phentsize of an Elf32_Phdr
    with pytest.raises(DumpError, match="e_phentsize is 32"):
        ElfCore(io.BytesIO(bytes(bad)), "bad")
    bad = bytearray(synthetic.elf)
    bad[4] = 1                                                 # ELFCLASS32
    with pytest.raises(DumpError, match="ELF64"):
        ElfCore(io.BytesIO(bytes(bad)), "bad")
