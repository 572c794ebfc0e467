"""kpanic-lab makedumpfile: the CLI contract of DESIGN.md, through cli.main in-process."""
from __future__ import annotations

import io
import sys

import pytest

from kpanic_lab.cli import main
from kpanic_lab.formats import open_dump


@pytest.fixture
def vmcore(tmp_path, synthetic):
    p = tmp_path / "vmcore.elf"
    p.write_bytes(synthetic.elf)
    return p


def test_compressed_dump_with_report(vmcore, tmp_path, capsys):
    out = tmp_path / "vmcore"
    assert main(["makedumpfile", "-z", "-d", "31", "--message-level", "31", str(vmcore), str(out)]) == 0
    o, e = capsys.readouterr()
    assert o.startswith("The kernel version is not supported.\n")      # 6.1 is newer than makedumpfile 1.7.2
    assert "Original pages  : 0x" in o and o.endswith(f"The dumpfile is saved to {out}.\n\nmakedumpfile Completed.\n")
    assert "Copying data                                      : [100.0 %]" in e
    d = open_dump(out)
    assert d.format == "kdump" and d.dump_level == 31
    assert not (tmp_path / "vmcore.incomplete").exists()


def test_default_message_level_hides_the_report(vmcore, tmp_path, capsys):
    assert main(["makedumpfile", "-d", "1", str(vmcore), str(tmp_path / "d")]) == 0
    o, e = capsys.readouterr()
    assert "Original pages" not in o and "makedumpfile Completed." in o and "[100.0 %]" in e


def test_flattened_to_stdout_and_rebuild(vmcore, tmp_path, capsysbinary, monkeypatch):
    assert main(["makedumpfile", "-F", "-c", "-d", "31", "--message-level", "0", str(vmcore), "-"]) == 0
    flat, _ = capsysbinary.readouterr()
    assert flat[:12] == b"makedumpfile"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(flat)))
    out = tmp_path / "rebuilt"
    assert main(["makedumpfile", "-R", str(out)]) == 0
    o, _ = capsysbinary.readouterr()
    assert o == f"\nThe dumpfile is saved to {out}.\n\nmakedumpfile Completed.\n".encode()
    assert open_dump(out).format == "kdump"


def test_elf_and_dmesg(vmcore, tmp_path, capsys):
    assert main(["makedumpfile", "-E", "-d", "31", str(vmcore), str(tmp_path / "e")]) == 0
    assert open_dump(tmp_path / "e").format == "elf"
    assert main(["makedumpfile", "--dump-dmesg", str(vmcore), str(tmp_path / "dmesg.txt")]) == 0
    assert (tmp_path / "dmesg.txt").read_text().splitlines()[-1] == \
        "[    0.003000] Kernel panic - not syncing: sysrq triggered crash"
    assert "The dmesg log is saved to" in capsys.readouterr().out


@pytest.mark.parametrize("args,code,msg", [
    (["-E", "-z"], 2, "-E cannot be used with"),
    (["--message-level", "99"], 2, "--message-level 99"),
    (["-d", "40"], 2, "out of range"),
])
def test_errors_are_one_line(vmcore, tmp_path, capsys, args, code, msg):
    assert main(["makedumpfile", *args, str(vmcore), str(tmp_path / "x")]) == code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("kpanic-lab: ") and msg in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.incomplete").exists()


def test_refuses_to_overwrite_and_bad_input(vmcore, tmp_path, capsys):
    (tmp_path / "x").write_bytes(b"keep")
    assert main(["makedumpfile", str(vmcore), str(tmp_path / "x")]) == 2
    assert "File exists" in capsys.readouterr().err
    (tmp_path / "empty").write_bytes(b"")
    assert main(["makedumpfile", str(tmp_path / "empty"), str(tmp_path / "y")]) == 1
    assert "zero-length" in capsys.readouterr().err
    assert main(["makedumpfile", str(vmcore), "-"]) == 2
    assert "needs -F" in capsys.readouterr().err
