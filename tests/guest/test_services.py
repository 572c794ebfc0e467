"""The guest's services, seen from its shell: /proc, sysctls, modules, the oops, panic().

Each test starts from the shared booted machine (restored from its snapshot)
and compares what the guest prints with the shapes of Linux 6.1's output in
shared/reference/ (structure and formats; numbers and addresses differ).
"""
from __future__ import annotations

import re
from typing import List

from kpanic_lab.machine import Machine

STAMP = re.compile(r"^\[\s*\d+\.\d{6}\] ")


def kernel_lines(text: str) -> List[str]:
    """The printk lines of a console text, timestamps stripped."""
    return [STAMP.sub("", l) for l in text.split("\n") if STAMP.match(l)]


def type_and_run(m: Machine, line: str, max_seconds: float = 60.0) -> str:
    """Type a line that may end the world; return the console text it produced."""
    start = len(m.serial.output)
    m.send(line + "\n")
    m.last_result = m.run("prompt", max_seconds=max_seconds)
    return m.serial.output[start:].decode("utf-8", "replace")


def in_order(lines: List[str], patterns: List[str]) -> None:
    """Every pattern matches a line, each after the previous one."""
    i = 0
    for p in patterns:
        rx = re.compile(p)
        while i < len(lines) and not rx.search(lines[i]):
            i += 1
        assert i < len(lines), f"no line matching {p!r} after the previous ones in:\n" + "\n".join(lines)
        i += 1


def stages(m: Machine) -> List[int]:
    return [e.args[0] for e in m.events if e.kind == "stage"]


# ---- boot ------------------------------------------------------------------

def test_boot_log_has_linux_memory_lines(booted):
    lines = kernel_lines(booted(2).console_text)
    in_order(lines, [
        r"^Command line: console=ttyS0$",
        r"^BIOS-provided physical RAM map:$",
        r"^BIOS-e820: \[mem 0x[0-9a-f]{16}-0x[0-9a-f]{16}\] usable$",
        r"^Kernel command line: console=ttyS0$",
        r"^Memory: \d+K/\d+K available \(\d+K kernel code, \d+K rwdata, \d+K rodata, 0K init, "
        r"\d+K bss, \d+K reserved, 0K cma-reserved\)$",
        r"^printk: console \[ttyS0\] enabled$",
    ])


def test_proc_iomem_is_a_resource_tree(booted):
    out = booted(2).run_command("cat /proc/iomem").split("\n")
    assert out[0] == "00000000-00000fff : Reserved"
    assert re.fullmatch(r"00100000-[0-9a-f]{8} : System RAM", out[4])
    assert [l.split(" : ")[1] for l in out if l.startswith("  ")] == \
        ["Kernel code", "Kernel rodata", "Kernel data", "Kernel bss"]
    for l in out:
        assert re.fullmatch(r"( {2})*[0-9a-f]{8}-[0-9a-f]{8} : [A-Za-z ]+", l), l


def test_sysctls_read_and_write(booted):
    m = booted(2)
    assert m.run_command("sysctl kernel.panic") == "kernel.panic = 0"
    assert m.run_command("sysctl -w kernel.panic=5") == "kernel.panic = 5"
    assert m.run_command("cat /proc/sys/kernel/panic") == "5"
    assert m.run_command("cat /proc/sys/kernel/sysrq") == "438"
    assert m.run_command("cat /proc/sys/kernel/tainted") == "0"


def test_page_cache_holds_the_workload_files(booted):
    m = booted(2)
    assert m.run_command("ls /var/log") == "messages"
    meminfo = dict(re.findall(r"^(\w+):\s+(\d+)", m.run_command("cat /proc/meminfo"), re.M))
    # init writes 1 MiB to /tmp/data.bin and 1 MiB to /var/log/messages; nothing syncs them
    assert int(meminfo["Cached"]) >= 2048 and int(meminfo["Dirty"]) >= 2048
    assert int(meminfo["BufferHeads"]) >= 1024          # /var/log's pages have buffer heads


def test_unknown_command(booted):
    assert booted(2).run_command("foo") == "sh: foo: not found"


# ---- modules ----------------------------------------------------------------

