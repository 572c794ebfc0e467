"""Issue 10, items 2 and 4: a corrupted log cannot exhaust memory; a dump that is not whole says so."""
from __future__ import annotations

import time

import pytest

from kpanic_lab.guest import vmlinux_path
from tests.hostile.fuzzlib import Runner, apply

STATUS_OFFSET = 424     # disk_dump_header.status: after signature[8], header_version, utsname[390], timeval


# --------------------------------------------------------------- item 2: bounded by what the buffer holds
@pytest.mark.parametrize("fmt", ["elf", "kdump", "flat"])
def test_log_with_log_next_seq_near_2_64_stops_with_one_line(dumps, tmp_path, fmt):
    from kpanic_lab.crash.session import CrashSession

    recipe = {"fmt": fmt, "kind": "guest", "field": "log_next_seq", "value": (1 << 64) - 2}
    path = apply(recipe, dumps, tmp_path / f"case.{fmt}")
    t0 = time.monotonic()
    out = CrashSession.open(path, dumps.files["vmlinux"]).run("log").splitlines()
    assert time.monotonic() - t0 < 60                # a hang guard: 2**64 records would never end
    assert out[-1].startswith("log: ") and str((1 << 64) - 2) in out[-1], out[-1]
    assert any("sysrq: Trigger a crash" in line for line in out)     # what was there is still shown


def test_a_corrupted_log_runs_under_a_memory_limit(dumps, tmp_path):
    """The reproduction of the issue (2.8 GB in 8 s before) in a process limited to 1 GiB."""
    runner = Runner()
    try:
        for field, value in (("log_next_seq", (1 << 64) - 2), ("log_first_seq", 0), ("log_buf_len", 0xFFFFFFFF),
                             ("log_record0.len", 0)):
            path = apply({"fmt": "kdump", "kind": "guest", "field": field, "value": value}, dumps,
                         tmp_path / "case.kdump")
            res = runner.run(path, dumps.files["vmlinux"])
            assert res["status"] == "ok", (field, res)
    finally:
        runner.close()


def test_parse_log_buffer_stops_at_a_second_wrap():
    from kpanic_lab.formats.printk import parse_log_buffer

    recs = parse_log_buffer(bytes(64), 16, 32, 0, (1 << 64) - 1)   # a wrap marker everywhere
    assert recs == [] and "wraps twice" in recs.error


# --------------------------------------------------------------- item 4: truncated, incomplete
def test_a_truncated_dump_says_truncated_when_it_opens(dumps, tmp_path):
    from kpanic_lab.crash.session import CrashSession
    from kpanic_lab.formats import open_dump

    data = dumps.files["kdump"].read_bytes()
    cut = tmp_path / "t"
    cut.write_bytes(data[:len(data) // 2])                     # head -c N vmcore > t
    with open_dump(cut) as d:
        assert d.truncated and d.truncated.startswith(f"truncated: the file has {len(data) // 2} bytes")
    s = CrashSession.open(cut, dumps.files["vmlinux"])
    assert len(s.warnings) == 1 and "truncated" in s.warnings[0]
    bt = s.run("bt")
    assert bt.startswith("bt: cannot read") and "which is truncated" in bt and "\n" not in bt
    cut.write_bytes(data[:-1000])                              # only the last pages are missing
    s = CrashSession.open(cut, dumps.files["vmlinux"])
    dumpfile = next(line for line in s.run("sys").splitlines() if "DUMPFILE" in line)
    assert dumpfile.endswith("[PARTIAL DUMP]  [TRUNCATED]")
    with open_dump(dumps.files["kdump"]) as whole:
        assert whole.truncated is None and whole.warnings == []


def test_an_incomplete_dump_is_reported(dumps, tmp_path):
    from kpanic_lab.crash.session import CrashSession

    data = bytearray(dumps.files["kdump"].read_bytes())
    data[STATUS_OFFSET] |= 0x8                                 # DUMP_DH_COMPRESSED_INCOMPLETE
    p = tmp_path / "vmcore"
    p.write_bytes(data)
    s = CrashSession.open(p, dumps.files["vmlinux"])
    assert any("DUMP_DH_COMPRESSED_INCOMPLETE" in w for w in s.warnings)
    assert "[INCOMPLETE]" in s.run("sys")


def test_crash_prints_the_warning_on_stderr(dumps, tmp_path):
    import subprocess
    import sys

    data = dumps.files["kdump"].read_bytes()
    cut = tmp_path / "t"
    cut.write_bytes(data[:len(data) // 2])
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "crash", str(dumps.files["vmlinux"]), str(cut)],
                       input="sys\n", text=True, capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stderr.startswith(f"WARNING: {cut}: truncated: ")
    assert "which is truncated" in r.stdout


@pytest.mark.slow
def test_vmcore_dmesg_is_not_written_as_whole_when_the_disk_is_full(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.kdump.capture import Targets
    from kpanic_lab.kdump.run import KdumpRun

    r = KdumpRun("sysrq-c", targets=Targets(crash_dir=tmp_path, disk_limit=1000),
                 kdump_conf="core_collector makedumpfile -l -d 31\n").run()
    d = next((tmp_path / "var" / "crash").iterdir())
    assert (d / "vmcore-dmesg-incomplete.txt").stat().st_size == 1000
    assert not (d / "vmcore-dmesg.txt").exists() and not (d / "vmcore").exists()
    assert "kdump: saving vmcore-dmesg.txt failed: No space left on device" in r.capture_console
    assert "saving vmcore-dmesg.txt complete" not in r.capture_console


@pytest.mark.parametrize("fmt", ["elf", "flat"])
def test_a_truncated_elf_or_flattened_dump_is_refused_as_truncated(dumps, tmp_path, fmt):
    from kpanic_lab.errors import LabError
    from kpanic_lab.formats import open_dump

    data = dumps.files[fmt].read_bytes()
    cut = tmp_path / "t"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(LabError, match="truncated"):
        open_dump(cut)
