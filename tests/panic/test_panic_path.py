"""panic() as Linux 6.1 runs it, observed stage by stage from the guest's execution."""
from __future__ import annotations

import re

from tests.panic.conftest import in_order

PANIC_ORDER = ["TRIGGER", "ENTRY", "IRQS_OFF", "CPU_CLAIMED", "MESSAGE", "STACK_DUMPED", "CRASH_KEXEC",
               "CPUS_STOPPED", "NOTIFIER_CALL", "NOTIFIERS_DONE", "KMSG_DUMP", "CONSOLE_FLUSH", "TIMEOUT",
               "LOOP", "END"]


def test_sysrq_c_stages_in_linux_order(run_scenario):
    t = run_scenario("sysrq-c").trace()
    assert in_order(t.keys(), PANIC_ORDER), t.keys()
    assert t.end == "hang"
    lines = t.console.splitlines()
    assert any(l.endswith("sysrq: Trigger a crash") for l in lines)
    assert any(l.endswith("Kernel panic - not syncing: sysrq triggered crash") for l in lines)
    assert lines[-1].endswith("---[ end Kernel panic - not syncing: sysrq triggered crash ]---")
    # SysRq-c in 6.1 is a plain panic(): no oops lines
    assert not any("Oops:" in l or "BUG:" in l for l in lines)


def test_interrupts_drop_at_irqs_off_and_come_back_only_in_the_final_loop(run_scenario):
    t = run_scenario("sysrq-c").trace()
    cpu = t.stages[[s.key for s in t.stages].index("ENTRY")].cpu
    flags = [(s.key, s.cpus[cpu].interrupts_enabled) for s in t.stages]
    i_off = [k for k, _ in flags].index("IRQS_OFF")
    i_loop = [k for k, _ in flags].index("LOOP")
    assert all(not f for _, f in flags[i_off:i_loop])
    assert flags[i_loop][1] is True
    assert all(s.cpus[cpu].preempt_count >= 1 for s in t.stages[i_off:])


def test_the_idle_cpu_is_stopped_by_the_reboot_ipi_before_the_notifiers(run_scenario):
    # x86 native_stop_other_cpus(): REBOOT_VECTOR first; an idle CPU (IF=1) takes it in hard-IRQ context
    t = run_scenario("sysrq-c").trace()
    cpu = t.stages[[s.key for s in t.stages].index("ENTRY")].cpu
    other = 1 - cpu
    stopped = [s for s in t.stages if s.key == "CPU_STOPPED"]
    assert len(stopped) == 1 and stopped[0].cpu == other
    assert in_order(t.keys(), ["STOP_IPI", "CPU_STOPPED", "CPUS_STOPPED", "NOTIFIER_CALL"])
    assert "STOP_NMI" not in t.keys() and "Shutting down cpus with NMI" not in t.console
    after = t.stages[[s.key for s in t.stages].index("CPUS_STOPPED")]
    assert after.cpus[other].doing == "stopped-ipi" and not after.cpus[other].interrupts_enabled
    assert after.cpus[other].symbol.startswith("stop_this_cpu")
    assert after.cpus[other].preempt_count & 0xF0000 == 0x10000          # HARDIRQ_OFFSET: sysvec_reboot
    assert "failed to stop secondary CPUs" not in t.console              # arm64's message, not x86's


def test_notifiers_are_called_by_priority(run_scenario):
    t = run_scenario("sysrq-c").trace()
    calls = t.notifier_calls()
    assert len(calls) >= 2
    assert [c.priority for c in calls] == sorted((c.priority for c in calls), reverse=True)
    assert all(c.ret is not None for c in calls)


def test_kdump_slot_comes_before_the_notifiers_by_default(run_scenario):
    keys = run_scenario("sysrq-c").trace().keys()
    assert keys.index("CRASH_KEXEC") < keys.index("NOTIFIER_CALL")


def test_crash_kexec_post_notifiers_moves_it_after_them(run_scenario):
    t = run_scenario("sysrq-c", cmdline="crash_kexec_post_notifiers").trace()
    keys = t.keys()
    assert keys.index("CRASH_KEXEC") > keys.index("NOTIFIERS_DONE")
    assert keys.index("CRASH_KEXEC") > keys.index("KMSG_DUMP")


