"""The two initramfs images of the real run, built from the host's Debian binaries.

    first.img    /init, busybox, kexec (+ its libraries), /vmlinuz, /capture.img, virtio modules,
                 and for the oops scenarios null_deref.ko (built by :mod:`kpanic_lab.real.kbuild`)
    capture.img  /init, busybox, makedumpfile (+ its libraries), virtio modules

Both are uncompressed ``newc`` cpio archives (what the kernel unpacks with no decompressor: under
QEMU's TCG unpacking gzip costs seconds).  The first kernel cannot hand its own initramfs to the
capture kernel (it is freed after unpacking), so the capture image travels inside the first one and
``kexec -p /vmlinuz --initrd=/capture.img`` loads it into the ``crashkernel=`` memory.

Shared libraries are the ones ``ldd`` names on the host, copied to the same paths; kernel modules
come with their dependencies from ``modules.dep``, loaded in that order.  Every entry has mtime 0
and uid 0, so the same host files give the same bytes.

>>> archive = newc([CpioEntry("init", b"#!/bin/sh\\n", 0o100755)])
>>> archive[:6], len(archive) % 512
(b'070701', 0)
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

from kpanic_lab.real.host import HostTools, RealHostError
from kpanic_lab.real.kbuild import MODULE

# the block device stack of QEMU's `-drive if=virtio` (modules in Debian's kernel)
MODULES = ("virtio_pci", "virtio_blk")

S_IFDIR, S_IFREG, S_IFLNK = 0o040000, 0o100000, 0o120000
MODULE_FILE = f"{MODULE}.ko"



@dataclass(frozen=True)
class RealScenario:
    """One way to crash the real kernel, named as the lab's scenario that does the same.

    ``write`` is the user's write that triggers it; ``child``: run it in a child shell (an oops
    kills the task that wrote, and that must not be init); ``cmdline``: added to the kernel's;
    ``module``: the write needs null_deref.ko; ``survives``: the kernel goes on after it
    (panic_on_oops=0), so init says so and powers the machine off, and there is no dump.
    """

    name: str
    summary: str
    write: str
    cmdline: str = ""
    module: bool = False
    child: bool = False
    survives: bool = False


SCENARIOS: Dict[str, RealScenario] = {s.name: s for s in (
    RealScenario("sysrq-c", "SysRq-c: panic(\"sysrq triggered crash\")", "echo c > /proc/sysrq-trigger"),
    RealScenario("oops", "a NULL write in null_deref.ko's /proc write handler; panic_on_oops=0: the writer dies",
                 "echo 1 > /proc/null_deref", module=True, child=True, survives=True),
    RealScenario("oops-panic", "the same NULL write booted with oops=panic: 'Fatal exception'",
                 "echo 1 > /proc/null_deref", cmdline="oops=panic", module=True, child=True),
)}
TRIGGERS = tuple(SCENARIOS)
OOPS_SURVIVED = "oops survived, powering off"       # the init's LAB: line when the kernel went on

INIT = r"""#!/bin/busybox sh
# kpanic_lab's init for the real kernel: the same script runs in the first and in the capture kernel
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "LAB: [$(up)] $*"; }
fail() { say "FAILED: $*"; poweroff -f; }
for m in @MODULES@; do insmod "$m" || fail "insmod $m"; done
if [ -e /proc/vmcore ]; then
    say "capture kernel: /proc/vmcore present"
    say "cmdline: $(cat /proc/cmdline)"
    n=0; while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
    [ -b /dev/vda ] || fail "no /dev/vda for the dump"
    say "makedumpfile -F @LEVEL@ /proc/vmcore > /dev/vda"
    makedumpfile -F @LEVEL@ /proc/vmcore > /dev/vda
    rc=$?
    sync
    say "makedumpfile rc=$rc"
    [ $rc = 0 ] || fail "makedumpfile rc=$rc"
    say "capture done, rebooting"
    reboot -f
