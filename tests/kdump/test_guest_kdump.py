"""The guest kernel's side of kdump: the reservation, /sys files, kexec_load(2)'s checks, purgatory."""
from __future__ import annotations

import re
from typing import Optional

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump import service
from kpanic_lab.kdump.capture import Targets
from kpanic_lab.kdump.run import KdumpRun
from kpanic_lab.machine import Machine

pytestmark = pytest.mark.slow          # every test here boots a machine


@pytest.fixture(autouse=True)
def _image():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")


def boot(cmdline: str, memory: str = "256M", plans: Optional[list] = None) -> Machine:
    m = Machine(cpus=2, memory=memory, cmdline="console=ttyS0 " + cmdline)
    service.install(m, on_load=None if plans is None else plans.append)
    assert m.boot().reason == "prompt"
    return m


def test_reservation_is_printed_and_nested_under_system_ram():
    m = boot("crashkernel=64M")
    line = next(l for l in m.console_lines if "for crashkernel" in l)
    assert re.search(r"Reserving 64MB of memory at \d+MB for crashkernel \(System RAM: 255MB\)$", line)
    iomem = m.run_command("cat /proc/iomem").splitlines()
    crash = [l for l in iomem if l.endswith(" : Crash kernel")]
    assert len(crash) == 1 and crash[0].startswith("  ")
    start, end = (int(x, 16) for x in crash[0].strip().split(" ")[0].split("-"))
    assert start % (16 << 20) == 0 and end - start + 1 == 64 << 20
    assert m.run_command("cat /sys/kernel/kexec_crash_size") == str(64 << 20)
    assert m.run_command("cat /sys/kernel/kexec_crash_loaded") == "0"


@pytest.mark.parametrize("arg,message", [
    ("crashkernel=512M", "crashkernel reservation failed - No suitable area found."),
    ("crashkernel=64M@16M", "crashkernel reservation failed - memory is in use."),
    ("crashkernel=64Q", "crashkernel: unrecognized char: Q"),
    ("crashkernel=auto", "crashkernel: memory value expected"),
    ("crashkernel=512M-128M:64M", "crashkernel: end <= start"),
])
def test_bad_reservations_fail_as_linux_does(arg, message):
    m = boot(arg)
    assert any(l.endswith(message) for l in m.console_lines), m.console_lines[:20]
    assert " : Crash kernel" not in m.run_command("cat /proc/iomem")


def test_ranges_pick_the_size_by_ram():
    m = boot("crashkernel=128M-1G:32M,1G-:128M")
    assert any(re.search(r"Reserving 32MB of memory at", l) for l in m.console_lines)


def test_kexec_load_checks_and_loads():
    plans = []
    m = boot("crashkernel=64M", plans=plans)
    assert m.run_command("kexec -l") .startswith("kexec: the lab's kexec loads crash kernels only")
    assert m.run_command("kexec -p") == ""
    assert m.run_command("cat /sys/kernel/kexec_crash_loaded") == "1"
    plan = plans[-1]
    lo, hi = plan.crash
    assert all(lo <= s.mem and s.mem + s.memsz - 1 <= hi for s in plan.segments)
    assert m.run_command("kexec -p -u") == "" and m.run_command("cat /sys/kernel/kexec_crash_loaded") == "0"


def test_purgatory_refuses_a_capture_kernel_that_was_overwritten(tmp_path):
    run = KdumpRun("sysrq-c", crash_dir=tmp_path).load()
    m = run.session.machine
    kernel = next(s for s in run.kexec_plan.segments if s.what.startswith("kernel"))
    m.mem.write(kernel.mem + 0x100, b"\xde\xad\xbe\xef")      # a stray write into the reservation
    r = run.run()
    assert "sha256 digests do not match :(" in r.capture_console
    assert "Linux version" not in r.capture_console           # the capture kernel never started
    assert r.outcome is None and r.end == "halted"


def test_raw_target_gets_a_flattened_dump(tmp_path):
    conf = "raw /dev/vdb\ncore_collector makedumpfile -F -l -d 31\n"
    t = Targets(crash_dir=tmp_path, raw_image=tmp_path / "vdb.img")
    r = KdumpRun("sysrq-c", kdump_conf=conf, targets=t).run()
    assert r.outcome.status == "saved"
    assert (tmp_path / "vdb.img").read_bytes()[:12] == b"makedumpfile"


def test_the_run_keeps_what_kexec_loaded(tmp_path):
    run = KdumpRun("sysrq-c", crash_dir=tmp_path).load()
    plan = run.kexec_plan
    assert plan is not None and plan.cmdline.startswith("console=ttyS0")
    assert not hasattr(run.session.machine, "last_kexec_plan")        # the machine knows nothing of kexec-tools
    again = KdumpRun("sysrq-c", crash_dir=tmp_path).load(run.saved())  # started from the saved state
    assert again.kexec_plan is plan
