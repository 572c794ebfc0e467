"""Bad input: one clear line, never a traceback, never a hang."""
from __future__ import annotations

import re
import time

import pytest

from kpanic_lab.crash.pipes import SUPPORTED as PIPES
from kpanic_lab.crash.registry import COMMANDS

ERROR = re.compile(r"([a-z]+): \S[^\n]*")


def error_sources() -> set:
    """Who may start an error line: the shell, the pipe machinery, a pipe stage or a command
    (the commands are registered once a session has been made)."""
    assert "bt" in COMMANDS
    return {"crash", "pipe", *PIPES, *COMMANDS}

BAD = [
    ("bt 99", "bt: invalid task or pid value: 99"),
    ("bt zzz", "bt: invalid task or pid value: zzz"),
    ("bt -q", "bt: option -q not recognized"),
    ("bt -c 7", "bt: invalid cpu number: 7"),
    ("bt -a 1", "bt: give either -a/-c or tasks, not both"),
    ("rd", "rd: give an address or symbol"),
    ("rd nosuchsym", "rd: invalid address or symbol: nosuchsym"),
    ("rd 0 4", "rd: cannot read"),
    ("rd jiffies 0", "rd: invalid count: 0"),
    ("rd jiffies 99999999", "rd: at most"),
    ("struct", "struct: which struct?"),
    ("struct nosuch", "struct: invalid data structure reference: nosuch"),
    ("struct task_struct.nosuch", "struct: invalid data structure reference: task_struct.nosuch"),
    ("struct task_struct 10", "struct: cannot read"),
    ("struct pid_t", "struct: pid_t is not a structure or union (it is pid_t: int)"),
    ("sym nosuch", "sym: symbol not found: nosuch"),
    ("sym 10", "sym: invalid address: 10"),
    ("dis 0", "dis: 0 is not in the kernel's text"),
    ("dis panic x", "dis: invalid count: x"),
    ("list", "list: give the start of the list"),
    ("list -h 0", "list: the start of the list is address 0"),
    ("list -h 10", "list: cannot read 8 byte(s) at virtual address 10"),
    ("list -o nosuch.member init_task", "list: no type 'nosuch'"),
    ("set 1 2", "set: only a task context"),
    ("set -c x", "set: invalid cpu specification: x"),
    ("kmem -s", "kmem: only kmem -i"),
    ("mod -s null_deref", "mod: the lab's modules are linked into vmlinux"),
    ("sys -c", "sys: option -c not recognized"),
    ("sys config", "sys: only plain sys"),
    ("log -x", "log: option -x not recognized"),
    ("vm 1 2", "vm: one task at a time"),
    ("nosuchcommand", "crash: command not found: nosuchcommand"),
    ("ps | nosuch", "pipe: 'nosuch' is not available here"),
    ("ps | grep -z x", "grep: option not supported here"),
    ("ps | head -n x", "head: invalid number of lines"),
    ("bt 'unclosed", "crash: No closing quotation"),
    ("help nosuch", "help: no help for 'nosuch'"),
]


@pytest.mark.parametrize("line,start", BAD)
def test_bad_input_is_one_line(crash, line, start):
    out = crash.run(line)
    assert out.startswith(start), out
    assert "\n" not in out and "Traceback" not in out


def output_form(line: str, out: str, refusal: str, who: set) -> str:
    """Which of the shell's known forms ``out`` (what ``line`` printed) is; fails on anything else."""
    assert "Traceback" not in out and "internal error" not in out, (line, out)
    if out == refusal:
        return "gdb's refusal"                  # the one error that explains itself on several lines
    m = ERROR.fullmatch(out)
    if m and m.group(1) in who:
        return "error"
    if "|" in line:
        return "filtered"                       # what grep, head ... kept of a result or an error
    if out == "":
        assert line.split()[0] == "q", ("only quit prints nothing", line)
        return "nothing"
    first = ERROR.match(out)
    assert not (first and first.group(1) in who), ("an error of more than one line", line, out)
    return "result"


def test_fuzzed_arguments_never_raise_or_hang(crash):
    """Every line gives a one-line error, gdb's refusal, a result, what a pipe kept of one, or nothing
    (quit); never a traceback or an internal error."""
    import random

    rnd = random.Random(5)
    words = ["-a", "-f", "-l", "-t", "-o", "-s", "-h", "-H", "-e", "-c", "-8", "-64", "-x", "-p", "-u", "-r",
             "0", "1", "-1", "99999999999999999999", "ffffffffffffffff", "init_task", "panic+0x10",
             "task_struct", "task_struct.tasks", "list_head.next", "'", '"', "|", "| grep", "--py", "", "0x",
             "modules", "jiffies", "\x00", "é"]
    names = sorted(COMMANDS) + ["dmesg", "g", "task_struct", "list_head"]
    refusal, who = crash.run("gdb"), error_sources()
    assert refusal.startswith("gdb: not available in the lab.\n")
    seen = set()
    t0 = time.time()
    for _ in range(600):
        line = " ".join([rnd.choice(names)] + [rnd.choice(words) for _ in range(rnd.randint(0, 4))])
        out = crash.run(line)
        seen.add(output_form(line, out, refusal, who))
        crash.done = False
    assert seen == {"error", "gdb's refusal", "result", "filtered", "nothing"}
    assert time.time() - t0 < 120


def test_quit_stops_a_script(crash):
    out = crash.run_script("sys | head -1\nq\nbt")
    assert out.startswith("      KERNEL:") and "PID:" not in out
    assert crash.done
