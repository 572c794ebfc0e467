"""Output forms: crash 8.0.2's, as its output on a real Linux 6.1 vmcore shows them (data/crash-8.0.2-forms.txt,
which says where it was captured)."""
from __future__ import annotations

import re
from pathlib import Path


REFERENCE = Path(__file__).resolve().parent / "data" / "crash-8.0.2-forms.txt"
BT_HEADER = re.compile(r'^PID: (\d+) {0,7}  TASK: ([0-9a-f]{16})  CPU: (\S+) *  COMMAND: "(.*)"$')
FRAME = re.compile(r"^( #\d|#\d\d) \[([0-9a-f]{16})\] (\S+) at ([0-9a-f]{16})( \[\w+\])?$")


def reference_block(command: str) -> list:
    """The output lines of one command in the reference transcript."""
    text = REFERENCE.read_text().split(f"crash> {command}\n", 1)[1]
    return text.split("\ncrash> ", 1)[0].splitlines()


def test_bt_header_is_crashs_format(crash):
    lines = crash.run("bt").splitlines()
    m = BT_HEADER.match(lines[0])
    assert m, lines[0]
    pid, task, cpu, comm = m.groups()
    # PID: %-7ld  TASK: %s  CPU: %-3s  COMMAND: "%s"
    assert lines[0] == f'PID: {int(pid):<7d}  TASK: {task}  CPU: {cpu:<3s}  COMMAND: "{comm}"'
    for ref in [l for l in reference_block("bt") if l.startswith("PID:")]:
        assert BT_HEADER.match(ref)
    assert all(FRAME.match(l) for l in lines[1:] if l.lstrip().startswith("#"))


def test_bt_exception_frame_block(crash):
    ours = [l for l in crash.run("bt").splitlines() if l.startswith("    ")]
    ref = [l for l in reference_block("bt") if l.startswith("    ")]
    shape = [re.sub(r"[0-9a-f]{4,16}", "X", l) for l in ref]
    assert [re.sub(r"[0-9a-f]{4,16}", "X", l) for l in ours] == shape


def test_bt_a_other_cpu_shows_the_nmi_switch(session_for):
    """A CPU stopped by an NMI (here the loser of double-panic, spinning with IF=0 until smp_send_stop's
    NMI fallback; in the reference, kdump's crash NMI) shows the exception frame, then crash's stack switch."""
    out = session_for("double-panic").run("bt -a")
    blocks = out.split("\n\n")
    assert len(blocks) == 2
    stopped = next(b for b in blocks if "exc_nmi" in b)
    assert "--- <NMI exception stack> ---" in stopped
    assert re.search(r"^    \[exception RIP: \w+\+\d+\]$", stopped, re.M)
    ref = "\n".join(reference_block("bt -a"))
    assert "--- <NMI exception stack> ---" in ref and "    [exception RIP: native_safe_halt+11]" in ref
    # the same lines in the same order: header, frames to asm_exc_nmi, the exception block, the switch
    shape = lambda b: [re.sub(r"[0-9a-f]{4,16}|\w+\+\d+", "X", l) for l in b.splitlines()  # noqa: E731
                       if l.startswith("    ") or l.startswith("---")]
    ref_cpu1 = next(b for b in ref.split("\n\n") if "<NMI exception stack>" in b)
    assert shape(stopped) == shape(ref_cpu1)


def test_bt_a_idle_cpu_stopped_by_the_reboot_ipi_shows_its_exception_frame(crash):
    """Without kdump, smp_send_stop()'s REBOOT_VECTOR reaches the idle CPU: an exception frame, no switch."""
    blocks = crash.run("bt -a").split("\n\n")
    idle = next(b for b in blocks if "sysvec_reboot" in b)
    assert re.search(r"^    \[exception RIP: \w+\+\d+\]$", idle, re.M)
    assert "exception stack>" not in idle


