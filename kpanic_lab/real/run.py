"""One real crash: Debian's Linux 6.1 under QEMU's TCG, SysRq-c or an oops, and (with kdump) the real capture.

    host                         first kernel (2 CPUs)              capture kernel (1 CPU)
    build first.img  ──boot──>   kexec -p /vmlinuz                  (crashkernel= memory)
                                 echo c > /proc/sysrq-trigger ──>   makedumpfile -F -c -d 31
                                                                      /proc/vmcore > /dev/vda
    makedumpfile -R vmcore  <──────────────── disk.raw ───────────  reboot -f (QEMU exits)

The serial console goes to a file; the capture kernel's boot starts at its own ``Linux version``
line, where the console is cut in two.  QEMU runs under a wall-clock timeout and is killed (its
whole process group) on a timeout or any failure, so every run is bounded.

Without kdump the kernel stops at ``---[ end Kernel panic`` (``panic=0``): the run watches the
console for that line and then stops QEMU.  The ``oops`` scenario does not panic (Debian's
panic_on_oops=0): the oops kills the writing shell, init says so and powers the machine off, and
there is no dump even with kdump (``kexec_should_crash()`` is false for a plain task).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from kpanic_lab.errors import LabError
from kpanic_lab.formats.compression import OPTION_OF
from kpanic_lab.i18n import N_
from kpanic_lab.real.host import HostTools, find_host
from kpanic_lab.real.initramfs import OOPS_SURVIVED, SCENARIOS, TRIGGERS, build_images
from kpanic_lab.real.kbuild import MODULE, build_module, headers_dir

DEFAULT_MEMORY = "512M"
DEFAULT_CRASHKERNEL = "160M"
DEFAULT_TIMEOUT = 240.0      # seconds of wall clock for QEMU; about 20-40 s when the host is idle
# makedumpfile's compression options that Debian's makedumpfile 1.7.2 has (snappy and zstd are off there)
COMPRESSION = {name: OPTION_OF[name] for name in ("zlib", "lzo")}
DISK_SIZE = 1 << 30          # the raw dump disk (sparse: only what makedumpfile writes takes room)
END_MARKER = "---[ end Kernel panic"
INIT_FAILED = re.compile(r"^LAB: \[[\d.]+\] FAILED: (.*)$", re.M)     # the init script's fail()
CAPTURE_START = re.compile(r"^\[\s*0\.000000\] Linux version ", re.M)


# what run_real tells its progress callback: a template (marked for translation) and its values
STEPS = {
    "module": N_("building the {module} module against {headers} (kbuild)"),
    "build": N_("building the initramfs from the host's busybox, kexec and makedumpfile"),
    "boot": N_("booting {kernel} under QEMU (TCG, {cpus} CPUs, {memory}, {cmdline}; at most {timeout} s)"),
    "rebuild": N_("rebuilding the dump from the raw disk: makedumpfile -R {vmcore}"),
}
Progress = Callable[[str, Dict[str, str]], None]


class RealRunError(LabError):
    """The real run failed: QEMU, the guest's init, the capture or the rebuild (the message says which)."""


@dataclass
class RealRun:
    """What one real run left in its crash folder, and how long each part took (seconds)."""

    crash_dir: str
    trigger: str
    kdump: bool
    console: str = ""                 # everything the serial port printed (LF line ends)
    first_console: str = ""           # the crashed kernel
    capture_console: str = ""         # the capture kernel ("" without kdump)
    vmcore: Optional[str] = None      # the rebuilt dump (kdump-compressed); None when the kernel went on
    module: Optional[str] = None      # the null_deref.ko the oops scenarios loaded
    qemu_seconds: float = 0.0
    total_seconds: float = 0.0
    command: List[str] = field(default_factory=list)


def split_console(text: str) -> "tuple[str, str]":
    """The first kernel's console and the capture kernel's, cut at the second ``Linux version`` line.

    >>> split_console("[    0.000000] Linux version 6.1\\nA\\n[    0.000000] Linux version 6.1\\nB\\n")
    ('[    0.000000] Linux version 6.1\\nA\\n', '[    0.000000] Linux version 6.1\\nB\\n')
    """
    starts = [m.start() for m in CAPTURE_START.finditer(text)]
    if len(starts) < 2:
        return text, ""
    return text[:starts[1]], text[starts[1]:]