fi
say "first kernel up"
say "cmdline: $(cat /proc/cmdline)"
if grep -q crashkernel= /proc/cmdline; then
    say "kexec -p /vmlinuz --initrd=/capture.img"
    kexec -p /vmlinuz --initrd=/capture.img --append="@CAPTURE_CMDLINE@" || fail "kexec -p rc=$?"
    say "/sys/kernel/kexec_crash_loaded = $(cat /sys/kernel/kexec_crash_loaded)"
    [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "no capture kernel loaded"
fi
@TRIGGER@
"""

CAPTURE_CMDLINE = "console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1"


@dataclass(frozen=True)
class CpioEntry:
    """One file, directory or symlink of a newc archive (``data`` is a symlink's target)."""

    name: str
    data: bytes
    mode: int


def newc(entries: Iterable[CpioEntry]) -> bytes:
    """A newc ("070701") cpio archive of ``entries``, ending with TRAILER!!!, padded to 512 bytes."""
    out = bytearray()

    def put(ino: int, e: CpioEntry) -> None:
        name = e.name.encode() + b"\0"
        fields = (ino, e.mode, 0, 0, 2 if e.mode & S_IFDIR == S_IFDIR else 1, 0, len(e.data),
                  0, 0, 0, 0, len(name), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + name)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(e.data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, e in enumerate(entries, start=1):
        put(ino, e)
    put(0, CpioEntry("TRAILER!!!", b"", 0))
    out.extend(b"\0" * (-len(out) % 512))
    return bytes(out)


def shared_libraries(binary: str) -> List[str]:
    """The paths ``ldd`` names for ``binary`` (its loader included), in ldd's order."""
    try:
        text = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise RealHostError(f"ldd {binary}: cannot list its shared libraries ({e}); install libc-bin") from None
    return parse_ldd(text)


def parse_ldd(text: str) -> List[str]:
    """The library paths in ldd's output (pure).

    >>> parse_ldd("\\tlinux-vdso.so.1 (0x7)\\n\\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x7)\\n"
    ...           "\\t/lib64/ld-linux-x86-64.so.2 (0x7)\\n")
    ['/lib/x86_64-linux-gnu/libz.so.1', '/lib64/ld-linux-x86-64.so.2']
    """
    out = []
    for line in text.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            out.append(m.group(1))
        elif "not found" in line:
            raise RealHostError(f"ldd: a library is missing on the host: {line.strip()}")
    return out


def module_order(modules_dep: str, wanted: Iterable[str]) -> List[str]:
    """The relative paths of ``wanted`` modules and their dependencies, each after what it needs.

    ``modules_dep`` is the text of /lib/modules/<release>/modules.dep (pure).

    >>> dep = "kernel/a.ko: kernel/b.ko kernel/c.ko\\nkernel/b.ko: kernel/c.ko\\nkernel/c.ko:\\n"
    >>> module_order(dep, ["a"])
    ['kernel/c.ko', 'kernel/b.ko', 'kernel/a.ko']
    """
    deps: Dict[str, List[str]] = {}
    by_name: Dict[str, str] = {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        by_name[re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(mod)).replace("-", "_")] = mod
    order: List[str] = []

    def visit(mod: str) -> None:
        if mod in order:
            return
        for d in reversed(deps.get(mod, [])):     # modules.dep lists the deepest dependency last
            visit(d)
        order.append(mod)

    for name in wanted:
        if name not in by_name:
            raise RealHostError(f"modules.dep: no module {name!r} (the kernel package is incomplete?)")
        visit(by_name[name])
    return order


class _Tree:
    """The files of one image: parents created on the way, each path once."""

    def __init__(self) -> None:
        self.entries: Dict[str, CpioEntry] = {}

    def _dirs(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.entries:
                self.entries[d] = CpioEntry(d, b"", S_IFDIR | 0o755)

    def add(self, path: str, data: bytes, perm: int = 0o755) -> None:
        path = path.lstrip("/")
        self._dirs(path)
        self.entries[path] = CpioEntry(path, data, S_IFREG | perm)

    def add_file(self, host_path: str, path: str = "") -> None:
        try:
            with open(host_path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise RealHostError(f"{host_path}: cannot read: {e.strerror}") from None
        self.add(path or host_path, data, os.stat(host_path).st_mode & 0o777)

    def add_dir(self, path: str) -> None:
        path = path.lstrip("/")
        self._dirs(path + "/x")

    def archive(self) -> bytes:
        return newc(self.entries[k] for k in sorted(self.entries))


def trigger_lines(scenario: RealScenario) -> str:
    """The end of /init for ``scenario``: load the module, write, and say what came of it (pure).

    >>> print(trigger_lines(SCENARIOS["sysrq-c"]))
    say "triggering: echo c > /proc/sysrq-trigger"
    echo c > /proc/sysrq-trigger
    fail "still running after the trigger"
    """
    lines = []
    if scenario.module:
        lines.append(f'insmod /lib/modules/{MODULE_FILE} || fail "insmod {MODULE_FILE}"')
    lines.append(f'say "triggering: {scenario.write}"')
    if scenario.child:      # sh -c: the oops kills that shell (comm "sh", as in the lab), not init
        lines += [f'sh -c "{scenario.write}"', "rc=$?"]
    else:
        lines.append(scenario.write)
    if scenario.survives:
        lines += ['say "the writer died (status $rc), the kernel goes on: '
                  '/proc/sys/kernel/tainted = $(cat /proc/sys/kernel/tainted)"',
                  f'say "{OOPS_SURVIVED}"', "poweroff -f"]
    else:
        lines.append('fail "still running after the trigger"')
    return "\n".join(lines)


def init_script(trigger: str, level: str, modules: List[str]) -> bytes:
    """/init for both kernels (``level``: makedumpfile's options, e.g. ``-c -d 31``; ``modules``: the
    file names of the modules to load, in order)."""
    if trigger not in SCENARIOS:
        raise RealHostError(f"unknown trigger {trigger!r}: the real run knows {', '.join(TRIGGERS)}")
    text = (INIT.replace("@MODULES@", " ".join(f"/lib/modules/{m}" for m in modules))
            .replace("@LEVEL@", level).replace("@TRIGGER@", trigger_lines(SCENARIOS[trigger]))
            .replace("@CAPTURE_CMDLINE@", CAPTURE_CMDLINE))
    return text.encode()


def _base(tree: _Tree, host: HostTools, init: bytes) -> List[str]:
    for d in ("proc", "sys", "dev", "tmp", "bin", "sbin", "usr/bin", "usr/sbin"):
        tree.add_dir(d)
    tree.add("init", init)
    tree.add_file(host.busybox, "bin/busybox")
    with open(os.path.join(host.modules, "modules.dep")) as f:
        mods = module_order(f.read(), MODULES)
    for m in mods:
        tree.add_file(os.path.join(host.modules, m), f"lib/modules/{os.path.basename(m)}")
    return [os.path.basename(m) for m in mods]


def _with_libraries(tree: _Tree, binary: str, path: str) -> None:
    tree.add_file(binary, path)
    for lib in shared_libraries(binary):
        tree.add_file(os.path.realpath(lib), lib)


def build_images(host: HostTools, trigger: str = "sysrq-c", level: str = "-c -d 31",
                 module: Optional[str] = None) -> bytes:
    """The first kernel's initramfs (the capture image inside it), as bytes; ``module``: the path
    of the built null_deref.ko, which the oops scenarios need."""
    if SCENARIOS.get(trigger, SCENARIOS["sysrq-c"]).module and not module:
        raise RealHostError(f"the {trigger} scenario needs {MODULE_FILE} (kbuild.build_module)")
    capture = _Tree()
    mods = _base(capture, host, b"")
    init = init_script(trigger, level, mods)
    capture.add("init", init)
    _with_libraries(capture, host.makedumpfile, "usr/sbin/makedumpfile")
    first = _Tree()
    _base(first, host, init)
    _with_libraries(first, host.kexec, "usr/sbin/kexec")
    first.add_file(host.vmlinuz, "vmlinuz")
    if module:
        first.add_file(module, f"lib/modules/{MODULE_FILE}")
    first.add("capture.img", capture.archive(), 0o644)
    return first.archive()

