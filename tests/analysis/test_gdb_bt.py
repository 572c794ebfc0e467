"""bt of the panicking CPU against gdb's bt on the same vmcore and vmlinux, frame by frame.

gdb unwinds with the DWARF CFI of the C code; the entry code (entry.S) has none, so gdb's
trace stops making sense past the first entry frame.  Up to there, every frame must be
the same: the same PC (gdb's inlined frames share one) and the same function.  Dumps come
two ways: written from the panicked machine (all scenarios that panic) and written by the
guest's own capture kernel through kdump (its NT_PRSTATUS notes from crash_save_cpu)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from kpanic_lab.analysis import Program
from kpanic_lab.analysis.dumptarget import open_dump_target
from kpanic_lab.analysis.stack import backtrace
from kpanic_lab.analysis.tasks import panic_cpu, task_on_cpu
from kpanic_lab.guest import vmlinux_path
from tests.analysis.conftest import PANIC_SCENARIOS, console_kernel_lines

pytestmark = pytest.mark.slow          # every test here boots a machine


def gdb_thread(vmcore, rip: int, rsp: int) -> int:
    """gdb's thread number for the NT_PRSTATUS note with this RIP and RSP (gdb orders and
    names threads by the notes' pids, which need not be unique: idle tasks are all pid 0)."""
    out = subprocess.run(["gdb", "-nx", "-batch", "-ex", "thread apply all p/x $pc", "-ex",
                          "thread apply all p/x $sp", str(vmlinux_path()), str(vmcore)],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.findall(r"^Thread (\d+) .*\n\$\d+ = (0x[0-9a-f]+)$", out, re.M)
    half = len(found) // 2
    pcs, sps = found[:half], found[half:]
    ids = [int(n) for (n, pc), (_, sp) in zip(pcs, sps) if int(pc, 16) == rip and int(sp, 16) == rsp]
    if not ids:
        pytest.skip("gdb keeps one thread per pid, and this dump has two CPUs in pid 0 (idle): "
                    "it cannot show the panicking one")
    return ids[0]       # (gdb may list one note twice, as "process" and "LWP": the same registers)


def gdb_frames(vmcore, thread: int):
    """[(pc, function)] of gdb's bt for a thread, one per PC (inlined frames folded into the
    function they are inlined in), up to the first PC outside the kernel's text."""
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    out = subprocess.run(["gdb", "-nx", "-batch", "-ex", f"thread {thread}", "-ex", "echo @@BT@@\\n", "-ex", "bt",
                          "-ex", "frame apply all -q p/x $pc", str(vmlinux_path()), str(vmcore)],
                         capture_output=True, text=True, timeout=120).stdout
    out = out.split("@@BT@@\n", 1)[1]
    names = [m.group(1) for m in re.finditer(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", out, re.M)]
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M)]
    frames = []
    for pc, name in zip(pcs, names):
        if frames and frames[-1][0] == pc:
            frames[-1] = (pc, name)          # an inlined frame: the outer function names the PC
        else:
            frames.append((pc, name))
    return frames


def compare(prog, vmcore):
    cpu = panic_cpu(prog)
    bt = backtrace(prog, task_on_cpu(prog, cpu), cpu=cpu, crash_start=False)   # gdb's start: NT_PRSTATUS
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    regs = prog.target.cpu_registers(cpu)
    gdb = gdb_frames(vmcore, gdb_thread(vmcore, regs.rip, regs.rsp))
    lo, hi = prog.symbols.get("__entry_text_start").address, prog.symbols.get("__entry_text_end").address
    upto = next(i for i, (pc, _) in enumerate(gdb) if lo <= pc < hi or not prog.symbols.in_text(pc))
    gdb = gdb[:upto + 1]
    ours = [(f.pc, f.function) for f in bt.frames][:len(gdb)]
    assert [pc for pc, _ in ours] == [pc for pc, _ in gdb], f"\nours: {ours}\ngdb:  {gdb}"
    for (_, mine), (_, theirs) in zip(ours, gdb):
        # gdb names a function by its DWARF name (oops_end for oops_end.cold) or, for asm,
        # by the ELF function (entry_SYSCALL_64 for the label entry_SYSCALL_64_after_hwframe)
        assert mine.split(".")[0].startswith(theirs), (mine, theirs)
    assert len(gdb) >= 4
    return bt


@pytest.mark.parametrize("scenario", PANIC_SCENARIOS)
def test_bt_matches_gdb_on_a_vmcore_of_the_machine(live, scenario, tmp_path):
    from tests.support.livecore import write_vmcore_from_machine

    _, target = live(scenario)
    path = tmp_path / "vmcore"
    with open(path, "wb") as f:
        write_vmcore_from_machine(target.machine, f)
    t = open_dump_target(path)
    try:
        compare(Program(t), path)
    finally:
        t.close()


@pytest.mark.parametrize("scenario", ["sysrq-c", "oops-panic"])
def test_bt_matches_gdb_on_the_capture_kernels_vmcore(scenario, tmp_path):
    """A dump the guest's capture kernel wrote (makedumpfile -E -d 31: ELF, which gdb reads)."""
    from kpanic_lab.kdump.run import KdumpRun

    conf = "path /var/crash\ncore_collector makedumpfile -E -d 31\n"
    r = KdumpRun(scenario, crash_dir=tmp_path / "crash", kdump_conf=conf).run()
    assert r.outcome is not None and r.outcome.vmcore, r.end
    elf = r.outcome.vmcore
    t = open_dump_target(r.outcome.vmcore)
    try:
        bt = compare(Program(t), elf)
        # and the log in the dump is what the crashed kernel printed, up to the jump
        from kpanic_lab.analysis.printk import kernel_log, log_lines

        assert log_lines(kernel_log(Program(t))) == console_kernel_lines(r.first_console.splitlines())
        if scenario == "sysrq-c":
            # panic() -> __crash_kexec(NULL): the registers are saved there (crash_setup_regs)
            assert bt.functions[:3] == ["crash_setup_regs", "__crash_kexec", "panic"]
        else:
            # oops_end() -> crash_kexec(regs): the oops's own registers are saved, as Linux does
            assert bt.functions[0] == "null_deref_write"
    finally:
        t.close()
