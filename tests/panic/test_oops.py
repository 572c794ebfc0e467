"""Oops versus panic: the same fault kills a task, or the machine, depending on context and sysctls."""
from __future__ import annotations

import re

from tests.panic.conftest import in_order


def test_null_write_oopses_and_only_the_task_dies(run_scenario):
    s = run_scenario("oops")
    t = s.trace()
    assert t.end == "task-killed"
    assert in_order(t.keys(), ["EXCEPTION", "TRIGGER", "OOPS", "OOPS_END", "TASK_EXIT", "END"])
    assert "ENTRY" not in t.keys()                          # no panic()
    exc = t.stages[0]
    assert exc.args[0] == 14 and exc.args[1] == 0x2 and exc.args[2] == 0x8   # #PF, write, not present, at 0x8
    # the EXCEPTION row shows the faulting CPU as it was when it faulted (IF=1, at the write), then the
    # handler reports the trigger after turning interrupts back on, then die() turns them off
    c = exc.cpus[exc.cpu]
    assert c.interrupts_enabled and c.symbol.startswith("null_deref_write+") and c.rip == exc.rip
    trig = t.stages[1]
    assert trig.key == "TRIGGER" and trig.cpus[trig.cpu].interrupts_enabled
    assert not next(s for s in t.stages if s.key == "OOPS").cpus[exc.cpu].interrupts_enabled
    c = t.console
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000008" in c
    assert "#PF: supervisor write access in kernel mode" in c
    assert "#PF: error_code(0x0002) - not-present page" in c
    assert re.search(r"Oops: 0002 \[#1\] PREEMPT SMP NOPTI", c)
    assert re.search(r"RIP: 0010:null_deref_write\+0x[0-9a-f]+/0x[0-9a-f]+ \[null_deref\]", c)
    assert "---[ end trace 0000000000000000 ]---" in c
    # the system lives on: the shell answers, and the kernel is tainted D
    m = s.machine
    assert m.run_command("echo alive").strip() == "alive"
    assert int(m.run_command("cat /proc/sys/kernel/tainted").strip()) & (1 << 7)


def test_null_write_with_panic_on_oops_is_a_fatal_exception(run_scenario):
    t = run_scenario("oops-panic").trace()
    assert t.end == "hang"
    assert in_order(t.keys(), ["OOPS", "OOPS_END", "ENTRY", "STACK_DUMPED", "END"])
    dumped = next(s for s in t.stages if s.key == "STACK_DUMPED")
    assert dumped.args[0] == 0          # the oops already printed the stack
    assert "Kernel panic - not syncing: Fatal exception" in t.console


def test_oops_in_interrupt_always_panics(run_scenario):
    t = run_scenario("oops-in-irq").trace()
    assert t.end == "hang"
    assert "Kernel panic - not syncing: Fatal exception in interrupt" in t.console
    assert " <IRQ>" in t.console


def test_timers_run_from_the_timer_softirq_on_the_way_out_of_the_interrupt(run_scenario):
    # 6.1: the tick raises TIMER_SOFTIRQ; __irq_exit_rcu -> __do_softirq -> run_timer_softirq runs it,
    # interrupts on, preempt count SOFTIRQ_OFFSET (in_interrupt() true, in hard-IRQ context no more)
    t = run_scenario("oops-in-irq").trace()
    lines = t.console.splitlines()
    irq = lines.index(next(l for l in lines if l.endswith(" <IRQ>")))
    end = lines.index(next(l for l in lines[irq:] if l.endswith(" </IRQ>")))
    frames = [re.sub(r"^.*\] +(\? )?", "", l).split("+")[0] for l in lines[irq + 1:end]]
    assert frames[-5:] == ["__run_timers", "run_timer_softirq", "__do_softirq", "__irq_exit_rcu",
                           "sysvec_apic_timer_interrupt"]
    assert "run_local_timers" not in frames and "timer_interrupt" not in frames
    oops = next(s for s in t.stages if s.key == "TRIGGER")
    pc = oops.cpus[oops.cpu].preempt_count
    assert pc & 0xFF00 == 0x100 and pc & 0xF0000 == 0          # softirq, not hardirq
    assert oops.cpus[oops.cpu].interrupts_enabled              # the softirq ran with IF=1


def test_warn_is_handled_by_handle_bug_in_exc_invalid_op(run_scenario):
    t = run_scenario("warn-panic").trace()
    panic_at = t.console.index("Kernel panic - not syncing")
    frames = re.findall(r"\] +(?:\? )?(\w+)\+0x", t.console[panic_at:])
    assert frames[frames.index("report_bug"):][:4] == ["report_bug", "handle_bug", "exc_invalid_op",
                                                        "asm_exc_invalid_op"]
    assert "do_invalid_op" not in t.console


def test_bug_on_is_an_invalid_opcode(run_scenario):
    t = run_scenario("bug-on").trace()
    assert t.stages[0].key == "EXCEPTION" and t.stages[0].args[0] == 6
    assert re.search(r"kernel BUG at \S+:\d+!", t.console)
    assert re.search(r"invalid opcode: 0000 \[#1\] PREEMPT SMP NOPTI", t.console)
    assert t.end == "task-killed"


def test_warn_goes_on_and_panic_on_warn_does_not(run_scenario):
    warn = run_scenario("warn").trace()
    assert warn.end == "continued" and "ENTRY" not in warn.keys()
    assert re.search(r"WARNING: CPU: \d PID: \d+ at \S+:\d+ ", warn.console)
    panics = run_scenario("warn-panic").trace()
    assert panics.end == "hang"
    assert "panic_on_warn set" in panics.console


def test_init_exiting_panics(run_scenario):
    t = run_scenario("init-exit").trace()
    assert "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100" in t.console
    assert t.end == "hang"


def test_repeated_oopses_reach_oops_limit(run_scenario):
    # 6.1.y make_task_dead(): the kernel.oops_limit-th oops panics
    t = run_scenario("oops-limit").trace()
    assert in_order(t.keys(), ["OOPS", "OOPS_END", "ENTRY", "STACK_DUMPED", "LOOP", "END"])
    assert next(s for s in t.stages if s.key == "OOPS").args[0] == 3              # die counter #3
    assert "ENTRY" in t.keys() and "TASK_EXIT" not in t.keys()
    assert "Kernel panic - not syncing: Oopsed too often (kernel.oops_limit is 3)" in t.console
    assert t.console.count("Kernel panic") == 2 and "Oops: 0002 [#2]" in t.console


def test_warn_limit_turns_the_nth_warning_into_a_panic(run_scenario):
    t = run_scenario("warn", cmdline="sysctl.kernel.warn_limit=1").trace()
    assert t.end == "hang"
    assert "Kernel panic - not syncing: kernel: system warned too often (kernel.warn_limit is 1)" in t.console
    # the default: no limit, the warning is just a warning
    assert run_scenario("warn").trace().end == "continued"
