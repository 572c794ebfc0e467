"""The crash-like shell on the shipped real 6.1 dump (tests/data/real/vmcore.log-pages) with Debian's debug
vmlinux, read through drgn: its log is real crash 8.0.2's, line for line (tests/data/real/crash.small.txt,
captured on the whole dump), and what the trimmed dump left out is named in one line, never printed wrong.

Needs the 633 MB debug vmlinux (not QEMU, not crash): skips naming its package when it is not installed."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "real"
VMCORE = DATA / "vmcore.log-pages"
VMLINUX = Path("/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64")
pytestmark = [
    pytest.mark.skipif(not VMLINUX.is_file(),
                       reason="no debug vmlinux: apt-get install linux-image-6.1.0-57-amd64-dbg"),
]


@pytest.fixture(scope="module")
def shell():
    pytest.importorskip("drgn", reason="no drgn: pip install drgn")
    from kpanic_lab.crash.session import CrashSession

    return CrashSession.open(VMCORE, VMLINUX)


def crash_section(text: str) -> list:
    """crash's ``log`` in the transcript: from the first record up to ``bt -a``'s first header."""
    start = text.index("[    0.000000] ")
    return text[start:text.index("\nPID: ", start)].splitlines()


def test_the_log_is_real_crashs(shell):
    theirs = crash_section((DATA / "crash.small.txt").read_text())
    assert shell.run("log").splitlines() == theirs
    assert shell.run("log | tail -3").splitlines() == theirs[-3:]


def test_what_the_trimmed_dump_left_out_is_named_in_one_line(shell):
    for line in ("sys", "bt", "ps", "mod"):
        out = shell.run(line)
        assert out.startswith(f"{line}: cannot read ") and "page excluded from the dump" in out, out
        assert "\n" not in out


def test_the_transcripts_panic_and_tasks():
    text = (DATA / "crash.small.txt").read_text()
    assert 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' in text
    assert " #2 [ffffd518c0013bf0] panic at ffffffffb1a01ded" in text
