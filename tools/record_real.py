"""Record a real Linux 6.1 kdump for notebook 10: what the notebook shows where QEMU is missing.

One real run (``run_real``: SysRq-c with kdump under QEMU), then on its dump real crash 8 and the
lab's shell with the kernel's debug vmlinux, and the lot written to ``kpanic_lab/real/recorded/``:

    console.first.log     the crashed kernel's serial console
    console.capture.log   the capture kernel's (makedumpfile's progress at its end)
    crash8.txt            real crash 8: crash -s VMLINUX VMCORE, the notebook's commands
    labshell.txt          the lab's shell on the same dump (only when it can read it; else removed)
    README.md             when, where, how, with the versions of every Debian package used

Run it again whenever the lab's shell learns to read a real dump (the notebook then shows its
recorded outputs too), or when Debian's kernel changes:

    PYTHONPATH=$PWD .venv/bin/python tools/record_real.py [--keep DIR]

Each part is bounded: QEMU by run_real's timeout, each shell by a timeout of its own.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from typing import List

from kpanic_lab.real.recorded import (DEBUG_PACKAGE, RECORDED, SHELL_COMMANDS, debug_vmlinux, lab_shell_transcript,
                                      real_crash, release_of)
from kpanic_lab.real.run import DEFAULT_CRASHKERNEL, DEFAULT_MEMORY, run_real

# run_real's defaults: with 384M, crashkernel=160M found no room on some boots (KASLR moves the kernel)
MEMORY, CRASHKERNEL = DEFAULT_MEMORY, DEFAULT_CRASHKERNEL
PACKAGES = ["qemu-system-x86", "linux-image-{release}", "busybox-static", "kexec-tools", "makedumpfile", "crash",
            "linux-image-{release}-dbg"]


def versions(release: str) -> List[str]:
    out = []
    for p in PACKAGES:
        name = p.format(release=release)
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True)
        out.append(f"| {name} | {r.stdout.strip() or 'not installed'} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", metavar="DIR", help="keep the run (dump and consoles) in DIR")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds of QEMU at most (300)")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="kpanic-record-")
    print(f"real run in {work} ...", file=sys.stderr)
    run = run_real("sysrq-c", kdump=True, crash_dir=work, memory=MEMORY, crashkernel=CRASHKERNEL,
                   timeout=a.timeout)
    assert run.vmcore is not None
    release = release_of(run.first_console)
    RECORDED.mkdir(exist_ok=True)
    (RECORDED / "console.first.log").write_text(run.first_console)
    (RECORDED / "console.capture.log").write_text(run.capture_console)

    crash = real_crash(run.vmcore, release, SHELL_COMMANDS, use="run")
    if crash.source != "run":
        raise SystemExit(f"real crash did not run: {crash.note}")
    (RECORDED / "crash8.txt").write_text(f"# tool: {crash.tool}\n" + crash.text() + "\n")

    vmlinux = debug_vmlinux(release)
    lab_note = ""
    try:
        if vmlinux is None:
            raise RuntimeError(f"no debug vmlinux ({DEBUG_PACKAGE})")
        lab = lab_shell_transcript(run.vmcore, vmlinux, SHELL_COMMANDS, timeout=300)
        (RECORDED / "labshell.txt").write_text(f"# tool: {lab.tool}\n" + lab.text() + "\n")
        lab_note = "`labshell.txt`: the lab's shell (`kpanic-lab crash VMLINUX VMCORE -i FILE`) on the same dump."
    except Exception as e:      # noqa: BLE001  (any failure: say it in the README, record the rest)
        if (RECORDED / "labshell.txt").exists():
            os.unlink(RECORDED / "labshell.txt")
        why = (str(e).splitlines() or [type(e).__name__])[0].split("kpanic-lab: ", 1)[-1].replace(work, "DIR")
        lab_note = (f"No `labshell.txt`: the lab's shell could not read this dump when it was recorded "
                    f"({why}); the notebook shows real crash 8's outputs in its place.")

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    size = os.path.getsize(run.vmcore)
    readme = f"""# A recorded real run, for notebook 10 where QEMU or the kernel is missing

Recorded on {when} on {platform.node() or 'a Debian 12 machine'} ({platform.machine()}, Debian 12
packages only) by `tools/record_real.py`, which ran this repository's real run:

    run_real("sysrq-c", kdump=True, memory="{MEMORY}", crashkernel="{CRASHKERNEL}")
    # the same as: kpanic-lab real run sysrq-c --kdump --memory {MEMORY} --crashkernel {CRASHKERNEL}

QEMU (TCG, 2 CPUs, {MEMORY}, `console=ttyS0 panic=0 crashkernel={CRASHKERNEL}`) booted Debian's
`/boot/vmlinuz-{release}` with an initramfs built from the host's busybox, kexec and makedumpfile;
its init loaded the capture kernel with `kexec -p` and wrote `c` to `/proc/sysrq-trigger`; the
capture kernel ran `makedumpfile -F -l -d 31 /proc/vmcore > /dev/vda`, and the host rebuilt the dump
with `makedumpfile -R` ({size:,} bytes, not shipped). QEMU ran {run.qemu_seconds:.0f} s.

| package | version |
|---|---|
{chr(10).join(versions(release))}

| file | what it is |
|---|---|
| `console.first.log` | the crashed kernel's serial console, boot to `</TASK>` of the panic's stack dump |
| `console.capture.log` | the capture kernel's console, from its `Linux version` line to `reboot: machine restart` |
| `crash8.txt` | real {crash.tool}: `crash -s /usr/lib/debug/boot/vmlinux-{release} vmcore`, commands {', '.join(f'`{c}`' for c in SHELL_COMMANDS)} |

{lab_note}

The consoles' `LAB:` lines come from the initramfs's init script (`kpanic_lab/real/initramfs.py`).
KASLR was on: every real run puts the kernel somewhere else, so addresses differ from run to run.
"""
    (RECORDED / "README.md").write_text(readme)
    print(f"recorded in {RECORDED}", file=sys.stderr)
    if not a.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