def test_panic_timeout_positive_counts_down_then_restarts(run_scenario):
    s = run_scenario("sysrq-c", cmdline="panic=5")
    t = s.trace()
    assert t.end == "restart"
    assert t.console.splitlines()[-1].endswith("Rebooting in 5 seconds..")
    timeout = next(x for x in t.stages if x.key == "TIMEOUT")
    assert t.stages[-1].time_ns - timeout.time_ns >= 5_000_000_000
    assert "end Kernel panic" not in t.console


def test_panic_timeout_negative_restarts_at_once(run_scenario):
    t = run_scenario("sysrq-c", cmdline="panic=-1").trace()
    assert t.end == "restart"
    assert "Rebooting in" not in t.console and "end Kernel panic" not in t.console
    timeout = next(x for x in t.stages if x.key == "TIMEOUT")
    assert t.stages[-1].time_ns - timeout.time_ns < 100_000_000


def test_my_panic_module_message(run_scenario):
    t = run_scenario("my-panic").trace()
    assert t.end == "hang"
    assert re.search(r"Kernel panic - not syncing: .*critical_data_structure", t.console)
    assert re.search(r"CPU: \d PID: \d+ Comm: \S+ Tainted: [ GPOE]+ 6\.1\.0", t.console)
    assert re.search(r"my_panic_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[my_panic\]", t.console)
    # the stage says where panic() was called from as the console's trace does (a return address
    # at the end of a noreturn call, looked up at address - 1), module included
    entry = next(s for s in t.stages if s.key == "ENTRY")
    frame = re.search(r" (my_panic_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[my_panic\])\n", t.console).group(1)
    assert entry.caller == frame
    assert t.stages[-1].key == "END" and t.stages[-1].cpu == entry.cpu


def test_panic_on_cpu1_stops_the_busy_cpu0_with_the_ipi(run_scenario):
    t = run_scenario("panic-cpu1").trace()
    entry = next(s for s in t.stages if s.key == "ENTRY")
    assert entry.cpu == 1
    assert entry.cpus[0].doing == "running"                   # CPU 0 busy in its kernel thread
    assert entry.cpus[0].interrupts_enabled                   # ... with interrupts on: the IPI gets through
    stopped = next(s for s in t.stages if s.key == "CPU_STOPPED")
    assert stopped.cpu == 0 and stopped.cpus[0].doing == "stopped-ipi"
    assert "STOP_NMI" not in t.keys()
    assert "Kernel panic - not syncing: panic_on_cpu1: fatal error on CPU 1" in t.console
    assert t.end == "hang"
    end = t.stages[-1]
    assert end.key == "END" and end.cpu == 1 and end.symbol.split("+")[0] in ("panic", "udelay", "mdelay")


def test_two_cpus_panicking_at_once_one_wins_the_other_stops_silently(run_scenario):
    t = run_scenario("double-panic").trace()
    keys = t.keys()
    assert keys.count("ENTRY") == 2                             # both called panic()
    assert keys.count("CPU_CLAIMED") == 1 and keys.count("SELF_STOP") == 1
    winner = next(s for s in t.stages if s.key == "CPU_CLAIMED").cpu
    loser = next(s for s in t.stages if s.key == "SELF_STOP").cpu
    assert winner != loser
    assert sum("] Kernel panic - not syncing" in line for line in t.console.splitlines()) == 1
    after = t.stages[keys.index("SELF_STOP") + 1]
    assert not after.cpus[loser].interrupts_enabled
    assert t.end == "hang"
    # the loser spins with IF=0: the REBOOT_VECTOR IPI cannot reach it, the NMI fallback does, after 1 s
    assert in_order(keys, ["STOP_IPI", "STOP_NMI", "CPU_STOPPED", "CPUS_STOPPED"])
    ipi, nmi = (next(s for s in t.stages if s.key == k) for k in ("STOP_IPI", "STOP_NMI"))
    assert nmi.time_ns - ipi.time_ns >= 1_000_000_000
    assert sum(line.endswith("] Shutting down cpus with NMI") for line in t.console.splitlines()) == 1
    stopped = [s for s in t.stages if s.key == "CPU_STOPPED" and s.cpu == loser]
    assert [s.args[1] for s in stopped] == [1, 0]          # self-stop spin, then the stop NMI
    assert t.stages[-1].cpu == winner                       # the END row names the CPU in the final loop
