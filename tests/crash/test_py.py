"""Every command's --py code runs and prints exactly what the command printed."""
from __future__ import annotations

import contextlib
import io

import pytest

LINES = [
    "sys", "log", "log -m", "dmesg", "bt", "bt -a", "bt -f", "bt -l", "bt -t", "bt 1", "bt -c 0", "bt 1 2",
    "ps", "ps -k", "ps 1 sh", "set", "set 2", "set -c 0", "vm", "vm 1", "mod", "kmem -i",
    "sym panic", "sym panic init_task", "sym -q sysrq", "rd jiffies", "rd -a linux_banner", "rd -8 linux_banner 20",
    "rd -32 init_task 6", "rd -s init_task 8", "rd -x init_task 4", "rd -p 1000 4",
    "struct task_struct", "struct -o task_struct", "struct task_struct init_task", "struct list_head.next init_task",
    "struct task_struct.pid,comm init_task 2", "struct -o task_struct.tasks init_task", "struct pcpu",
    "dis sysrq_handle_crash", "dis -l panic 5", "dis -r sysrq_handle_crash+40", "dis sysrq_handle_crash+1",
    "list task_struct.tasks -s task_struct.pid,comm -h init_task", "list task_struct.tasks -h init_task",
    "list -H init_task+32",
]


def run_py(prog, code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<--py>", "exec"), {"prog": prog})
    return buf.getvalue()


@pytest.mark.parametrize("line", LINES)
def test_py_code_prints_what_the_command_prints(session_for, line):
    s = session_for("sysrq-c")
    text = s.run(line)
    assert text and not text.startswith(line.split()[0] + ":"), text
    code = s.run(line + " --py")
    assert code.startswith("# prog:"), code
    assert run_py(s.prog, code) == text + "\n"


def test_py_on_a_module_oops(session_for):
    s = session_for("oops-panic")
    for line in ("mod", "bt", "dis -r null_deref_write+61", "sym null_deref_write", "bt -f", "list -H modules",
                 "list module.list -H modules -s module.name"):
        assert run_py(s.prog, s.run(line + " --py")) == s.run(line) + "\n"


def test_py_without_library_code(crash):
    assert crash.run("help --py") == "help: --py: this command calls no library code"
