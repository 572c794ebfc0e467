"""What the capture kernel is given: its memory map without the ELF core header (as kexec-tools'
delete_memmap), and a command line built from the one the user gave, not from it plus the default."""
from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump import service
from kpanic_lab.guest.headers import E820_TYPE_RAM
from kpanic_lab.machine import Machine


@pytest.fixture(scope="module")
def plan():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    m = Machine(cpus=2, memory="256M", cmdline="console=ttyS0 crashkernel=64M")
    plans = []
    service.install(m, on_load=plans.append)
    assert m.boot().reason == "prompt"
    assert m.run_command("kexec -p") == ""
    return plans[-1]


@pytest.mark.slow
def test_the_elf_core_header_is_not_in_the_capture_kernels_ram(plan):
    hdr = next(s for s in plan.segments if s.mem == plan.elfcorehdr)
    ram = [(e.addr, e.addr + e.size) for e in plan.capture_e820 if e.type == E820_TYPE_RAM]
    assert not any(a < hdr.mem + hdr.memsz and hdr.mem < b for a, b in ram)
    lo, hi = plan.crash
    # the rest of the reservation is RAM for the capture kernel, on both sides of the header
    assert any(a == lo for a, _ in ram) and any(b == hi + 1 for _, b in ram)
    assert "acpi_rsdp=" not in plan.cmdline          # the lab machine has no ACPI tables to point at


def test_a_command_line_given_replaces_the_default():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.kdump.run import KdumpRun
    from kpanic_lab.panic import PanicSession

    assert PanicSession("sysrq-c").config.cmdline == "console=ttyS0"
    assert PanicSession("sysrq-c", cmdline="console=ttyS0 panic=5").config.cmdline == "console=ttyS0 panic=5"
    assert PanicSession("oops-panic", cmdline="panic=5").config.cmdline == "oops=panic panic=5"
    run = KdumpRun("sysrq-c", cmdline="console=ttyS0 panic=5")
    assert run.session.config.cmdline == "console=ttyS0 panic=5 crashkernel=64M"
    assert KdumpRun("sysrq-c").session.config.cmdline == "console=ttyS0 crashkernel=64M"
    assert KdumpRun("sysrq-c", cmdline="crashkernel=96M").session.config.cmdline == "crashkernel=96M"
