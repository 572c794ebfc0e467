"""The `kpanic-lab` command as a user runs it: a subprocess, its exit code, stdout and stderr."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from kpanic_lab.guest import vmlinux_path

ROOT = Path(__file__).resolve().parents[1]


def kpanic_lab(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kpanic_lab", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.parametrize("args, option, words", [
    (["--memory", "12Q"], "--memory", ["'12Q'", "not a size"]),
    (["--memory", "16M"], "--memory", ["'16M'", "too small"]),
    (["--memory", "1.5G"], "--memory", ["'1.5G'", "not a size"]),
    (["--cpus", "0"], "--cpus", ["'0'", "between 1 and 8"]),
    (["--cpus", "99"], "--cpus", ["'99'", "between 1 and 8"]),
    (["--cpus", "two"], "--cpus", ["'two'", "not a number"]),
])
def test_boot_bad_option_is_one_line_naming_it(args, option, words):
    r = kpanic_lab("boot", *args)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"kpanic-lab: {option}=")
    for w in words:
        assert w in lines[0]


def test_boot_memory_12q_message_exactly():
    r = kpanic_lab("boot", "--memory", "12Q")
    assert r.stderr.startswith("kpanic-lab: --memory='12Q': not a size")


def test_no_command_prints_help_and_exits_2():
    r = kpanic_lab()
    assert r.returncode == 2
    assert "boot" in r.stderr and "vmlinux" in r.stderr


def test_help_lists_the_commands():
    r = kpanic_lab("--help")
    assert r.returncode == 0
    for name in ("boot", "vmlinux"):
        assert name in r.stdout


def test_unknown_command_is_a_usage_error():
    r = kpanic_lab("reboot-the-world")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


def test_vmlinux_missing_image_exits_1_with_the_path(tmp_path):
    missing = tmp_path / "no-such-vmlinux"
    r = kpanic_lab("vmlinux", env={"KPANIC_VMLINUX": str(missing)})
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("kpanic-lab: guest kernel image not found")
    assert str(missing) in r.stderr


def test_boot_missing_image_exits_1(tmp_path):
    r = kpanic_lab("boot", env={"KPANIC_VMLINUX": str(tmp_path / "no-such-vmlinux")})
    assert r.returncode == 1
    assert "not found" in r.stderr


needs_image = pytest.mark.skipif(not vmlinux_path().is_file(),
                                 reason=f"guest image not built ({vmlinux_path()}): run `make guest`")


@needs_image
def test_vmlinux_prints_an_existing_path():
    r = kpanic_lab("vmlinux")
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path.is_file()
    assert path.read_bytes()[:4] == b"\x7fELF"


@pytest.mark.slow                       # kpanic-lab boots the machine in a subprocess
@needs_image
def test_boot_reaches_the_prompt_and_prints_the_console():
    r = kpanic_lab("boot", "--cpus", "2", "--memory", "256M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "the console is empty"
    assert r.stderr == ""


def test_the_cli_and_its_option_tables_load_without_numpy():
    # the makedumpfile options come from kpanic_lab/formats/compression.py, not from the codecs;
    # a command pays for numpy (about 0.1 s a start) only when it reads or writes a dump
    code = ("import sys, kpanic_lab.cli, kpanic_lab.kdump.config, kpanic_lab.formats.compression; "
            "print(sorted(m for m in ('numpy', 'kpanic_lab.formats.codecs', 'kpanic_lab.formats.dump') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
