"""The crash> prompt and the vmcore explorer, over one real kdump-compressed vmcore."""
from __future__ import annotations

import io

import pytest

from kpanic_lab.formats.elfcore import build_vmcore_notes, direct_map_load, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.kdump.run import KdumpRun
from kpanic_lab.viz.shell import PROMPT, CrashShell, VmcoreExplorer, find_dumps


@pytest.fixture(scope="module")
def vmcore(tmp_path_factory):
    result = KdumpRun("sysrq-c", memory="128M", crash_dir=tmp_path_factory.mktemp("crash")).run()
    assert result.outcome.vmcore is not None
    return result.outcome.vmcore


@pytest.fixture(scope="module")
def shell(vmcore):
    sh = CrashShell(vmcore)
    assert sh.error == ""
    return sh


@pytest.fixture(scope="module")
def no_log_vmcore(tmp_path_factory):
    """An ELF vmcore with registers and 1 MiB of memory, but no VMCOREINFO: nothing says where the log is."""
    path = tmp_path_factory.mktemp("nolog") / "vmcore"
    notes = build_vmcore_notes([PrStatus(pid=1, regs={"rip": 0xFFFFFFFF81000000})], None)
    with open(path, "wb") as f:
        sink = StreamSink(f)
        write_elf_core(sink, notes, [direct_map_load(0x100000, 0x200000)], lambda ld: [bytes(ld.filesz)])
        sink.close()
    return path


@pytest.mark.slow
def test_bt_at_the_prompt(shell):
    text = shell.run("bt")
    assert text.startswith("PID: ") and " panic at " in text and shell.last_output == text
    out = shell.output.outputs[-1]["text"]
    assert out.startswith(PROMPT + "bt\n") and "sysrq_handle_crash" in out


@pytest.mark.slow
def test_enter_runs_the_line(shell):
    shell.input.value = "log | tail -3"
    assert shell.history[-1] == "log | tail -3" and shell.input.value == ""
    assert "Kernel panic - not syncing" in shell.run("log | grep panic")


@pytest.mark.slow
def test_errors_are_one_line(shell):
    text = shell.run("nonsense")
    assert text.startswith("crash: command not found") and "\n" not in text and shell.error == ""


@pytest.mark.slow
def test_q_closes(vmcore):
    sh = CrashShell(vmcore)
    sh.run("q")
    assert sh.closed and sh.input.disabled
    assert sh.run("bt") is None and "ended" in sh.error


@pytest.mark.slow
def test_explorer_fills_every_tab(vmcore):
    ex = VmcoreExplorer(vmcore.parent)
    assert ex.error == "" and ex.path == str(vmcore) and ex.format == "kdump"
    assert ex.nr_cpus == 2 and ex.vmcoreinfo_keys > 20 and ex.log_lines > 10 and ex.log_error == ""
    assert "sysrq triggered crash" in ex.log_view.value
    assert "panic" in ex.cpus.value or "crash" in ex.cpus.value            # rip symbolised
    assert ex.shell is not None and ex.shell.run("sys").strip().startswith("KERNEL:")
    assert find_dumps(vmcore.parent) == [vmcore]


def test_a_vmcore_without_a_log_says_so_in_place(no_log_vmcore):
    ex = VmcoreExplorer(no_log_vmcore)
    assert ex.format == "elf" and ex.nr_cpus == 1 and ex.vmcoreinfo_keys == 0
    assert ex.log_error and "kpanic-error" in ex.log_view.value and "no kernel log" in ex.log_view.value
    assert "no VMCOREINFO" in ex.info.value
    assert "Traceback" not in ex.log_view.value + ex.info.value + ex._error_box.value


def test_wrong_inputs(tmp_path):
    empty = tmp_path / "vmcore"
    empty.write_bytes(b"")
    ex = VmcoreExplorer(empty)
    assert "zero-length" in ex.error and "kpanic-error" in ex._error_box.value
    assert "not int" in CrashShell(42).error
    from kpanic_lab.panic import PanicSession
    assert "has not been triggered" in CrashShell(PanicSession("sysrq-c")).error
    ex = VmcoreExplorer(None)
    assert ex.error == "" and ex.comm is not None          # the widget itself opened (its comm)
    ex.open_dump("")
    assert "no dump chosen" in ex.error
