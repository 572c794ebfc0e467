"""Each scenario's console, from the trigger on, has the line skeleton of real Linux 6.1.

Where a real log exists (tests/panic/linux-6.1/, see its README) the lab's skeleton must equal
it; where none does, the expected lines are written here from the 6.1 source that prints them.
Timestamps, addresses, offsets, hardware names and the frames of each Call Trace are left out
(tests/panic/skeleton.py); every other line counts, so a line 6.1 does not print fails the test.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kpanic_lab.panic.report import console_since_trigger
from tests.panic.skeleton import skeleton

pytestmark = pytest.mark.slow          # every test here boots a machine

LINUX = Path(__file__).parent / "linux-6.1"


def real(name: str, until: str = "") -> list:
    text = (LINUX / name).read_text()
    if until:
        text = text[:text.index(until)]
    return skeleton(text)


def ours(run_scenario, name: str, **kw) -> list:
    return skeleton(console_since_trigger(run_scenario(name, **kw)))


@pytest.mark.parametrize("cmdline,log", [
    (None, "a_sysrq_c_panic0.console.log"),               # panic=0: the end marker, nothing after it
    ("panic=5", "b_sysrq_c_panic5.console.log"),          # 'Rebooting in 5 seconds..', no end marker
    ("panic=-1", "b_sysrq_c_panic-1.console.log"),        # restart at once: no extra line
])
def test_sysrq_c_as_real_6_1(run_scenario, cmdline, log):
    kw = {"cmdline": cmdline} if cmdline else {}
    assert ours(run_scenario, "sysrq-c", **kw) == real(log)


def test_oops_kills_the_task_as_real_6_1(run_scenario):
    # the real log then oopses a second time; the first oops is the scenario
    assert ours(run_scenario, "oops") == real("c_oops_panic_on_oops0.console.log", until="Killed\n")


def test_oops_with_oops_panic_as_real_6_1(run_scenario):
    assert ours(run_scenario, "oops-panic") == real("c_oops_panic_on_oops1.console.log")


def test_init_exit_as_real_6_1(run_scenario):
    assert ours(run_scenario, "init-exit") == real("c_init_exit_panic0.console.log")


def test_sysrq_c_with_a_capture_kernel_as_real_6_1():
    from kpanic_lab.guest import vmlinux_path
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.kdump.run import KdumpRun
    r = KdumpRun("sysrq-c").run()
    first = skeleton(r.first_console)
    first = first[next(i for i, t in enumerate(first) if t == "sysrq: Trigger a crash"):]
    # nothing between </TASK> and the capture kernel's banner: __crash_kexec runs first
    assert first == real("d_kdump.first-kernel.console.log")[:-1]


# ---------------------------------------------------------------------------- from the 6.1 source
# kernel/module/main.c: the taint lines of an unsigned out-of-tree module
def loading(mod: str) -> list:
    return [f"{mod}: loading out-of-tree module taints kernel.",
            f"{mod}: module verification failed: signature and/or required key missing - tainting kernel"]


# kernel/panic.c panic(): message, dump_stack (lib/dump_stack.c: CPU line, Call Trace in <TASK>),
# the notifiers (arch/x86/kernel/setup.c dump_kernel_offset), the end marker
def panic_lines(msg: str, stack: list) -> list:
    return [f"Kernel panic - not syncing: {msg}", "CPU line", "Call Trace:", "<TASK>", *stack, "</TASK>",
            "Kernel Offset:", f"---[ end Kernel panic - not syncing: {msg} ]---"]


# a syscall's trace: kernel frames, then the user registers at the syscall (show_regs, process_64.c)
FROM_USER = ["FRAMES", "RIP: 0033 (user)", "Code:", "REGS"]
# arch/x86/kernel/dumpstack.c __die_header/__die_body and process_64.c __show_regs for a kernel RIP
KERNEL_REGS = ["RIP: 0010 (kernel)", "Code:", "REGS"]


def test_my_panic_lines_from_source(run_scenario):
    msg = "My module detected a critical internal error: critical_data_structure is NULL"
    assert ours(run_scenario, "my-panic") == loading("my_panic") + [
        "Loading my_panic module...", "Critical data structure is NULL! This is an unrecoverable error.",
    ] + panic_lines(msg, FROM_USER)


def test_oops_in_irq_lines_from_source(run_scenario):
    # show_trace_log_lvl(): the IRQ stack in <IRQ>..</IRQ>, then the interrupted task's registers
    # (an exception frame on the task stack) inside <TASK>; oops_end(): "Fatal exception in interrupt"
    got = ours(run_scenario, "oops-in-irq")
    assert got == loading("timer_oops") + [got[2]] + [
        "BUG: kernel NULL pointer dereference", "#PF: supervisor access", "#PF: error_code", "PGD",
        "Oops: [#1]", "CPU line", *KERNEL_REGS, "Call Trace:", "<IRQ>", "FRAMES", "</IRQ>", "<TASK>",
        "FRAMES", *KERNEL_REGS, "FRAMES", "</TASK>", "Modules linked in:", "CR2:",
        "---[ end trace 0000000000000000 ]---", *KERNEL_REGS,
        "Kernel panic - not syncing: Fatal exception in interrupt", "Kernel Offset:",
        "---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---"]
    assert got[2].startswith("timer_oops: timer armed")


def test_bug_on_lines_from_source(run_scenario):
    # lib/bug.c report_bug(): cut here, "kernel BUG at"; traps.c do_error_trap -> die("invalid opcode")
    assert ours(run_scenario, "bug-on") == loading("bug_on") + [
        "bug_on: checking the queue (len 5, capacity 4)",
        "------------[ cut here ]------------", "kernel BUG at kernel/modules/bug_on.c:22!",
        "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", "CPU line", *KERNEL_REGS, "Call Trace:", "<TASK>",
        *FROM_USER, "</TASK>", "Modules linked in:", "---[ end trace 0000000000000000 ]---", *KERNEL_REGS]


WARN = ["------------[ cut here ]------------",
        "WARNING: CPU: 1 PID: 3 at kernel/modules/warn_on.c:18 warn_on_init+0x38/0x48 [warn_on]",
        # kernel/panic.c __warn(): print_modules() before show_regs()
        "Modules linked in:", "CPU line", *KERNEL_REGS, "Call Trace:", "<TASK>", *FROM_USER, "</TASK>"]


def test_warn_lines_from_source(run_scenario):
    assert ours(run_scenario, "warn") == loading("warn_on") + ["warn_on: refcount is -1", *WARN,
                                                                "---[ end trace 0000000000000000 ]---",
                                                                "warn_on: loaded anyway (refcount reset to 0)"]


def test_warn_panic_lines_from_source(run_scenario):
    # check_panic_on_warn() comes before the end marker; panic() dumps the stack again (no oops ran)
    msg = "kernel: panic_on_warn set ..."
    assert ours(run_scenario, "warn-panic") == loading("warn_on") + ["warn_on: refcount is -1", *WARN] + \
        panic_lines(msg, ["FRAMES", *KERNEL_REGS, *FROM_USER])


def test_panic_cpu1_lines_from_source(run_scenario):
    got = ours(run_scenario, "panic-cpu1")
    msg = got[2][len("Kernel panic - not syncing: "):]
    assert msg.startswith("panic_on_cpu1: fatal error on CPU 1")
    # the busy CPU takes the REBOOT_VECTOR IPI: no 'Shutting down cpus with NMI'
    assert got == loading("panic_on_cpu1") + panic_lines(msg, ["FRAMES"])


def test_double_panic_lines_from_source(run_scenario):
    # arch/x86/kernel/smp.c native_stop_other_cpus(): the loser spins with IF=0, so after the 1 s
    # REBOOT_VECTOR wait, 'Shutting down cpus with NMI' (before the notifiers print Kernel Offset)
    msg = "double_panic: CPU 1 panics too"
    expected = loading("double_panic") + panic_lines(msg, ["FRAMES"])
    expected.insert(expected.index("Kernel Offset:"), "Shutting down cpus with NMI")
    assert ours(run_scenario, "double-panic") == expected


def test_oops_limit_lines_from_source(run_scenario):
    # the third oops as in the real oops log (tainted D now), then kernel/exit.c make_task_dead():
    # panic("Oopsed too often ..."), with no second stack dump (TAINT_DIE is set)
    oops = real("c_oops_panic_on_oops0.console.log", until="Killed\n")
    oops = [("Oops: [#3]" if t == "Oops: [#1]" else t) for t in oops if t != "module's own line"]
    got = [t for t in ours(run_scenario, "oops-limit") if t != "module's own line"]
    msg = "Oopsed too often (kernel.oops_limit is 3)"
    assert got == oops + [f"Kernel panic - not syncing: {msg}", "Kernel Offset:",
                          f"---[ end Kernel panic - not syncing: {msg} ]---"]
