"""The lab's readers on a real Linux 6.1 kdump (tests/data/real/, see its README): VMCOREINFO, the
NT_PRSTATUS notes, the dump header, and the kernel log from 6.1's lockless printk ring, compared with
what real makedumpfile 1.7.2 printed for the same dump.  No QEMU needed: this runs in the default suite."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kpanic_lab.formats import PageExcluded, open_dump
from kpanic_lab.kdump.dmesg import format_dmesg, read_dmesg

DATA = Path(__file__).resolve().parent.parent / "data" / "real"
VMCORE = DATA / "vmcore.log-pages"


@pytest.fixture(scope="module")
def dump():
    with open_dump(str(VMCORE)) as d:
        yield d


def test_header_and_vmcoreinfo(dump):
    assert dump.format == "kdump" and dump.dump_level == 31
    vi = dump.vmcoreinfo
    assert vi.osrelease == "6.1.0-57-amd64"
    assert len(vi) == 110
    uts = dump.source.header.utsname            # makedumpfile's disk_dump_header
    assert (uts.sysname, uts.release, uts.machine) == ("Linux", "6.1.0-57-amd64", "x86_64")
    assert uts.version == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"
    assert dump.source.header.nr_cpus == 2
    # what makedumpfile, crash and drgn look for first, and what 6.1's lockless log needs
    for key in ("SYMBOL(init_uts_ns)", "SYMBOL(swapper_pg_dir)", "SYMBOL(init_top_pgt)", "SYMBOL(_stext)",
                "SYMBOL(mem_section)", "NUMBER(phys_base)", "KERNELOFFSET", "NUMBER(KERNEL_IMAGE_SIZE)",
                "SYMBOL(prb)", "OFFSET(printk_ringbuffer.desc_ring)", "OFFSET(prb_desc_ring.count_bits)",
                "OFFSET(printk_info.ts_nsec)", "SIZE(prb_desc)", "CRASHTIME"):
        assert key in vi, key
    assert "SYMBOL(log_buf)" not in vi               # 5.10+: no printk_log buffer any more
    assert vi.symbol("_stext") == 0xffffffff80000000 + 0x1000000 + vi.kerneloffset  # KASLR, 16 MiB start
    # KASLR moved the image 0x30000000 up in virtual memory; phys_base (negative here) brings it back to
    # where it sits in RAM: _stext - __START_KERNEL_map + phys_base
    assert vi.kerneloffset == 0x30000000 and vi.phys_base == -0x2B400000
    assert vi.symbol("_stext") - 0xffffffff80000000 + vi.phys_base == 0x5C00000


def test_two_nt_prstatus_notes(dump):
    assert dump.nr_cpus == 2
    pids = sorted(p.pid for p in dump.prstatus)
    assert pids == [0, 1]                            # init (pid 1) wrote to sysrq-trigger; the other CPU idled
    for p in dump.prstatus:
        assert p.regs["rip"] >> 47 == 0x1ffff        # both stopped in kernel code
        assert p.regs["cs"] == 0x10


def test_the_kernel_log_is_makedumpfiles_byte_for_byte(dump):
    want = (DATA / "dmesg.makedumpfile.txt").read_text()
    assert format_dmesg(read_dmesg(dump)) == want


def test_the_log_ends_with_the_panic_the_console_printed(dump):
    log = format_dmesg(read_dmesg(dump))
    console = (DATA / "console.first.log").read_text()
    start = "sysrq: Trigger a crash"
    panic_console = console[console.rindex("\n", 0, console.index(start)) + 1:]
    panic_console = panic_console[:panic_console.index("</TASK>") + len("</TASK>\n")]
    assert log.endswith(panic_console)
    assert "Kernel panic - not syncing: sysrq triggered crash" in panic_console
    assert "Kdump: loaded" in panic_console


def test_cli_dump_dmesg(tmp_path):
    out = tmp_path / "dmesg.txt"
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "makedumpfile", "--dump-dmesg", str(VMCORE), str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == (DATA / "dmesg.makedumpfile.txt").read_text()


def test_pages_the_trimmed_dump_left_out_read_as_excluded(dump):
    # the kernel text is in every real -d 31 dump; this copy kept only the log's pages
    with pytest.raises(PageExcluded):
        dump.read(dump.vmcoreinfo.symbol("_stext"), 16)


def test_consoles_show_both_kernels():
    first = (DATA / "console.first.log").read_text()
    capture = (DATA / "console.capture.log").read_text()
    assert "Reserving 160MB of memory at" in first and "crashkernel=160M" in first
    assert "kexec -p /vmlinuz --initrd=/capture.img" in first
    assert "---[ end Kernel panic" not in first
    assert capture.startswith("[    0.000000] Linux version 6.1.0-57-amd64")
    assert "elfcorehdr=" in capture and "makedumpfile rc=0" in capture


def test_the_randomised_direct_map_is_found_from_the_page_tables(dump):
    # Debian randomises page_offset_base (1 GiB steps); VMCOREINFO's mem_section is a pointer into
    # the direct map, and the mem_section array holds more pointers into it
    assert dump.page_offset == 0xFFFF8F3F80000000
    ms = dump.vmcoreinfo.symbol("mem_section")
    assert dump.vtop(ms) == ms - dump.page_offset == 0x17FD5000          # near the top of 384 MiB
    first = dump.read_u64(ms)
    assert dump.page_offset < first < dump.page_offset + (384 << 20)
    assert dump.read(ms, 64) == dump.read(ms - dump.page_offset, 64, physical=True)


class _VmcoreinfoProgram:
    """What analysis.printk.kernel_log asks of a Program, answered from the real dump: addresses and
    layouts from its VMCOREINFO (the same numbers the kernel's DWARF gives; the debug vmlinux is 5.5 GB
    installed, so the default suite does without it), memory through the dump."""

    def __init__(self, dump):
        from kpanic_lab.analysis.types import Member, Type
        self.dump, self.vi = dump, dump.vmcoreinfo
        # printk_info.level: `u8 flags:5; u8 level:3;` at byte 19 in 6.1 (kernel/printk/printk_ringbuffer.h:
        # u64 seq; u64 ts_nsec; u16 text_len; u8 facility; u8 flags:5; u8 level:3; ...), not in VMCOREINFO
        self._info = Type("struct", "printk_info", self.vi.size("printk_info"),
                          _members=[Member("level", Type("int", "u8", 1), 19, 3, 5)])

        class _Symbols:
            @staticmethod
            def get(name):
                return object() if f"SYMBOL({name})" in dump.vmcoreinfo else None
        self.symbols = _Symbols()

    def offsetof(self, struct_name, member):
        return self.vi.offset(struct_name, member)

    def sizeof(self, spec):
        return self.vi.size(spec.replace("struct ", ""))

    def type(self, spec):
        assert spec == "struct printk_info"
        return self._info

    def address_of(self, name):
        return self.vi.symbol(name)

    def read(self, addr, size):
        return self.dump.read(addr, size)

    def read_u64(self, addr):
        return self.dump.read_u64(addr)

    def read_u32(self, addr):
        return int.from_bytes(self.dump.read(addr, 4), "little")


def test_the_crash_shells_log_reads_the_lockless_ring(dump):
    from kpanic_lab.analysis.printk import kernel_log, log_lines

    records = kernel_log(_VmcoreinfoProgram(dump))
    assert records.error is None
    want = (DATA / "dmesg.makedumpfile.txt").read_text()
    # crash's `log` puts the time stamp on continuation lines too, makedumpfile indents them: the text
    # behind the 15 characters of "[    4.493858] " is the same
    lines = log_lines(records)
    assert [line[15:] for line in lines] == [line[15:] for line in want.splitlines()]
    assert all(line.startswith("[    ") for line in lines)
    levels = {r.text: r.level for r in records}
    assert levels[b"Kernel panic - not syncing: sysrq triggered crash"] == 0     # pr_emerg
    assert levels[b"sysrq: Trigger a crash"] == 6                                # pr_info
