"""The guest kernel boots to a shell on 1, 2 and 4 CPUs, and its boot log reads like Linux's."""
from __future__ import annotations

import re

import pytest

from kpanic_lab.machine import Machine
from kpanic_lab.guest.headers import E820_TYPE_RAM
from kpanic_lab.machine.loader import e820_map

pytestmark = pytest.mark.slow          # every test here boots a machine

STAMP = re.compile(r"^\[\s*\d+\.\d{6}\] ")


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_boots_to_the_shell(booted, cpus):
    m = booted(cpus)
    text = m.console_text
    assert "Linux version 6.1.0" in text
    assert "Run /init as init process" in text
    if cpus > 1:
        assert f"smp: Brought up 1 node, {cpus} CPUs" in text
    assert text.rstrip().endswith("#")
    assert [v.state for v in m.cpu_views()].count("parked") == 0


def test_boot_log_lines_are_timestamped_and_ordered(booted):
    m = booted(2)
    kernel = [l for l in m.console_lines if STAMP.match(l)]
    assert len(kernel) > 15
    times = [float(STAMP.match(l).group(0).strip("[] ")) for l in kernel]
    assert times == sorted(times)
    assert kernel[0].endswith("]" ) is False and "Linux version" in kernel[0]
    assert re.search(r"Command line: console=ttyS0$", kernel[1])


def test_e820_map_is_printed_as_the_loader_passed_it(booted):
    m = booted(2)
    printed = re.findall(r"BIOS-e820: \[mem 0x([0-9a-f]{16})-0x([0-9a-f]{16})\] (\w+)", m.console_text)
    expected = [(e.addr, e.end - 1, "usable" if e.type == E820_TYPE_RAM else "reserved") for e in e820_map(256 << 20)]
    assert [(int(a, 16), int(b, 16), t) for a, b, t in printed] == expected


def test_proc_iomem_nests_the_kernel_under_system_ram(booted):
    m = booted(2)
    out = m.run_command("cat /proc/iomem")
    lines = out.splitlines()
    ram = [l for l in lines if l.endswith(" : System RAM")]
    assert ram and all(re.match(r"^[0-9a-f]{8}-[0-9a-f]{8} : System RAM$", l) for l in ram)
    code = [l for l in lines if "Kernel code" in l]
    assert code and code[0].startswith("  ")
    start = int(code[0].split("-")[0], 16)
    assert start == 0x1000000          # LOAD_PHYSICAL_ADDR


def test_shell_commands_are_real_syscalls(booted):
    m = booted(2)
    assert m.run_command("cat /proc/cmdline").strip() == "console=ttyS0"
    assert "6.1.0" in m.run_command("uname -a")
    assert "not found" in m.run_command("frobnicate")


def test_timer_interrupts_only_while_if_is_set(booted):
    m = booted(2)
    m.trace_interrupts = True
    m.run_command("cat /proc/uptime")
    t0 = m.clock_ns
    m.run(lambda mm: mm.clock_ns > t0 + 20_000_000)        # 20 ms of an idle machine: 5 ticks per CPU
    m.trace_interrupts = False
    timer = [d for d in m.interrupt_log if d.vector == 0xEC]
    assert timer, "no timer interrupt while the shell ran"
    assert all(d.rflags & 0x200 for d in m.interrupt_log if d.vector >= 32)


def test_same_configuration_gives_identical_console_and_counts():
    from tests.guest.conftest import require_image

    require_image()
    runs = []
    for _ in range(2):
        m = Machine(cpus=2, memory="256M")
        r = m.boot()
        m.run_command("cat /proc/iomem")
        runs.append((m.console, r.clock_ns, m.total_instructions))
    assert runs[0] == runs[1]


def test_snapshot_restore_gives_identical_registers_and_memory(booted):
    m = booted(2)
    snap = m.snapshot()
    digest = m.state_digest()
    regs = [m.registers(i) for i in range(2)]
    m.run_command("ls /proc")
    assert m.state_digest() != digest
    m.restore(snap)
    assert m.state_digest() == digest
    assert [m.registers(i) for i in range(2)] == regs


def test_uname_proc_version_and_sysctl_read_init_uts_ns(booted):
    # the names live in one struct the dump tools find (VMCOREINFO's SYMBOL(init_uts_ns)):
    # change the release there, as sethostname(2) changes a name, and every reader shows it
    m = booted(2)
    version = m.run_command("cat /proc/version")
    assert version.startswith("Linux version 6.1.0-kpanic (kpanic@kpanic_lab) (gcc ")
    release = m.image.address_of("init_uts_ns") + 2 * 65          # name.release
    assert m.read(release, 13) == b"6.1.0-kpanic\0"
    m.mem.write_virt(m.boot_info.cr3, release, b"6.1.0-edited\0")
    assert m.run_command("uname -r").strip() == "6.1.0-edited"
    assert m.run_command("cat /proc/sys/kernel/osrelease").strip() == "6.1.0-edited"
    assert m.run_command("cat /proc/version") == version.replace("6.1.0-kpanic", "6.1.0-edited")
