"""Issue 10, items 3, 5, 6 and 8: every bad input to the command line is one line and exit 1 or 2,
found before any machine boots; the crash shell cannot be made to hang."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpanic_lab.guest import vmlinux_path

ROOT = Path(__file__).resolve().parents[2]


def kpanic_lab(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kpanic_lab", *args], capture_output=True, text=True,
                          cwd=ROOT, input=stdin, timeout=timeout)


def one_line(r: subprocess.CompletedProcess, status: int, *words: str) -> str:
    assert r.returncode == status, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kpanic-lab: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------- item 3 and 8: found before the run
@pytest.mark.parametrize("args, words", [
    (["--trace", "/nonexistent/x.json"], ["--trace", "no such directory"]),
    (["--trace", "/tmp"], ["--trace", "is a directory"]),
    (["--crash-dir", ""], ["--crash-dir", "empty"]),
    (["--cpus", "0"], ["--cpus='0'", "between 1 and 8"]),
    (["--memory", "２５６M"], ["--memory", "not a size"]),          # fullwidth digits are not ASCII
    (["--kdump", "--crashkernel", "garbage"], ["crashkernel=garbage", "memory value expected"]),
    (["--kdump", "--crashkernel", ""], ["--crashkernel=''"]),
    (["--cmdline", "console=ttyS0 crashkernel=garbage"], ["crashkernel=garbage"]),
    (["--kdump-conf", "/nonexistent/kdump.conf"], ["--kdump-conf", "No such file"]),
])
def test_run_refuses_bad_options_before_booting(args, words):
    t0 = time.monotonic()
    r = kpanic_lab("run", "sysrq-c", *args)
    one_line(r, 2, *words)
    assert r.stdout == "" and time.monotonic() - t0 < 20


@pytest.mark.parametrize("content, words", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(64), ["kdump.conf:1:", "NUL byte"]),
    (b"# caf\xe9\npath /var/crash\nfrobnicate 1\n", ["kdump.conf:3:", "Invalid kdump config option frobnicate"]),
    (b"path /var/caf\xe9\n", ["kdump.conf:1:", "0xe9", "not UTF-8"]),
    (b"path /var/cr\x00ash\n", ["kdump.conf:1:", "NUL byte"]),
])
def test_a_hostile_kdump_conf_is_one_line_with_the_same_status_as_a_missing_one(tmp_path, content, words):
    conf = tmp_path / "kdump.conf"
    conf.write_bytes(content)
    one_line(kpanic_lab("run", "sysrq-c", "--kdump-conf", str(conf)), 2, *words)


def test_a_latin1_comment_is_accepted_as_kdumpctl_accepts_it():
    from kpanic_lab.kdump.config import parse_kdump_conf

    assert parse_kdump_conf(b"# caf\xe9 au lait\nfinal_action halt # d\xe9j\xe0\n").final_action == "halt"


@pytest.fixture(scope="module")
def elf(dumps):
    return dumps.files["elf"]


def test_makedumpfile_into_a_missing_folder(elf):
    one_line(kpanic_lab("makedumpfile", "-d", "31", str(elf), "/nonexistent/dir/out"), 2, "/nonexistent/dir")


def test_makedumpfile_onto_a_folder_leaves_nothing(elf, tmp_path):
    d = tmp_path / "DIR"
    d.mkdir()
    one_line(kpanic_lab("makedumpfile", "-f", "-d", "31", str(elf), str(d)), 2, "is a directory")
    assert sorted(os.listdir(tmp_path)) == ["DIR"] and not os.listdir(d)


def test_makedumpfile_of_a_missing_vmcore(tmp_path):
    one_line(kpanic_lab("makedumpfile", "/nonexistent/vmcore", str(tmp_path / "out")), 2, "No such file")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("content", [b"sys\n\x7fELF\x00\x01\n", b"sys\n# caf\xe9\n"])
def test_crash_i_with_a_binary_or_latin1_file(dumps, tmp_path, content):
    script = tmp_path / "cmds"
    script.write_bytes(content)
    one_line(kpanic_lab("crash", str(dumps.files["vmlinux"]), str(dumps.files["kdump"]), "-i", str(script)), 2,
             f"-i {script}:2:")


def test_crash_i_dev_zero_is_bounded(dumps):
    one_line(kpanic_lab("crash", str(dumps.files["vmlinux"]), str(dumps.files["kdump"]), "-i", "/dev/zero"), 2,
             "-i /dev/zero", "MiB")


@pytest.mark.parametrize("size", [64, 300_000])
def test_crash_with_a_truncated_vmlinux(dumps, tmp_path, size):
    v = tmp_path / "vmlinux"
    v.write_bytes(vmlinux_path().read_bytes()[:size])
    one_line(kpanic_lab("crash", str(v), str(dumps.files["kdump"])), 1, str(v))


# --------------------------------------------------------------- item 5: not the dump's vmlinux
def test_purgatory_is_not_the_dumps_vmlinux(dumps):
    purgatory = vmlinux_path().parent / "purgatory"
    if not purgatory.is_file():
        pytest.skip("no purgatory image")
    one_line(kpanic_lab("crash", str(purgatory), str(dumps.files["kdump"]), "-i", "/dev/null"), 1,
             "not the kernel that wrote", "linux_banner")


# --------------------------------------------------------------- item 6: the shell cannot hang itself
def test_catastrophic_backtracking_is_linear(dumps):
    from kpanic_lab.crash.session import CrashSession

    s = CrashSession.open(dumps.files["kdump"], dumps.files["vmlinux"])
    t0 = time.monotonic()
    out = s.run("log | grep -c '(.*)*y'")
    assert time.monotonic() - t0 < 30 and out.isdigit()      # exponential backtracking would not end
    assert s.run("log | grep -c '(a'").startswith("grep: bad pattern '(a': missing )")


def test_ctrl_c_stops_the_command_and_returns_to_the_prompt(dumps, monkeypatch):
    import io

    from kpanic_lab.crash import repl
    from kpanic_lab.crash.session import CrashSession

    s = CrashSession.open(dumps.files["kdump"], dumps.files["vmlinux"])
    typed = iter(["log", "sys | grep -c RELEASE", "q"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    real = s.run

    def run(line: str) -> str:
        if line == "log":
            raise KeyboardInterrupt        # what Ctrl-C raises in the middle of a command
        return real(line)

    monkeypatch.setattr(s, "run", run)
    monkeypatch.setattr(repl, "HISTORY", Path(os.devnull))
    out = io.StringIO()
    assert repl.run_interactive(s, out) == 0
    text = out.getvalue()
    assert "(interrupted)\n1\n" in text and s.done


@pytest.mark.slow                       # kpanic-lab boots the machine in a subprocess
def test_a_crashkernel_that_parses_but_cannot_fit_fails_as_linux_does_once():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    r = kpanic_lab("run", "sysrq-c", "--kdump", "--crashkernel", "10G", timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stdout.count("crashkernel reservation failed - No suitable area found.") == 1
    assert r.stdout.count("Memory for crashkernel is not reserved") == 1
    assert r.stderr.splitlines()[-1] == ("--- no capture kernel ran (end: no-capture); "
                                         "kexec -p exited 1: Memory for crashkernel is not reserved")


def test_crash_stdin_with_a_binary_line_stops_there(dumps):
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "crash", str(dumps.files["vmlinux"]),
                        str(dumps.files["kdump"])], input=b"sys | grep -c RELEASE\n\xff\xfe\x00\n",
                       capture_output=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stderr.decode().splitlines() == [
        "kpanic-lab: stdin:2: holds a NUL byte: not a command file"]
    assert b"1\n" in r.stdout