def test_insmod_taints_and_lsmod_lists(booted):
    m = booted(2)
    out = kernel_lines(type_and_run(m, "insmod null_deref"))
    assert out[:2] == ["null_deref: loading out-of-tree module taints kernel.",
                       "null_deref: module verification failed: signature and/or required key missing - tainting kernel"]
    assert re.fullmatch(r"null_deref 4096 0 - Live 0x[0-9a-f]{16} \(OE\)", m.run_command("cat /proc/modules"))
    assert m.run_command("cat /proc/sys/kernel/tainted") == str((1 << 12) | (1 << 13))
    assert kernel_lines(m.run_command("rmmod null_deref")) == ["null_deref: unloaded"]
    assert m.run_command("lsmod") == "Module                  Size  Used by"


def test_warn_on_warns_and_goes_on(booted):
    m = booted(2)
    lines = kernel_lines(type_and_run(m, "insmod warn_on"))
    in_order(lines, [
        r"^------------\[ cut here \]------------$",
        r"^WARNING: CPU: \d PID: \d+ at kernel/modules/warn_on\.c:\d+ warn_on_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[warn_on\]$",
        r"^Modules linked in: warn_on\(OE\+\)$",
        r"^RIP: 0010:warn_on_init\+",
        r"^Call Trace:$",
        r"^---\[ end trace 0000000000000000 \]---$",
        r"^warn_on: loaded anyway",
    ])
    assert m.last_result.reason == "prompt"
    assert int(m.run_command("cat /proc/sys/kernel/tainted")) & (1 << 9)     # W


def test_bug_on_oopses_and_kills_insmod(booted):
    m = booted(2)
    text = type_and_run(m, "insmod bug_on")
    in_order(kernel_lines(text), [
        r"^kernel BUG at kernel/modules/bug_on\.c:\d+!$",
        r"^invalid opcode: 0000 \[#1\] PREEMPT SMP NOPTI$",
        r"^RIP: 0010:bug_on_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[bug_on\]$",
        r"^Modules linked in: bug_on\(OE\+\)$",
    ])
    assert "Segmentation fault" in text and m.last_result.reason == "prompt"


# ---- the oops ---------------------------------------------------------------

def test_null_deref_oops_kills_the_writer_only(booted):
    m = booted(2)
    m.run_command("insmod null_deref")
    text = type_and_run(m, "echo 1 > /proc/null_deref")
    lines = kernel_lines(text)
    in_order(lines, [
        r"^BUG: kernel NULL pointer dereference, address: 0000000000000008$",
        r"^#PF: supervisor write access in kernel mode$",
        r"^#PF: error_code\(0x0002\) - not-present page$",
        r"^PGD [0-9a-f]+ P4D [0-9a-f]+ PUD [0-9a-f]+ PMD 0 $",
        r"^Oops: 0002 \[#1\] PREEMPT SMP NOPTI$",
        r"^CPU: \d PID: \d+ Comm: sh Tainted: G           OE      6\.1\.0-kpanic #1$",
        r"^Hardware name: kpanic_lab x86-64 machine$",
        r"^RIP: 0010:null_deref_write\+0x[0-9a-f]+/0x[0-9a-f]+ \[null_deref\]$",
        r"^Code: ([0-9a-f]{2} ){42}<[0-9a-f]{2}>( [0-9a-f]{2}){21}$",
        r"^RSP: 0018:[0-9a-f]{16} EFLAGS: [0-9a-f]{8}$",
        r"^RAX: [0-9a-f]{16} RBX: [0-9a-f]{16} RCX: [0-9a-f]{16}$",
        r"^CR2: 0000000000000008 CR3: [0-9a-f]{16} CR4: [0-9a-f]{16}$",
        r"^Call Trace:$", r"^ <TASK>$",
        r"^ proc_reg_write\+", r"^ vfs_write\+", r"^ ksys_write\+", r"^ do_syscall_64\+",
        r"^ entry_SYSCALL_64_after_hwframe\+",
        r"^RIP: 0033:0x[0-9a-f]+$",
        r"^RSP: 002b:[0-9a-f]{16} EFLAGS: [0-9a-f]{8} ORIG_RAX: 0000000000000001$",
        r"^ </TASK>$",
        r"^Modules linked in: null_deref\(OE\)$",
        r"^CR2: 0000000000000008$",
        r"^---\[ end trace 0000000000000000 \]---$",
        r"^RIP: 0010:null_deref_write\+",
    ])
    assert "Killed" in text and m.last_result.reason == "prompt"
    assert m.run_command("cat /proc/sys/kernel/tainted") == "12416"       # D, O, E as the reference
    second = kernel_lines(type_and_run(m, "echo 1 > /proc/null_deref"))
    in_order(second, [r"^Oops: 0002 \[#2\]", r"Tainted: G      D    OE      "])


