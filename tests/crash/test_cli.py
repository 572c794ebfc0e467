"""kpanic-lab crash: vmcore and vmlinux in either order, -i FILE, stdin, --live, errors."""
from __future__ import annotations

import io

import pytest

from kpanic_lab import cli
from kpanic_lab.guest import vmlinux_path

pytestmark = pytest.mark.slow          # every test here boots a machine


@pytest.fixture(scope="module")
def vmcore(tmp_path_factory):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.analysis import live_target
    from kpanic_lab.formats import open_dump
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.kdump.makedumpfile import makedumpfile

    t = live_target("sysrq-c")
    d = tmp_path_factory.mktemp("crashcli")
    with open(d / "vmcore.elf", "wb") as f:
        write_vmcore_from_machine(t.machine, f)
    with open_dump(d / "vmcore.elf") as src, open(d / "vmcore", "wb") as f:
        makedumpfile(src, f, dump_level=31, compression="zstd")
    return d / "vmcore"


def _run(argv, stdin="", monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(argv)


def test_batch_from_stdin_either_order(vmcore, capsys, monkeypatch):
    for argv in (["crash", str(vmlinux_path()), str(vmcore)], ["crash", str(vmcore), str(vmlinux_path())],
                 ["crash", str(vmcore)]):
        assert _run(argv, "bt\nps | grep -c sh\n", monkeypatch) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("PID: 3 ") and " panic at " in out[2] and out[-1] == "2"


def test_batch_from_a_file_stops_at_q(vmcore, tmp_path, capsys):
    script = tmp_path / "cmds"
    script.write_text("sys | grep PANIC\nq\nbt\n")
    assert cli.main(["crash", str(vmcore), "-i", str(script), "--echo"]) == 0
    out = capsys.readouterr().out
    assert out == ('crash> sys | grep PANIC\n       PANIC: "Kernel panic - not syncing: sysrq triggered crash"\n'
                   "crash> q\n")


def test_a_script_echoes_each_command_by_default_as_crash_i_does(vmcore, tmp_path, capsys, monkeypatch):
    script = tmp_path / "cmds"
    script.write_text("sys | grep PANIC\nlog | grep -c 'Kernel panic'\n")
    assert cli.main(["crash", str(vmcore), "-i", str(script)]) == 0
    assert capsys.readouterr().out == ('crash> sys | grep PANIC\n'
                                       '       PANIC: "Kernel panic - not syncing: sysrq triggered crash"\n'
                                       "crash> log | grep -c 'Kernel panic'\n2\n")
    assert cli.main(["crash", str(vmcore), "-i", str(script), "--no-echo"]) == 0
    assert capsys.readouterr().out == '       PANIC: "Kernel panic - not syncing: sysrq triggered crash"\n2\n'
    # stdin stays as it was: outputs only, unless --echo
    assert _run(["crash", str(vmcore)], "sys | grep -c PANIC\n", monkeypatch) == 0
    assert capsys.readouterr().out == "1\n"
    assert _run(["crash", str(vmcore), "--echo"], "sys | grep -c PANIC\n", monkeypatch) == 0
    assert capsys.readouterr().out == "crash> sys | grep -c PANIC\n1\n"


def test_live_scenario(capsys, monkeypatch):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    assert _run(["crash", "--live", "sysrq-c"], "log | grep -c 'Kernel panic'\n", monkeypatch) == 0
    assert capsys.readouterr().out == "2\n"     # the panic line and the end marker


def test_errors_are_one_line(vmcore, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for argv, code, msg in (
        (["crash"], 2, "give a VMCORE"),
        (["crash", str(tmp_path / "missing")], 2, "No such file"),
        (["crash", str(vmlinux_path())], 2, "no dump among"),
        (["crash", str(empty)], 1, "zero-length file"),
        (["crash", str(vmcore), str(vmcore)], 2, "two dumps given"),
        (["crash", str(vmcore), "-i", str(tmp_path / "nofile")], 2, "-i"),
        (["crash", "--live", "nosuch"], 1, "unknown scenario"),
    ):
        assert cli.main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err, (argv, err)


def test_a_mismatched_vmlinux_is_refused(vmcore, tmp_path, capsys):
    import shutil
    import subprocess

    other = tmp_path / "vmlinux.other"
    shutil.copy(vmlinux_path(), other)
    # a different build-id: rewrite the note's bytes (the kernel's code is unchanged)
    data = bytearray(other.read_bytes())
    from kpanic_lab.guest.image import KernelImage

    bid = bytes.fromhex(KernelImage.open().build_id)
    i = data.index(bid)
    data[i:i + len(bid)] = bytes(b ^ 0xFF for b in bid)
    other.write_bytes(bytes(data))
    assert cli.main(["crash", str(other), str(vmcore)]) == 1
    err = capsys.readouterr().err
    assert "do not match" in err and "build-id" in err
    del subprocess