def test_ps_header_and_columns(crash):
    lines = crash.run("ps").splitlines()
    ref = reference_block("ps | head -20")
    assert lines[0] == ref[0]
    row = re.compile(r"^([> ]) {1,7}(\d+) +(\d+) +(\d+)  ([0-9a-f]{16})  (RU|IN|UN|ZO|DE)  +[\d.]+ +\d+ +\d+  (.+)$")
    for l in lines[1:] + ref[1:]:
        assert row.match(l), l
    # columns line up with the reference's
    assert [len(l) - len(l.rsplit("  ", 1)[1]) for l in lines[1:2]] == [len(ref[1]) - len(ref[1].rsplit("  ", 1)[1])]
    assert lines[1].split()[-1] == "[swapper/0]"


def test_sys_block(crash):
    ours = crash.run("sys").splitlines()
    ref = reference_block("sys")
    labels = lambda ls: [l.split(":", 1)[0] for l in ls]  # noqa: E731
    assert labels(ours) == labels(ref)
    assert ours[-1] == '       PANIC: "Kernel panic - not syncing: sysrq triggered crash"'
    assert "      KERNEL: " in ours[0]


def test_mod_columns(session_for):
    s = session_for("oops-panic")
    ours = s.run("mod").splitlines()
    ref = reference_block("mod")
    assert re.fullmatch(r"     MODULE       NAME {4,}    BASE        SIZE  OBJECT FILE", ours[0])
    assert re.fullmatch(r"[0-9a-f]{16}  null_deref  [0-9a-f]{16}  \d{4}  \(not loaded\)  \[CONFIG_KALLSYMS\]", ours[1])
    # where BASE and SIZE start, relative to the name column, as the reference
    def cols(header, name_width, size_width):
        return header.index("BASE") - 18 - name_width, header.index("SIZE") - header.index("BASE") - size_width
    assert cols(ours[0], len("null_deref"), 4) == cols(ref[0], len("virtio_pci_legacy_dev"), 5)


def test_sym_form(crash):
    out = crash.run("sym panic")
    assert re.fullmatch(r"[0-9a-f]{16} \(T\) panic kernel/panic\.c: \d+", out)
    assert re.fullmatch(r"[0-9a-f]{16} \(T\) panic \S+/kernel/panic\.c: \d+", reference_block("sym panic")[0])


def test_log_tail(crash):
    ours = crash.run("log | tail -3").splitlines()
    assert len(ours) == 3 and all(re.match(r"^\[ *\d+\.\d{6}\] ", l) for l in ours)
    assert ours[-1].endswith("---[ end Kernel panic - not syncing: sysrq triggered crash ]---")


def test_list_grep_count(crash):
    n = crash.run("list task_struct.tasks -s task_struct.pid,comm -h init_task | grep -c pid")
    tasks = crash.run("ps").splitlines()[1:]
    idle_of_other_cpus = [l for l in tasks if l.endswith("]") and "[swapper/" in l and "[swapper/0]" not in l]
    assert n == str(len(tasks) - len(idle_of_other_cpus))     # idle tasks are not on init_task's list


def test_help_table_and_footer(crash):
    out = crash.run("help")
    names = out.split()
    for c in ("bt", "dis", "gdb", "help", "kmem", "list", "log", "mod", "ps", "q", "rd", "set", "struct", "sym",
              "sys", "vm"):
        assert c in names
    assert 'For help on any command above, enter "help <command>".' in out
    page = crash.run("help bt")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLE"):
        assert f"\n{section}\n" in "\n" + page
    assert crash.run("help dmesg").startswith("NAME\n  log - ")


def test_g_is_only_an_alias_for_gdb(crash):
    out = crash.run("g bt")
    assert out == crash.run("gdb bt")
    assert "alias" in out and "not available" in out


def test_struct_forms(crash):
    d = crash.run("struct task_struct").splitlines()
    assert d[0] == "struct task_struct {" and d[-2] == "}" and re.fullmatch(r"SIZE: \d+", d[-1])
    o = crash.run("struct -o task_struct").splitlines()
    assert re.fullmatch(r" +\[0\] volatile long __state;", o[1])
    v = crash.run("struct task_struct init_task").splitlines()
    assert v[0] == "struct task_struct {" and v[1] == "  __state = 0," and v[-1] == "}"
    assert crash.run("struct task_struct.comm init_task") == '  comm = "swapper/0\\000\\000\\000\\000\\000\\000"'
    assert crash.run("task_struct.pid init_task") == "  pid = 0"
    oa = crash.run("struct -o task_struct.pid init_task").splitlines()
    assert re.fullmatch(r"  \[[0-9a-f]{16}\] pid_t pid;", oa[1])


