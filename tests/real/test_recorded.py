"""The real side's fallback: the shipped recording, and what is said when tools are missing (no QEMU
runs here: the host check and the runs are replaced)."""
from __future__ import annotations

import subprocess

import pytest

from kpanic_lab.real import recorded
from kpanic_lab.real.host import RealHostError
from kpanic_lab.real.recorded import (ENV, RECORDED, RECORDED_SCENARIOS, SHELL_COMMANDS, RealSideError, load_real,
                                      mode, real_crash, real_shell, recorded_about, recorded_dir, recorded_side,
                                      recorded_transcript, split_transcript)
from kpanic_lab.real.run import RealRun, RealRunError

MISSING = ("the real run needs Debian packages that are not installed: qemu-system-x86 (no qemu-system-x86_64); "
           "install them with: apt-get install -y --no-install-recommends qemu-system-x86")


@pytest.fixture
def no_qemu(monkeypatch):
    def find_host():
        raise RealHostError(MISSING)
    monkeypatch.setattr(recorded, "find_host", find_host)
    monkeypatch.delenv(ENV, raising=False)


def _no_run(*a, **k):
    raise AssertionError("QEMU must not run here")


def test_the_recording_is_shipped_and_says_how_it_was_made():
    for name in ("README.md", "console.first.log", "console.capture.log", "crash8.txt"):
        assert (RECORDED / name).is_file(), name
    about = recorded_about()
    assert "tools/record_real.py" in about and "run_real(" in about and "| crash |" in about
    side = recorded_side()
    assert side.recorded and side.vmcore is None and side.release.startswith("6.1.")
    assert "sysrq: Trigger a crash" in side.first_console and "Kdump: loaded" in side.first_console
    assert "elfcorehdr=" in side.capture_console and "makedumpfile Completed." in side.capture_console


def test_mode_from_argument_then_environment(monkeypatch):
    monkeypatch.setenv(ENV, "recorded")
    assert mode() == "recorded" and mode("run") == "run"
    monkeypatch.setenv(ENV, "nonsense")
    assert mode() == "auto"


def test_missing_tools_fall_back_naming_the_apt_line(no_qemu, monkeypatch):
    monkeypatch.setattr(recorded, "run_real", _no_run)
    side = load_real()
    assert side.source == "recorded" and "apt-get install" in side.note and "qemu-system-x86" in side.note
    assert "sysrq: Trigger a crash" in side.first_console


def test_run_mode_with_missing_tools_is_an_error(no_qemu):
    with pytest.raises(RealSideError, match="qemu-system-x86"):
        load_real(use="run")


def test_the_environment_forces_the_recording(monkeypatch):
    monkeypatch.setattr(recorded, "find_host", _no_run)
    monkeypatch.setattr(recorded, "run_real", _no_run)
    monkeypatch.setenv(ENV, "recorded")
    side = load_real()
    assert side.recorded and ENV in side.note


def test_a_failed_run_falls_back_and_says_why(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded, "find_host", lambda: None)

    def fails(*a, **k):
        raise RealRunError("QEMU did not finish within 1 s")
    monkeypatch.setattr(recorded, "run_real", fails)
    side = load_real(str(tmp_path), timeout=1)
    assert side.recorded and "QEMU did not finish within 1 s" in side.note
    with pytest.raises(RealRunError):
        load_real(str(tmp_path), use="run", timeout=1)


def test_split_transcript():
    text = "x\ncrash> sys\n a\n\ncrash> log | tail -2\nb\nc\n"
    assert split_transcript(text) == {"sys": " a", "log | tail -2": "b\nc"}
    assert split_transcript("no prompt at all") == {}


def test_recorded_crash_transcript_has_every_command():
    t = recorded_transcript("crash8.txt")
    assert t.source == "recorded" and t.tool.startswith("crash 8")
    assert t.commands == list(SHELL_COMMANDS)
    assert "PANIC:" in t.outputs["sys"] and "sysrq triggered crash" in t.outputs["sys"]
    assert "sysrq_handle_crash" in t.outputs["bt"] and "COMMAND:" in t.outputs["bt"]
    assert "PID" in t.outputs["ps"] and "</TASK>" in t.outputs["log | tail -25"]
    assert t.text().startswith("crash> sys\n")


def test_real_shell_without_debug_symbols_names_the_package(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded, "debug_vmlinux", lambda release: None)
    t = real_shell("/nonexistent/vmcore", "6.1.0-57-amd64")
    assert t.source == "recorded" and "linux-image-amd64-dbg" in t.note and "apt-get install" in t.note


def test_real_shell_on_the_recorded_run_shows_recorded_outputs():
    t = real_shell(None, "6.1.0-57-amd64")
    assert t.source == "recorded" and "sys" in t.outputs


def test_real_shell_falls_back_when_the_lab_shell_fails_or_hangs(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded, "debug_vmlinux", lambda release: "/usr/lib/debug/boot/vmlinux-x")

    def fails(*a, **k):
        raise recorded.LabError("the kernel was moved by KASLR")
    monkeypatch.setattr(recorded, "lab_shell_transcript", fails)
    assert "moved by KASLR" in real_shell("vmcore", "x").note

    def hangs(*a, **k):
        raise subprocess.TimeoutExpired("kpanic-lab", 5)
    monkeypatch.setattr(recorded, "lab_shell_transcript", hangs)
    t = real_shell("vmcore", "x", timeout=5)
    assert t.source == "recorded" and "5 s" in t.note