def _size_mib(text: str, what: str) -> int:
    m = re.fullmatch(r"(\d+)([MG])", text.strip().upper())
    if not m:
        raise RealRunError(f"{what}={text!r}: give a size such as 512M or 1G")
    return int(m.group(1)) * (1024 if m.group(2) == "G" else 1)


def qemu_command(host: HostTools, initrd: str, console: str, disk: str, cmdline: str,
                 cpus: int = 2, memory: str = DEFAULT_MEMORY) -> List[str]:
    """The QEMU command line: TCG, serial console to a file, the dump disk as virtio, no reboot."""
    return [host.qemu, "-accel", "tcg", "-machine", "pc", "-smp", str(cpus), "-m", memory,
            "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", f"file:{console}",
            "-kernel", host.vmlinuz, "-initrd", initrd, "-append", cmdline,
            "-drive", f"file={disk},format=raw,if=virtio"]


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        return ""


def run_real(trigger: str = "sysrq-c", *, kdump: bool = True, crash_dir: str = "crash",
             memory: str = DEFAULT_MEMORY, crashkernel: str = DEFAULT_CRASHKERNEL, cpus: int = 2,
             dump_level: int = 31, compress: str = "lzo", timeout: float = DEFAULT_TIMEOUT,
             kaslr: bool = True, host: Optional[HostTools] = None,
             progress: Progress = lambda template, values: None) -> RealRun:
    """Boot the real kernel, crash it with ``trigger`` and (``kdump``) save the dump in ``crash_dir``.

    ``crash_dir`` receives ``console.log`` (all of it), ``console.first.log``, and with kdump
    ``console.capture.log`` and ``vmcore`` (kdump-compressed with ``compress``, ``-d dump_level``):
    lzo is the fast one (the copy takes seconds under TCG), zlib the small one (three times slower).
    ``kaslr=False`` boots with ``nokaslr``: the kernel image and the direct map stay where they were
    linked (KERNELOFFSET=0), which the lab's analysis layer needs until it relocates symbols.
    ``progress`` is told each step as one of :data:`STEPS` and its values (the CLI translates and
    prints them; the library does not print).
    """
    if trigger not in SCENARIOS:
        raise RealRunError(f"unknown scenario {trigger!r} for the real kernel: it knows {', '.join(TRIGGERS)}")
    if not 0 <= dump_level <= 31:
        raise RealRunError(f"dump level {dump_level}: give 0-31 (makedumpfile's -d)")
    if compress not in COMPRESSION:
        raise RealRunError(f"compression {compress!r}: Debian's makedumpfile has {', '.join(COMPRESSION)}")
    if not 1 <= cpus <= 8:
        raise RealRunError(f"cpus={cpus}: give 1-8")
    mem, ck = _size_mib(memory, "memory"), _size_mib(crashkernel, "crashkernel")
    if kdump and not 64 <= ck <= mem - 192:
        raise RealRunError(f"crashkernel={crashkernel} with memory={memory}: the capture kernel needs "
                           f"at least 64M and the first kernel at least 192M of the rest")
    host = host or find_host()
    t0 = time.monotonic()
    os.makedirs(crash_dir, exist_ok=True)
    scenario = SCENARIOS[trigger]
    run = RealRun(crash_dir=crash_dir, trigger=trigger, kdump=kdump)
    with tempfile.TemporaryDirectory(prefix="kpanic-real-") as tmp:
        if scenario.module:
            progress(STEPS["module"], {"module": MODULE, "headers": headers_dir(host.release)})
            run.module = build_module(host.release)
        progress(STEPS["build"], {})
        initrd = os.path.join(tmp, "first.img")
        with open(initrd, "wb") as f:
            f.write(build_images(host, trigger, f"{COMPRESSION[compress]} -d {dump_level}", run.module))
        disk = os.path.join(tmp, "disk.raw")
        with open(disk, "wb") as f:
            f.truncate(DISK_SIZE)
        console = os.path.join(tmp, "console.log")
        cmdline = ("console=ttyS0 panic=0" + (f" {scenario.cmdline}" if scenario.cmdline else "")
                   + (f" crashkernel={crashkernel}" if kdump else "")
                   + ("" if kaslr else " nokaslr"))
        run.command = qemu_command(host, initrd, console, disk, cmdline, cpus, memory)
        progress(STEPS["boot"], {"kernel": os.path.basename(host.vmlinuz), "cpus": str(cpus), "memory": memory,
                                 "cmdline": cmdline, "timeout": f"{timeout:.0f}"})
        t1 = time.monotonic()
        qemu_err = open(os.path.join(tmp, "qemu.err"), "w+b")     # a file: a full pipe would stall QEMU
        try:
            proc = subprocess.Popen(run.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=qemu_err, start_new_session=True)
        except OSError as e:
            qemu_err.close()
            raise RealRunError(f"{host.qemu}: cannot start: {e.strerror}") from None
        why = ""
        try:
            while True:
                if proc.poll() is not None:
                    break
                if time.monotonic() - t1 > timeout:
                    why = f"QEMU did not finish within {timeout:.0f} s"
                    break
                text = _read(console)
                failed = INIT_FAILED.search(text)
                if failed:
                    why = f"the guest's init failed: {failed.group(1)}"
                    break
                if scenario.survives and "Kernel panic - not syncing" in text:
                    why = "the kernel panicked, though this scenario expects it to go on after the oops"
                    break
                if not kdump and not scenario.survives and END_MARKER in text:
                    time.sleep(0.5)            # the rest of the end marker's line
                    break
                time.sleep(0.2)
        finally:
            _stop(proc)
        run.qemu_seconds = time.monotonic() - t1
        qemu_err.seek(0)
        err = qemu_err.read(1 << 16).decode(errors="replace").strip()
        qemu_err.close()
        run.console = _read(console)
        run.first_console, run.capture_console = split_console(run.console)
        _save(crash_dir, "console.log", run.console)
        _save(crash_dir, "console.first.log", run.first_console)
        if kdump and not scenario.survives:
            _save(crash_dir, "console.capture.log", run.capture_console)
        if not why and (kdump or scenario.survives) and proc.returncode not in (0, -signal.SIGKILL):
            why = f"QEMU exited with status {proc.returncode}: {err.splitlines()[-1] if err else 'no message'}"
        if not why and scenario.survives and OOPS_SURVIVED not in run.console:
            why = f"the kernel did not go on after the oops (no '{OOPS_SURVIVED}' on the console)"
        if not why and not kdump and not scenario.survives and END_MARKER not in run.console:
            why = f"QEMU stopped before the panic's end marker: {err.splitlines()[-1] if err else 'no message'}"
        if why:
            raise RealRunError(f"{why} (console in {os.path.join(crash_dir, 'console.log')})")
        if kdump and not scenario.survives:
            if "makedumpfile rc=0" not in run.capture_console:
                raise RealRunError("the capture kernel did not save a dump (no 'makedumpfile rc=0' on its "
                                   f"console; see {os.path.join(crash_dir, 'console.capture.log')})")
            run.vmcore = os.path.join(crash_dir, "vmcore")
            progress(STEPS["rebuild"], {"vmcore": run.vmcore})
            _rebuild(host, disk, run.vmcore)
    run.total_seconds = time.monotonic() - t0
    return run


def _save(crash_dir: str, name: str, text: str) -> None:
    with open(os.path.join(crash_dir, name), "w") as f:
        f.write(text)


def _rebuild(host: HostTools, disk: str, vmcore: str) -> None:
    """The host's ``makedumpfile -R vmcore < disk`` (the flattened stream ends at its end marker)."""
    if os.path.exists(vmcore):
        os.unlink(vmcore)
    with open(disk, "rb") as f:
        try:
            r = subprocess.run([host.makedumpfile, "-R", vmcore], stdin=f, capture_output=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            raise RealRunError(f"makedumpfile -R {vmcore}: no result within 120 s") from None
    if r.returncode != 0:
        last = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()
        raise RealRunError(f"makedumpfile -R {vmcore} failed (status {r.returncode}): "
                           f"{last[-1] if last else 'no message'}")
