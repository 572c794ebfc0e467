"""The lab's oops on the real Linux 6.1: null_deref.ko built against the installed headers, the same
NULL write from a child shell, under QEMU TCG; with oops=panic and kdump the real capture, and the
lab's crash-like shell on that real dump against real crash 8.

Slow (QEMU, 15-30 s a run here) and it needs Debian's packages and the kernel headers, so it runs
only under ``make test-real`` (KPANIC_LAB_TEST_REAL=1); without them it skips naming them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kpanic_lab.real.host import apt_line, missing_packages
from kpanic_lab.real.kbuild import headers_dir, headers_line

MISSING = missing_packages()
RELEASE = "6.1.0-57-amd64"
VMLINUX = Path(f"/usr/lib/debug/boot/vmlinux-{RELEASE}")
pytestmark = [
    pytest.mark.skipif(os.environ.get("KPANIC_LAB_TEST_REAL") != "1",
                       reason="a real QEMU boot of Linux 6.1 (slow): run it with `make test-real`"),
    pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)}: {apt_line(list(MISSING))}"),
    pytest.mark.skipif(not os.path.isfile(os.path.join(headers_dir(RELEASE), "Makefile")),
                       reason=f"no kernel headers: {headers_line(RELEASE)}"),
    pytest.mark.timeout(600),
]

# what real 6.1 prints for the lab's NULL write (struct lab_record's value, at offset 8: as the lab's)
OOPS_LINES = ["null_deref: about to dereference NULL (comm=sh pid=",
              "BUG: kernel NULL pointer dereference, address: 0000000000000008",
              "#PF: supervisor write access in kernel mode",
              "Oops: 0002 [#1] PREEMPT SMP NOPTI",
              "RIP: 0010:null_deref_write+0x",
              "Call Trace:", "proc_reg_write+", "vfs_write+", "ksys_write+",
              "Modules linked in: null_deref(OE)"]


def _run(crash_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kpanic_lab", "real", "run", *args, "--crash-dir", str(crash_dir),
                           "--timeout", "480"], capture_output=True, text=True, timeout=590)


def _in_order(text: str, marks: list) -> None:
    at = [text.index(m) for m in marks]
    assert at == sorted(at), list(zip(marks, at))


def test_oops_kills_the_writer_and_the_kernel_goes_on(tmp_path):
    crash_dir = tmp_path / "crash"
    r = _run(crash_dir, "oops")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(crash_dir)) == ["console.first.log", "console.log"]
    first = (crash_dir / "console.first.log").read_text()
    assert "Command line: console=ttyS0 panic=0\n" in first            # Debian's panic_on_oops=0
    assert "null_deref: loading out-of-tree module taints kernel." in first
    assert "null_deref: module verification failed: signature and/or required key missing" in first
    _in_order(first, OOPS_LINES + ["---[ end trace 0000000000000000 ]---", "Killed",
                                   "the writer died (status 137)", "oops survived, powering off",
                                   "reboot: Power down"])
    # taint letters: O (out of tree) and E (unsigned) when it oopsed; D (died) after: 0x3080
    assert re.search(r"Comm: sh Tainted: G {11}OE {6}6\.1\.0-", first)
    assert "/proc/sys/kernel/tainted = 12416" in first
    assert "Kernel panic" not in first


def test_oops_panic_without_kdump_says_fatal_exception(tmp_path):
    crash_dir = tmp_path / "crash"
    r = _run(crash_dir, "oops-panic")
    assert r.returncode == 0, r.stderr[-2000:]
    first = (crash_dir / "console.first.log").read_text()
    assert "Command line: console=ttyS0 panic=0 oops=panic\n" in first
    _in_order(first, OOPS_LINES + ["---[ end trace 0000000000000000 ]---",
                                   "Kernel panic - not syncing: Fatal exception",
                                   "---[ end Kernel panic - not syncing: Fatal exception ]---"])


@pytest.fixture(scope="module")
def kdump_run(tmp_path_factory):
    crash_dir = tmp_path_factory.mktemp("oops") / "crash"
    return _run(crash_dir, "oops-panic", "--kdump"), crash_dir


def test_oops_panic_with_kdump_saves_the_dump(kdump_run):
    r, crash_dir = kdump_run
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(crash_dir)) == ["console.capture.log", "console.first.log", "console.log", "vmcore"]
    first = (crash_dir / "console.first.log").read_text()
    capture = (crash_dir / "console.capture.log").read_text()
    _in_order(first, OOPS_LINES)
    assert re.search(r"Comm: sh Kdump: loaded Tainted: G {11}OE ", first)
    # oops_end() calls crash_kexec() before it would panic (kexec_should_crash: panic_on_oops), so with
    # a capture kernel loaded there is no "Kernel panic - not syncing: Fatal exception" and no end trace
    assert "Kernel panic" not in first and "---[ end trace" not in first
    assert "elfcorehdr=" in capture and "makedumpfile rc=0" in capture


def test_the_shell_reads_the_real_oops_as_crash_does(kdump_run, tmp_path):
    pytest.importorskip("drgn", reason="no drgn: pip install drgn")
    crash = shutil.which("crash")
    if crash is None or not VMLINUX.is_file():
        pytest.skip(f"no crash or no debug vmlinux: apt-get install crash linux-image-{RELEASE}-dbg")
    r, crash_dir = kdump_run
    assert r.returncode == 0, r.stderr[-2000:]
    vmcore = crash_dir / "vmcore"
    cmds = tmp_path / "cmds.txt"
    cmds.write_text("sys\nbt\nsym null_deref_write\nq\n")
    theirs = subprocess.run([crash, "-s", str(VMLINUX), str(vmcore), "-i", str(cmds)], capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL).stdout
    from kpanic_lab.crash.session import CrashSession

    s = CrashSession.open(vmcore, VMLINUX)
    ours = {c: s.run(c) for c in ("sys", "bt", "sym null_deref_write")}
    panic = 'PANIC: "Oops: 0002 [#1] PREEMPT SMP NOPTI"'
    assert panic in theirs and panic in ours["sys"]
    # the module's function is named from the module's own symbols in the dump (its kallsyms): the
    # debug info of an out-of-tree module is in no package, and neither tool needs it to name it
    exc = re.search(r"\[exception RIP: null_deref_write\+\d+\]", theirs)
    assert exc and exc.group() in ours["bt"]
    assert "(t) null_deref_write [null_deref]" in theirs and "(t) null_deref_write [null_deref]" in ours["sym null_deref_write"]

    def frames(text: str) -> list:
        return re.findall(r"^\s*#\d+ \[[0-9a-f]+\] (\S+) at [0-9a-f]+", text, re.M)

    want = ["machine_kexec", "__crash_kexec", "crash_kexec", "oops_end", "page_fault_oops", "exc_page_fault",
            "asm_exc_page_fault", "proc_reg_write", "vfs_write", "ksys_write", "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe"]
    assert frames(ours["bt"]) == want
    it = iter(frames(theirs))            # crash adds stale return addresses it finds on the stack
    assert all(f in it for f in want), frames(theirs)
    # the same exception frame: the fault's registers, line for line
    block = ours["bt"][ours["bt"].index("[exception RIP:"):].splitlines()[:8]
    assert "\n".join(block) in theirs