def test_dis_forms(crash):
    whole = crash.run("dis sysrq_handle_crash").splitlines()
    assert re.fullmatch(r"0x[0-9a-f]{16} <sysrq_handle_crash>: +push +%rbp", whole[0])
    assert "call   0x" in whole[-1] and whole[-1].endswith("<panic>")
    one = crash.run("dis sysrq_handle_crash+1")
    assert len(one.splitlines()) == 1 and "<sysrq_handle_crash+1>:" in one
    assert len(crash.run("dis sysrq_handle_crash 3").splitlines()) == 3
    rev = crash.run("dis -r sysrq_handle_crash+40").splitlines()
    assert rev[0] == whole[0] and "<panic>" in rev[-1]
    lines = crash.run("dis -l sysrq_handle_crash").splitlines()
    assert re.fullmatch(r"kernel/\S+: \d+", lines[0])


def test_rd_forms(crash):
    assert re.fullmatch(r"[0-9a-f]{16}:  Linux version .*", crash.run("rd -a linux_banner").splitlines()[0])
    two = crash.run("rd init_task 2")
    assert re.fullmatch(r"[0-9a-f]{16}:  [0-9a-f]{16} [0-9a-f]{16}   .{16}", two)
    assert len(crash.run("rd -8 linux_banner 16").split("   ")[0].split()) == 17
    assert len(crash.run("rd -32 linux_banner 4").split("   ")[0].split()) == 5
    assert "init_stack" in crash.run("rd -s init_task 2")


def test_set_and_context(crash):
    assert "STATE: TASK_RUNNING (PANIC)" in crash.run("set")
    out = crash.run("set 1")
    assert 'COMMAND: "init"' in out
    assert crash.run("bt").startswith("PID: 1 ")
    assert crash.run("set -c 1").startswith("    PID: 3")


def test_vm_and_kmem(crash):
    vm = crash.run("vm 1").splitlines()
    assert vm[1] == "       MM               PGD          RSS    TOTAL_VM"
    assert any(l.endswith("[code]") for l in vm) and any(l.endswith("[stack]") for l in vm)
    km = crash.run("kmem -i").splitlines()
    assert km[0] == "                 PAGES        TOTAL      PERCENTAGE"
    assert re.fullmatch(r"    TOTAL MEM +\d+ +[\d.]+ MB +----", km[1])
    assert re.fullmatch(r"         FREE +\d+ +[\d.]+ MB +\d+% of TOTAL MEM", km[2])


def test_help_examples_run(crash, session_for):
    """Every example in the help pages is a command that works (addresses change with each
    build of the guest, so the ones naming a raw address are only checked for their form)."""
    import re as _re

    from kpanic_lab.crash.registry import COMMANDS

    for name, c in COMMANDS.items():
        for line in c.example.splitlines():
            if not line.startswith("crash> "):
                continue
            cmd = line[len("crash> "):]
            s = session_for("oops-panic") if name == "mod" else crash
            if _re.search(r"\b[0-9a-f]{16}\b", cmd):
                continue
            out = s.run(cmd)
            assert out and not out.startswith(f"{cmd.split()[0]}: ") or name == "gdb", (cmd, out)


def test_a_record_of_several_lines_prints_its_stamp_once():
    # crash's log: the continuation lines indented under the text (the console repeats the stamp)
    from kpanic_lab.analysis.printk import LogRecord
    from kpanic_lab.crash.render import render_log

    r = LogRecord(22669000, b"calibrate_delay_direct() failed\nProbably due to long platform interrupts.", level=4)
    assert render_log([r]).splitlines() == ["[    0.022669] calibrate_delay_direct() failed",
                                            "               Probably due to long platform interrupts."]
    assert render_log([r], levels=True).splitlines()[1] == " " * 18 + "Probably due to long platform interrupts."
