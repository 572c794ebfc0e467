"""Issue 9, items 5 and 6: every kdump run keeps its own dump folder, and a path the lab prints exists."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump.capture import Targets, folder_date
from kpanic_lab.kdump.run import KdumpRun

FOLDER = re.compile(r"^127\.0\.0\.1-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$")


@pytest.fixture(autouse=True)
def _needs_the_image() -> None:
    if not vmlinux_path().is_file():
        pytest.skip(f"no guest image at {vmlinux_path()} (make guest)")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_runs_into_one_crash_dir_leave_two_dumps(tmp_path):
    first = KdumpRun("sysrq-c", crash_dir=tmp_path).run()
    assert first.outcome is not None and first.outcome.vmcore is not None
    kept = _digest(first.outcome.vmcore)
    second = KdumpRun("oops-panic", crash_dir=tmp_path).run()
    assert second.outcome is not None and second.outcome.vmcore is not None
    folders = sorted(p.name for p in (tmp_path / "var" / "crash").iterdir())
    assert len(folders) == 2 and all(FOLDER.match(f) for f in folders), folders
    assert first.outcome.directory != second.outcome.directory
    # the first dump is untouched, and each folder holds its own run's dump and log
    assert _digest(first.outcome.vmcore) == kept
    for r, panic in ((first, "sysrq triggered crash"), (second, "Oops: 0002 [#1]")):
        d = r.outcome.directory
        assert sorted(p.name for p in d.iterdir()) == ["vmcore", "vmcore-dmesg.txt"]
        assert panic in (d / "vmcore-dmesg.txt").read_text()
    # the second run's date moved on past the first's, and the capture kernel said where it saved
    assert folders[1] > folders[0]
    assert f"kdump: saving to /sysroot/var/crash/{second.outcome.directory.name}/" in second.capture_console


@pytest.mark.slow
def test_a_failed_run_leaves_an_earlier_dump_alone(tmp_path):
    good = KdumpRun("sysrq-c", crash_dir=tmp_path).run()
    kept = _digest(good.outcome.vmcore)
    full = Targets(crash_dir=tmp_path, disk_limit=64 * 1024)
    bad = KdumpRun("sysrq-c", targets=full, kdump_conf="core_collector makedumpfile -d 1\n").run()
    assert bad.outcome.status == "failed"
    assert bad.outcome.directory != good.outcome.directory
    assert sorted(p.name for p in good.outcome.directory.iterdir()) == ["vmcore", "vmcore-dmesg.txt"]
    assert _digest(good.outcome.vmcore) == kept
    assert (bad.outcome.directory / "vmcore-incomplete").exists()
    assert not (bad.outcome.directory / "vmcore").exists()


@pytest.mark.slow
def test_a_folder_name_already_taken_is_never_reused(tmp_path):
    """The first free second after the guest's clock, whatever is in the way (here: a file)."""
    probe = KdumpRun("sysrq-c", crash_dir=tmp_path / "probe").run()
    name = probe.outcome.directory.name
    crash = tmp_path / "disk" / "var" / "crash"
    crash.mkdir(parents=True)
    (crash / name).write_text("not a dump folder")
    r = KdumpRun("sysrq-c", crash_dir=tmp_path / "disk").run()
    assert r.outcome.status == "saved" and r.outcome.directory.name != name
    assert (crash / name).read_text() == "not a dump folder"


def test_folder_date_is_kdumps_date_format():
    import datetime as dt

    assert folder_date(dt.datetime(2026, 11, 26, 8, 0, 59)) == "2026-11-26-08:00:59"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "KPANIC_LAB_LANGUAGE": "en"}
    return subprocess.run([sys.executable, "-m", "kpanic_lab", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


@pytest.mark.slow                       # kpanic-lab boots the machine in a subprocess
def test_run_kdump_without_crash_dir_keeps_the_dump_in_dot_crash_and_prints_where(tmp_path):
    r = _cli(tmp_path, "run", "sysrq-c", "--kdump")
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"^--- capture: saved: (\S+/vmcore); then rebooted$", r.stderr, re.M)
    assert m, r.stderr[-2000:]
    path = Path(m.group(1))
    assert path.is_file() and path.stat().st_size > 0              # still there after the command ended
    assert path.resolve().is_relative_to((tmp_path / "crash" / "var" / "crash").resolve())
    # the three consoles, each under its header, in order
    headers = [line for line in r.stdout.splitlines() if line.startswith("=" * 20)]
    assert headers == [
        "==================== first kernel: boot, kexec -p, the crash ====================",
        "==================== capture kernel: booted by kexec in the crashkernel= memory, saves the dump "
        "====================",
        "==================== after reboot: the machine boots again ====================",
    ]
    first, capture, reboot = re.split(r"^=+ .* =+$\n", r.stdout, flags=re.M)[1:]
    assert "Kernel panic - not syncing: sysrq triggered crash" in first
    assert "kdump: saving vmcore complete" in capture and "Kernel panic" not in reboot
    assert r.stdout.count("Linux version") == 3


def test_run_kdump_refuses_a_crash_dir_that_is_a_file(tmp_path):
    (tmp_path / "crash").write_text("")
    r = _cli(tmp_path, "run", "sysrq-c", "--kdump")
    assert r.returncode == 2 and r.stderr.strip() == "kpanic-lab: --crash-dir crash: not a folder"
