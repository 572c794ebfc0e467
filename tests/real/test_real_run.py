"""A whole real kdump cycle: Debian's Linux 6.1 under QEMU TCG, the real kexec -p, SysRq-c, the real
makedumpfile in the capture kernel, the vmcore on the host, opened by the lab's readers.

Slow (a minute or more on a busy machine) and it needs Debian's packages, so it runs only under
``make test-real`` (KPANIC_LAB_TEST_REAL=1); without the packages it skips naming them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from kpanic_lab.real.host import apt_line, missing_packages

MISSING = missing_packages()
pytestmark = [
    pytest.mark.skipif(os.environ.get("KPANIC_LAB_TEST_REAL") != "1",
                       reason="a real QEMU boot of Linux 6.1 (slow): run it with `make test-real`"),
    pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)}: {apt_line(list(MISSING))}"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    crash_dir = tmp_path_factory.mktemp("real") / "crash"
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "real", "run", "sysrq-c", "--kdump",
                        "--crash-dir", str(crash_dir), "--timeout", "480"],
                       capture_output=True, text=True, timeout=590)
    return r, crash_dir


def test_the_run_saves_a_vmcore_and_both_consoles(real_run):
    r, crash_dir = real_run
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(crash_dir)) == ["console.capture.log", "console.first.log", "console.log", "vmcore"]
    first = (crash_dir / "console.first.log").read_text()
    capture = (crash_dir / "console.capture.log").read_text()
    # the lines real 6.1 prints (tests in the default suite check them against the shipped capture)
    assert "Reserving 160MB of memory at" in first and "for crashkernel" in first
    assert "sysrq: Trigger a crash" in first
    assert "Kernel panic - not syncing: sysrq triggered crash" in first
    assert "Kdump: loaded" in first
    assert "---[ end Kernel panic" not in first      # __crash_kexec runs before the end marker
    assert "elfcorehdr=" in capture and "makedumpfile rc=0" in capture
    assert first in r.stdout and capture in r.stdout


def test_the_lab_reads_the_real_vmcore(real_run):
    from kpanic_lab.formats import open_dump
    from kpanic_lab.real.host import find_host

    r, crash_dir = real_run
    assert r.returncode == 0, r.stderr[-2000:]
    with open_dump(str(crash_dir / "vmcore")) as d:
        assert d.format == "kdump" and d.dump_level == 31
        assert d.vmcoreinfo.osrelease == find_host().release
        assert d.nr_cpus == 2
        assert "SYMBOL(prb)" in d.vmcoreinfo and "KERNELOFFSET" in d.vmcoreinfo


def test_the_labs_dump_dmesg_is_real_makedumpfiles(real_run, tmp_path):
    from kpanic_lab.real.host import find_host

    r, crash_dir = real_run
    assert r.returncode == 0, r.stderr[-2000:]
    real, lab = tmp_path / "real.txt", tmp_path / "lab.txt"
    subprocess.run([find_host().makedumpfile, "--dump-dmesg", str(crash_dir / "vmcore"), str(real)],
                   capture_output=True, timeout=300, check=True)
    p = subprocess.run([sys.executable, "-m", "kpanic_lab", "makedumpfile", "--dump-dmesg",
                        str(crash_dir / "vmcore"), str(lab)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert lab.read_bytes() == real.read_bytes()
    assert "sysrq: Trigger a crash" in lab.read_text()


def test_without_kdump_the_kernel_stops_at_the_end_marker(tmp_path):
    crash_dir = tmp_path / "crash"
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "real", "run", "sysrq-c", "--crash-dir", str(crash_dir),
                        "--timeout", "300"], capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(crash_dir)) == ["console.first.log", "console.log"]
    first = (crash_dir / "console.first.log").read_text()
    assert "crashkernel=" not in first and "Kdump: loaded" not in first
    # the order real 6.1 prints with panic=0 (tests/data/real, and tests/panic/linux-6.1/a_sysrq_c_panic0.console.log)
    marks = ["sysrq: Trigger a crash", "Kernel panic - not syncing: sysrq triggered crash", "Call Trace:",
             "</TASK>", "Kernel Offset: 0x", "---[ end Kernel panic - not syncing: sysrq triggered crash ]---"]
    at = [first.index(m) for m in marks]
    assert at == sorted(at)


def test_a_run_past_its_timeout_is_stopped_and_says_so(tmp_path):
    from kpanic_lab.real import RealRunError, run_real

    def qemus():      # the QEMU processes of real runs (their files are in a kpanic-real-* folder)
        out = subprocess.run(["pgrep", "-f", "qemu-system-x86_64 .*kpanic-real-"], capture_output=True, text=True)
        return set(out.stdout.split())

    before = qemus()
    t0 = time.monotonic()
    with pytest.raises(RealRunError, match=r"QEMU did not finish within 3 s \(console in .*console.log\)"):
        run_real("sysrq-c", kdump=True, crash_dir=str(tmp_path / "c"), timeout=3)
    assert time.monotonic() - t0 < 60
    assert qemus() <= before                   # this run's QEMU was killed
    assert (tmp_path / "c" / "console.log").exists()


def test_nokaslr_keeps_the_kernel_at_its_link_address(tmp_path):
    crash_dir = tmp_path / "crash"
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "real", "run", "sysrq-c", "--nokaslr",
                        "--crash-dir", str(crash_dir), "--timeout", "300"], capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    first = (crash_dir / "console.first.log").read_text()
    assert "Command line: console=ttyS0 panic=0 nokaslr" in first
    assert "Kernel Offset: disabled" in first


@pytest.mark.parametrize("options", [["-c", "-d", "1"], ["-l", "-d", "31"], ["-c", "-d", "0"]])
def test_refiltering_the_real_dump_is_byte_identical_to_real_makedumpfile(real_run, tmp_path, options):
    # the input was written at -d 31: both tools raise the level to take that in, and say so first
    r, crash_dir = real_run
    assert r.returncode == 0, r.stderr[-2000:]
    vmcore = crash_dir / "vmcore"
    real = subprocess.run(["makedumpfile", *options, vmcore, tmp_path / "real"], capture_output=True, text=True,
                          timeout=120)
    lab = subprocess.run([sys.executable, "-m", "kpanic_lab", "makedumpfile", *options, vmcore, tmp_path / "lab"],
                         capture_output=True, text=True, timeout=120)
    assert real.returncode == 0 and lab.returncode == 0, real.stdout + lab.stderr
    assert (tmp_path / "lab").read_bytes() == (tmp_path / "real").read_bytes()
    assert lab.stdout.replace(str(tmp_path / "lab"), "OUT") == real.stdout.replace(str(tmp_path / "real"), "OUT")
