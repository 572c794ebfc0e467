"""Record a real Linux 6.1 kdump for notebook 10: what the notebook shows where QEMU is missing.

One real run (``run_real``: SysRq-c, or ``--scenario oops-panic``, with kdump under QEMU), then on its
dump real crash 8 and the lab's shell with the kernel's debug vmlinux, and the lot written to
``kpanic_lab/real/recorded/`` (SysRq-c) or ``kpanic_lab/real/recorded/<scenario>/`` (the others):

    console.first.log     the crashed kernel's serial console
    console.capture.log   the capture kernel's (makedumpfile's progress at its end)
    crash8.txt            real crash 8: crash -s VMLINUX VMCORE, the notebook's commands
    labshell.txt          the lab's shell on the same dump (only when it can read it; else removed)
    README.md             when, where, how, with the versions of every Debian package used

Run it again whenever the lab's shell learns to read a real dump (the notebook then shows its
recorded outputs too), or when Debian's kernel changes:

    PYTHONPATH=$PWD .venv/bin/python tools/record_real.py [--scenario oops-panic] [--keep DIR]

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

from kpanic_lab.real.initramfs import MODULE_FILE, SCENARIOS
from kpanic_lab.real.recorded import (DEBUG_PACKAGE, DEFAULT_SCENARIO, RECORDED_SCENARIOS, SHELL_COMMANDS,
                                      debug_vmlinux, lab_shell_transcript, real_crash, recorded_dir, release_of)
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
    ap.add_argument("--scenario", choices=RECORDED_SCENARIOS, default=DEFAULT_SCENARIO,
                    help=f"the real scenario to record ({DEFAULT_SCENARIO})")
    ap.add_argument("--keep", metavar="DIR", help="keep the run (dump and consoles) in DIR")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds of QEMU at most (300)")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="kpanic-record-")
    print(f"real run in {work} ...", file=sys.stderr)
    scenario = SCENARIOS[a.scenario]
    out = recorded_dir(a.scenario)
    run = run_real(a.scenario, kdump=True, crash_dir=work, memory=MEMORY, crashkernel=CRASHKERNEL,
                   timeout=a.timeout)
    assert run.vmcore is not None
    release = release_of(run.first_console)
    out.mkdir(parents=True, exist_ok=True)
    (out / "console.first.log").write_text(run.first_console)
    (out / "console.capture.log").write_text(run.capture_console)

    crash = real_crash(run.vmcore, release, SHELL_COMMANDS, use="run")
    if crash.source != "run":
        raise SystemExit(f"real crash did not run: {crash.note}")
    # the shells name the dump by its path here; the shipped files name it `vmcore`
    (out / "crash8.txt").write_text(f"# tool: {crash.tool}\n" + crash.text().replace(run.vmcore, "vmcore") + "\n")

    vmlinux = debug_vmlinux(release)
    lab_note = ""
    try:
        if vmlinux is None:
            raise RuntimeError(f"no debug vmlinux ({DEBUG_PACKAGE})")
        lab = lab_shell_transcript(run.vmcore, vmlinux, SHELL_COMMANDS, timeout=300)
        (out / "labshell.txt").write_text(f"# tool: {lab.tool}\n" + lab.text().replace(run.vmcore, "vmcore") + "\n")
        lab_note = "`labshell.txt`: the lab's shell (`kpanic-lab crash VMLINUX VMCORE -i FILE`) on the same dump."
    except Exception as e:      # noqa: BLE001  (any failure: say it in the README, record the rest)
        if (out / "labshell.txt").exists():
            os.unlink(out / "labshell.txt")
        why = (str(e).splitlines() or [type(e).__name__])[0].split("kpanic-lab: ", 1)[-1].replace(work, "DIR")
        lab_note = (f"No `labshell.txt`: the lab's shell could not read this dump when it was recorded "
                    f"({why}); the notebook shows real crash 8's outputs in its place.")

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    size = os.path.getsize(run.vmcore)
    cmdline = "console=ttyS0 panic=0" + (f" {scenario.cmdline}" if scenario.cmdline else "")
    module = (f", plus `{MODULE_FILE}`\n(built from `kpanic_lab/real/module/` with Debian's `linux-headers-{release}`)"
              if scenario.module else "")
    others = "".join(f"\n- `{s}/`: `{SCENARIOS[s].write}`, booted with `{SCENARIOS[s].cmdline}` (its own `README.md`)"
                     for s in RECORDED_SCENARIOS if s != DEFAULT_SCENARIO)
    elsewhere = (f"\n\nThe other recorded scenarios, each in a folder of its own:{others}"
                 if a.scenario == DEFAULT_SCENARIO else "")
    flag = "" if a.scenario == DEFAULT_SCENARIO else f" --scenario {a.scenario}"
    readme = f"""# A recorded real run of {a.scenario}, for notebook 10 where QEMU or the kernel is missing

Recorded on {when} on {platform.node() or 'a Debian 12 machine'} ({platform.machine()}, Debian 12
packages only) by `tools/record_real.py{flag}`, which ran this repository's real run:

    run_real("{a.scenario}", kdump=True, memory="{MEMORY}", crashkernel="{CRASHKERNEL}")
    # the same as: kpanic-lab real run {a.scenario} --kdump --memory {MEMORY} --crashkernel {CRASHKERNEL}

QEMU (TCG, 2 CPUs, {MEMORY}, `{cmdline} crashkernel={CRASHKERNEL}`) booted Debian's
`/boot/vmlinuz-{release}` with an initramfs built from the host's busybox, kexec and makedumpfile{module};
its init loaded the capture kernel with `kexec -p` and ran `{scenario.write}`; the
capture kernel ran `makedumpfile -F -l -d 31 /proc/vmcore > /dev/vda`, and the host rebuilt the dump
with `makedumpfile -R` ({size:,} bytes, not shipped). QEMU ran {run.qemu_seconds:.0f} s.

| package | version |
|---|---|
{chr(10).join(versions(release))}

| file | what it is |
|---|---|
| `console.first.log` | the crashed kernel's serial console, boot to the end of the crash report (`</TASK>` of its stack dump) |
| `console.capture.log` | the capture kernel's console, from its `Linux version` line to `reboot: machine restart` |
| `crash8.txt` | real {crash.tool}: `crash -s /usr/lib/debug/boot/vmlinux-{release} vmcore`, commands {', '.join(f'`{c}`' for c in SHELL_COMMANDS)} |

{lab_note}

The consoles' `LAB:` lines come from the initramfs's init script (`kpanic_lab/real/initramfs.py`).
KASLR was on: every real run puts the kernel somewhere else, so addresses differ from run to run.{elsewhere}
"""
    (out / "README.md").write_text(readme)
    print(f"recorded in {out}", file=sys.stderr)
    if not a.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
