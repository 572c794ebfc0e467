"""Two consoles aligned: line keys, the alignment, the stage lines (pure: literals and the shipped
recording, no QEMU)."""
from __future__ import annotations

from kpanic_lab.real.compare import Row, align, align_consoles, from_line, line_key, match_count, stage_lines
from kpanic_lab.real.recorded import RECORDED

LAB = """\
[    0.000050] Linux version 6.1.0-kpanic (kpanic@kpanic_lab) #1 SMP PREEMPT_DYNAMIC kpanic_lab
[    0.002750] Run /init as init process
# kexec -p
# echo c > /proc/sysrq-trigger
[    0.020000] sysrq: Trigger a crash
[    0.020200] Kernel panic - not syncing: sysrq triggered crash
[    0.020250] CPU: 1 PID: 4 Comm: sh Kdump: loaded Not tainted 6.1.0-kpanic #1
[    0.020250] Hardware name: kpanic_lab x86-64 machine
[    0.020250] Call Trace:
[    0.020250]  <TASK>
[    0.020250]  dump_stack_lvl+0x1d/0x30
[    0.020250]  panic+0x17d/0x427
[    0.020250]  sysrq_handle_crash+0x2d/0x30
[    0.020250]  __handle_sysrq+0xaf/0xc0
[    0.020300]  </TASK>
"""


def test_line_key_drops_timestamps_numbers_and_offsets():
    assert line_key("[    7.821739] sysrq: Trigger a crash") == "sysrq: Trigger a crash"
    assert line_key("[ 0.1] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable") == \
        line_key("[ 9.9] BIOS-e820: [mem 0x0000000000100000-0x0000000017fdcfff] usable")
    assert line_key("[ 7.82]  __handle_sysrq.cold+0x44/0x11c") == line_key("[ 0.02]  __handle_sysrq+0xaf/0xc0")
    assert line_key("  vfs_write+0xc7/0x3f0 [ext4]") == "frame: vfs_write"


def test_unreliable_frames_never_match_a_frame():
    assert line_key("[ 7.8]  ? _printk+0x68/0x83") == "unreliable frame: _printk"
    assert line_key("[ 7.8]  ? _printk+0x68/0x83") != line_key("[ 0.1]  _printk+0x10/0x20")


def test_named_messages_match_across_kernels():
    lab = "[    0.020250] CPU: 1 PID: 4 Comm: sh Kdump: loaded Not tainted 6.1.0-kpanic #1"
    real = "[    7.822222] CPU: 1 PID: 1 Comm: init Kdump: loaded Not tainted 6.1.0-57-amd64 #1  Debian 6.1.192-3"
    assert line_key(lab) == line_key(real) == "cpu-line"
    assert line_key("# kexec -p") == line_key("LAB: [5.16] kexec -p /vmlinuz --initrd=/capture.img") == "kexec-p"
    assert line_key("# echo c > /proc/sysrq-trigger") == \
        line_key("LAB: [7.85] triggering: echo c > /proc/sysrq-trigger")
    assert line_key("[ 1.0] Kernel Offset: 0x30000000 from 0xffffffff81000000") == "kernel-offset"


def test_different_messages_differ():
    assert line_key("[ 0.1] sysrq: Trigger a crash") != line_key("[ 0.1] sysrq: Show Memory")
    assert line_key("[ 0.1] Kernel panic - not syncing: sysrq triggered crash") != \
        line_key("[ 0.1] Kernel panic - not syncing: Attempted to kill init!")


def test_align_keeps_every_line_once_in_order():
    lab = ["[ 0.1] a 1", "[ 0.2] lab only", "[ 0.3] sysrq: Trigger a crash"]
    real = ["[ 1.0] real only", "[ 1.1] a 2", "[ 1.2] sysrq: Trigger a crash", "[ 1.3] tail"]
    rows = align(lab, real)
    assert [r.lab for r in rows if r.lab is not None] == lab
    assert [r.real for r in rows if r.real is not None] == real
    assert [(r.lab, r.real) for r in rows if r.matched] == [("[ 0.1] a 1", "[ 1.1] a 2"),
                                                           ("[ 0.3] sysrq: Trigger a crash",
                                                            "[ 1.2] sysrq: Trigger a crash")]
    assert all(r.lab is None or r.real is None for r in rows if not r.matched)


def test_the_lab_console_against_the_recorded_real_one():
    real = (RECORDED / "console.first.log").read_text()
    rows = align_consoles(LAB, real)
    matched, lab_lines, real_lines = match_count(rows)
    assert lab_lines == len(LAB.splitlines()) and real_lines == len([x for x in real.splitlines() if x.strip()])
    pairs = {line_key(r.lab): r.real for r in rows if r.matched and r.lab}
    for key in ("sysrq: Trigger a crash", "Kernel panic - not syncing: sysrq triggered crash", "cpu-line",
                "Call Trace:", "frame: panic", "frame: sysrq_handle_crash", "frame: __handle_sysrq",
                "kexec-p", "echo-c", "linux-version"):
        assert key in pairs, key
        assert line_key(pairs[key]) == key
    assert "Kdump: loaded" in pairs["cpu-line"]
    panic = from_line(rows, "sysrq: Trigger a crash")
    assert panic[0].matched and "sysrq: Trigger a crash" in (panic[0].real or "")


def test_stage_lines_find_each_stage_in_both_consoles():
    real_first = (RECORDED / "console.first.log").read_text()
    real_capture = (RECORDED / "console.capture.log").read_text()
    lab_capture = "[    0.000000] Linux version 6.1.0-kpanic (kpanic@kpanic_lab)\n"
    keys = ["TRIGGER", "ENTRY", "IRQS_OFF", "CPU_CLAIMED", "MESSAGE", "STACK_DUMPED", "KGDB", "CRASH_KEXEC",
            "CPU_STOPPED", "KEXEC"]
    rows = stage_lines(keys, (LAB, lab_capture), (real_first, real_capture))
    assert [r.key for r in rows] == keys and [r.index for r in rows] == list(range(len(keys)))
    by = {r.key: r for r in rows}
    assert by["ENTRY"].silent and by["ENTRY"].lab is None and by["ENTRY"].real is None
    assert "Kernel panic - not syncing" in (by["MESSAGE"].real or "")
    assert "Comm: sh" in (by["STACK_DUMPED"].lab or "") and "Kdump: loaded" in (by["STACK_DUMPED"].real or "")
    assert "Linux version 6.1.0-" in (by["KEXEC"].real or "") and by["KEXEC"].lab == lab_capture.strip()
    assert not any(r.silent for r in rows if r.key in ("TRIGGER", "MESSAGE", "STACK_DUMPED", "KEXEC"))


def test_an_unknown_stage_is_silent_and_a_missing_line_is_none():
    rows = stage_lines(["NEW_STAGE", "END"], ("", ""), ("", ""))
    assert rows[0].silent and not rows[1].silent and rows[1].lab is None and rows[1].real is None


def test_row_is_a_value():
    assert Row("a", "b", True) == Row("a", "b", True)


def test_doctests():
    import doctest

    from kpanic_lab.real import compare, recorded
    assert doctest.testmod(compare).failed == 0
    assert doctest.testmod(recorded).failed == 0
