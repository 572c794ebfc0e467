"""The guest's panic() runs Linux 6.1's steps in 6.1's order.

The list below is written from panic() in kernel/panic.c of Linux 6.1 (v6.1, also 6.1.192), one
entry per statement that does something, in source order; the comments quote the statements.  The
guest reports one stage per step (panic_stages.h); the test compares the stages it observed with
this list, on the default path and with crash_kexec_post_notifiers, panic=5 and panic=-1.
"""
from __future__ import annotations

from typing import List

LINUX_6_1_PANIC = [
    ("ENTRY", "if (panic_on_warn) panic_on_warn = 0;"),
    ("IRQS_OFF", "local_irq_disable(); preempt_disable_notrace();"),
    ("CPU_CLAIMED", "old_cpu = atomic_cmpxchg(&panic_cpu, PANIC_CPU_INVALID, this_cpu); ... panic_smp_self_stop();"),
    ("MESSAGE", 'pr_emerg("Kernel panic - not syncing: %s\\n", buf);'),
    ("STACK_DUMPED", "if (!test_taint(TAINT_DIE) && oops_in_progress <= 1) dump_stack();"),
    ("KGDB", "kgdb_panic(buf);"),
    ("CRASH_KEXEC", "if (!_crash_kexec_post_notifiers) { __crash_kexec(NULL);"),
    ("CPUS_STOPPED", "smp_send_stop(); } else { crash_smp_send_stop(); }"),
    ("NOTIFIERS_DONE", "atomic_notifier_call_chain(&panic_notifier_list, 0, buf);"),
    ("SYS_INFO", "panic_print_sys_info(false);"),
    ("KMSG_DUMP", "kmsg_dump(KMSG_DUMP_PANIC);"),
    ("CRASH_KEXEC", "if (_crash_kexec_post_notifiers) __crash_kexec(NULL);"),
    ("CONSOLE_UNBLANK", "console_unblank();"),
    ("DEBUG_LOCKS_OFF", "debug_locks_off();"),
    ("CONSOLE_FLUSH", "console_flush_on_panic(CONSOLE_FLUSH_PENDING);"),
    ("SYS_INFO", "panic_print_sys_info(true);"),
    ("TIMEOUT", 'if (panic_timeout > 0) { pr_emerg("Rebooting in %d seconds..\\n", ...); mdelay ... }'),
    ("RESTART", "if (panic_timeout != 0) { ... reboot_mode = panic_reboot_mode; emergency_restart(); }"),
    ("LOOP", 'pr_emerg("---[ end Kernel panic ..."); suppress_printk = 1; local_irq_enable(); for (;;)'),
]
PANIC_KEYS = {k for k, _ in LINUX_6_1_PANIC}


def expected(post_notifiers: bool, timeout: int) -> List[str]:
    keys = [k for k, _ in LINUX_6_1_PANIC]
    first, second = [i for i, k in enumerate(keys) if k == "CRASH_KEXEC"]
    del keys[first if post_notifiers else second]
    if timeout == 0:
        keys.remove("RESTART")
    else:
        keys.remove("LOOP")
    return keys


def observed(trace) -> List[str]:
    keys = trace.keys()
    start = keys.index("ENTRY")
    return [k for k in keys[start:] if k in PANIC_KEYS]


def test_default_order(run_scenario):
    assert observed(run_scenario("sysrq-c").trace()) == expected(False, 0)


def test_post_notifiers_order(run_scenario):
    assert observed(run_scenario("sysrq-c", cmdline="crash_kexec_post_notifiers").trace()) == expected(True, 0)


def test_timeout_orders(run_scenario):
    assert observed(run_scenario("sysrq-c", cmdline="panic=5").trace()) == expected(False, 5)
    assert observed(run_scenario("sysrq-c", cmdline="panic=-1").trace()) == expected(False, -1)


def test_an_oops_panic_takes_the_same_steps(run_scenario):
    t = run_scenario("oops-panic").trace()
    assert observed(t) == expected(False, 0)
    assert next(s for s in t.stages if s.key == "STACK_DUMPED").args[0] == 0     # the oops printed it


def test_the_stop_step_is_x86s_two_step_stop(run_scenario):
    # arch/x86/kernel/smp.c native_stop_other_cpus(): REBOOT_VECTOR, then NMIs only if needed
    keys = run_scenario("sysrq-c").trace().keys()
    assert keys.index("CRASH_KEXEC") < keys.index("STOP_IPI") < keys.index("CPUS_STOPPED")
    post = run_scenario("sysrq-c", cmdline="crash_kexec_post_notifiers").trace().keys()
    assert "STOP_IPI" not in post and "STOP_NMI" not in post       # crash_smp_send_stop: NMIs at once


def test_panic_print_bits_are_honoured(run_scenario):
    t = run_scenario("sysrq-c", cmdline="panic_print=0x31")
    c = console_after_message(t.trace().console)
    assert "task:sh" in c                                            # 0x1 show_state()
    assert "Dumping ftrace buffer:" in c and "(ftrace buffer empty)" in c   # 0x10
    # 0x20: the whole log again after the flush: the boot banner reappears after the panic
    assert c.count("Linux version") == 1
    info = [s for s in t.trace().stages if s.key == "SYS_INFO"]
    assert [(s.args[0], s.args[1]) for s in info] == [(0x31, 0), (0x31, 1)]


def console_after_message(console: str) -> str:
    return console[console.index("Kernel panic - not syncing"):]


def test_reboot_panic_mode_is_the_mode_panic_restarts_with(run_scenario):
    t = run_scenario("sysrq-c", cmdline="panic=-1 reboot=panic_warm").trace()
    restart = next(s for s in t.stages if s.key == "RESTART")
    assert restart.args[1] == 1                                   # REBOOT_WARM
    assert "Unknown kernel command line" not in t.console
    assert next(s for s in run_scenario("sysrq-c", cmdline="panic=-1").trace().stages
                if s.key == "RESTART").args[1] == 0                # REBOOT_COLD


def test_panic_print_all_cpu_backtraces_finds_only_this_cpu(run_scenario):
    # 6.1 calls trigger_all_cpu_backtrace() in panic_print_sys_info(false), after smp_send_stop():
    # the other CPUs are offline by then, so only the panicking CPU's backtrace is printed
    t = run_scenario("sysrq-c", cmdline="panic_print=0x40").trace()
    c = console_after_message(t.console)
    cpu = next(s for s in t.stages if s.key == "ENTRY").cpu
    assert c.count("NMI backtrace for cpu") == 1 and f"NMI backtrace for cpu {cpu}\n" in c
    assert "Sending NMI from CPU" not in c