def test_oops_with_panic_on_oops_panics(booted):
    m = booted(2)
    m.run_command("insmod null_deref")
    m.run_command("sysctl -w kernel.panic_on_oops=1")
    lines = kernel_lines(type_and_run(m, "echo 1 > /proc/null_deref"))
    in_order(lines, [r"^Oops: 0002", r"^---\[ end trace", r"^Kernel panic - not syncing: Fatal exception$",
                     r"^Kernel Offset: disabled$",
                     r"^---\[ end Kernel panic - not syncing: Fatal exception \]---$"])
    after = lines[lines.index("Kernel panic - not syncing: Fatal exception"):]
    assert not any(l == "Call Trace:" for l in after)         # the oops printed the stack already
    assert m.last_result.reason == "panic-loop"


# ---- panic() ----------------------------------------------------------------

SYSRQ_TRACE = [r"^ dump_stack_lvl\+", r"^ panic\+", r"^ sysrq_handle_crash\+", r"^ __handle_sysrq\+",
               r"^ write_sysrq_trigger\+", r"^ proc_reg_write\+", r"^ vfs_write\+", r"^ ksys_write\+",
               r"^ do_syscall_64\+", r"^ entry_SYSCALL_64_after_hwframe\+"]


def test_sysrq_c_panics_like_linux_6_1(booted):
    m = booted(2)
    lines = kernel_lines(type_and_run(m, "echo c > /proc/sysrq-trigger"))
    in_order(lines, [r"^sysrq: Trigger a crash$",
                     r"^Kernel panic - not syncing: sysrq triggered crash$",
                     r"^CPU: \d PID: \d+ Comm: sh Not tainted 6\.1\.0-kpanic #1$",
                     r"^Call Trace:$", r"^ <TASK>$"] + SYSRQ_TRACE +
             [r"^RIP: 0033:", r"^ </TASK>$", r"^Kernel Offset: disabled$",
              r"^---\[ end Kernel panic - not syncing: sysrq triggered crash \]---$"])
    assert not any(l.startswith("Oops") or l.startswith("BUG:") for l in lines)
    assert lines[-1] == "---[ end Kernel panic - not syncing: sysrq triggered crash ]---"
    assert m.last_result.reason == "panic-loop"
    s = stages(m)
    from kpanic_lab.panic.stages import stage_name
    assert [stage_name(x) for x in s if x not in (12, 13)] == [
        "TRIGGER", "ENTRY", "IRQS_OFF", "CPU_CLAIMED", "MESSAGE", "STACK_DUMPED", "KGDB", "CRASH_KEXEC",
        "STOP_IPI", "CPUS_STOPPED", "NOTIFIERS_DONE", "SYS_INFO", "KMSG_DUMP", "CONSOLE_UNBLANK",
        "DEBUG_LOCKS_OFF", "CONSOLE_FLUSH", "SYS_INFO", "TIMEOUT", "LOOP"]
    # the notifiers are silent, as in 6.1: no pvpanic or ledtrig-panic line
    assert not any(l.startswith(("pvpanic", "ledtrig")) for l in lines)
    calls = [e.args for e in m.events if e.kind == "stage" and e.args[0] == 12]
    assert [m.symbolize(a[1]).split("+")[0] for a in calls] == \
        ["pvpanic_panic_notify", "dump_kernel_offset", "led_trigger_panic_notifier"]   # by priority


def test_panic_timeout_reboots(booted):
    m = booted(2)
    m.run_command("sysctl -w kernel.panic=5")
    lines = kernel_lines(type_and_run(m, "echo c > /proc/sysrq-trigger"))
    assert lines[-1] == "Rebooting in 5 seconds.."
    assert m.last_result.reason == "reset"
    assert m.clock_ns > 5e9


def test_my_panic_module_panics_from_init(booted):
    m = booted(2)
    lines = kernel_lines(type_and_run(m, "insmod my_panic"))
    in_order(lines, [r"^Loading my_panic module\.\.\.$",
                     r"^Critical data structure is NULL! This is an unrecoverable error\.$",
                     r"^Kernel panic - not syncing: My module detected a critical internal error: "
                     r"critical_data_structure is NULL$",
                     r"Tainted: G           OE ",
                     r"^ panic\+", r"^ my_panic_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[my_panic\]$",
                     r"^ do_one_initcall\+", r"^ do_init_module\+", r"^ load_module\+"])
    assert m.last_result.reason == "panic-loop"