def test_real_crash_without_crash_names_it(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded.shutil, "which", lambda name: None)
    monkeypatch.setattr(recorded, "debug_vmlinux", lambda release: "/usr/lib/debug/boot/vmlinux-x")
    t = real_crash("vmcore", "x")
    assert t.source == "recorded" and "install with: apt-get install -y --no-install-recommends crash" in t.note


def test_a_run_here_returns_its_consoles_and_dump(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded, "find_host", lambda: None)
    first = "[    0.000000] Linux version 6.1.0-99-amd64 (x)\n[    7.8] sysrq: Trigger a crash\n"
    seen = {}

    def fake_run(trigger, **kw):
        seen.update(kw, trigger=trigger)
        return RealRun(crash_dir=kw["crash_dir"], trigger=trigger, kdump=True, first_console=first,
                                capture_console="[    0.000000] Linux version 6.1.0-99-amd64 (x)\n",
                                vmcore=str(tmp_path / "vmcore"), qemu_seconds=18.2, total_seconds=21.0)
    monkeypatch.setattr(recorded, "run_real", fake_run)
    side = load_real(str(tmp_path), timeout=7)
    assert seen["trigger"] == "sysrq-c" and seen["kdump"] and seen["timeout"] == 7
    assert side.source == "run" and not side.recorded and side.release == "6.1.0-99-amd64"
    assert side.vmcore == str(tmp_path / "vmcore") and "QEMU 18 s" in side.note


# ----------------------------------------------------------------------------- per scenario
OOPS = "oops-panic"


def test_each_scenario_has_its_recording_and_readme():
    assert recorded_dir() == RECORDED and recorded_dir(OOPS) == RECORDED / OOPS
    for scenario in RECORDED_SCENARIOS:
        for name in ("README.md", "console.first.log", "console.capture.log", "crash8.txt", "labshell.txt"):
            assert (recorded_dir(scenario) / name).is_file(), (scenario, name)
        about = recorded_about(scenario)
        assert f'run_real("{scenario}"' in about and "| crash |" in about
    assert f"`{OOPS}/`" in recorded_about()          # the first README points to the others
    assert "oops=panic" in recorded_about(OOPS) and "null_deref.ko" in recorded_about(OOPS)


def test_the_oops_recording_is_the_oops():
    side = recorded_side(scenario=OOPS)
    assert side.recorded and side.vmcore is None and side.release.startswith("6.1.")
    first = side.first_console
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000008" in first
    assert "Oops: 0002 [#1] PREEMPT SMP NOPTI" in first and "null_deref_write+" in first
    assert "Kdump: loaded" in first and "sysrq" not in first
    assert "Kernel panic - not syncing" not in first      # oops_end() went to crash_kexec() first
    assert "makedumpfile Completed." in side.capture_console


def test_load_real_falls_back_to_the_scenarios_recording(no_qemu, monkeypatch):
    monkeypatch.setattr(recorded, "run_real", _no_run)
    side = load_real(scenario=OOPS)
    assert side.source == "recorded" and "apt-get install" in side.note
    assert "Oops: 0002" in side.first_console
    monkeypatch.setenv(ENV, "recorded")
    assert "Oops: 0002" in load_real(scenario=OOPS).first_console


def test_load_real_runs_the_scenario(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(recorded, "find_host", lambda: None)
    seen = {}

    def fake_run(trigger, **kw):
        seen["trigger"] = trigger
        raise RealRunError("stop here")
    monkeypatch.setattr(recorded, "run_real", fake_run)
    side = load_real(str(tmp_path), scenario=OOPS)
    assert seen["trigger"] == OOPS and side.recorded and "Oops: 0002" in side.first_console


def test_load_real_refuses_a_scenario_without_a_dump():
    with pytest.raises(RealSideError, match="oops-panic"):
        load_real(scenario="oops", use="recorded")


def test_the_shells_fall_back_to_the_scenarios_transcripts(monkeypatch):
    monkeypatch.setenv(ENV, "recorded")
    for shell in (real_shell, real_crash):
        t = shell(None, "6.1.0-57-amd64", scenario=OOPS)
        assert t.source == "recorded" and "null_deref_write+" in t.outputs["bt"], shell.__name__
        assert "exception RIP: null_deref_write+" in t.outputs["bt"]
        assert 'PANIC: "Oops: 0002 [#1] PREEMPT SMP NOPTI"' in t.outputs["sys"]
    # the default is still SysRq-c's
    assert "sysrq_handle_crash" in real_crash(None, "6.1.0-57-amd64").outputs["bt"]


def test_the_lab_shell_checks_its_dump_with_sys_even_when_asked_only_for_bt(monkeypatch):
    # regression: asked for ["bt"] alone, the check for sys's RELEASE: failed on a dump it could read
    seen = {}

    def shell(name, argv, commands, timeout, stdin):
        seen["commands"] = list(commands)
        return "crash> sys\n     RELEASE: 6.1.0-57-amd64\ncrash> bt\nPID: 112  COMMAND: \"sh\"\n"
    monkeypatch.setattr(recorded, "_run_shell", shell)
    t = recorded.lab_shell_transcript("vmcore", "vmlinux", ["bt"])
    assert seen["commands"] == ["sys", "bt"]
    assert t.source == "run" and t.commands == ["bt"] and list(t.outputs) == ["bt"] and "PID: 112" in t.text()
