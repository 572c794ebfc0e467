"""The capture kernel's collector: what RHEL's kdump.sh does in the kdump initramfs.

The guest's ``kdump`` program (run by init when /proc/vmcore exists) sends
/proc/cmdline and the start of /proc/vmcore - its ELF header and notes, which
the capture kernel built from elfcorehdr=.  The collector then reads the old
memory the PT_LOADs describe directly, as makedumpfile's mmap mode reads
/proc/vmcore, filters and compresses it, and writes it to the dump target of
kdump.conf: ``<path>/<host>-<date>/vmcore`` (written as ``vmcore-incomplete``
and renamed only when whole) and ``vmcore-dmesg.txt``.  What happens next is
kdump.conf's final_action, or its failure_action when the dump failed.

Targets are folders on the host: the lab's local disk (``crash_dir``), a
remote host for ``ssh``/``nfs`` (``remote_dir``, which can be made
unreachable), a disk image for ``raw``; a disk can be given a size, so that
it fills up mid-dump.
"""
from __future__ import annotations

import datetime as dt
import errno
import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple

import posixpath

import numpy as np

from kpanic_lab.errors import LabError
from kpanic_lab.formats.elfcore import ElfCore
from kpanic_lab.formats.dump import Dump
from kpanic_lab.guest.headers import PAGE_SIZE
from kpanic_lab.kdump.config import DEFAULT_CORE_COLLECTOR_FLAT, KdumpConf, MakedumpfileArgs
from kpanic_lab.kdump.makedumpfile import MakedumpfileError, Result, dump_dmesg, makedumpfile
from kpanic_lab.machine import Machine, ToolRequest

LAB_EPOCH = dt.datetime(2026, 11, 26, 8, 0, 0)   # the lab's wall clock at power-on (param.h LAB_EPOCH_SECONDS)
LOCAL_HOST = "127.0.0.1"
CAPTURE_IP = "192.168.122.10"                   # the crashed machine, as a remote target names it


class TargetError(LabError):
    """The dump target could not take the dump (unreachable, full, not writable)."""


@dataclass
class Targets:
    """Where dumps can go, on the host."""

    crash_dir: Path                         # the lab's local disk, mounted at / in the guest
    remote_dir: Optional[Path] = None       # the ssh/nfs server's export
    remote_reachable: bool = True
    raw_image: Optional[Path] = None        # the block device of a `raw` target
    disk_limit: Optional[int] = None        # bytes the target can still take (None: plenty)


@dataclass
class CaptureOutcome:
    """What the collector did."""

    status: str                             # "saved" or "failed"
    action: str                             # what the capture kernel does next
    directory: Optional[Path] = None
    vmcore: Optional[Path] = None
    dmesg: Optional[Path] = None
    raw: Optional[Path] = None
    messages: List[str] = field(default_factory=list)
    error: Optional[str] = None
    result: object = None                   # makedumpfile's Result


class _ProcVmcore(io.RawIOBase):
    """/proc/vmcore as a file: its head as the capture kernel read it, then old memory."""

    def __init__(self, machine: Machine, head: bytes) -> None:
        self.m, self.head, self.pos = machine, head, 0
        self.loads = []
        e_phoff, e_phnum = struct.unpack_from("<Q", head, 32)[0], struct.unpack_from("<H", head, 56)[0]
        for i in range(e_phnum):
            p_type, _, off, _, paddr, filesz = struct.unpack_from("<IIQQQQ", head, e_phoff + 56 * i)
            if p_type == 1:
                self.loads.append((off, paddr, filesz))
        self.size = max([o + s for o, _, s in self.loads] + [len(head)])

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, off: int, whence: int = 0) -> int:
        self.pos = off if whence == 0 else self.pos + off if whence == 1 else self.size + off
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), max(0, self.size - self.pos))
        out = bytearray(n)
        done = 0
        while done < n:
            p = self.pos + done
            chunk = n - done
            data = None
            if p < len(self.head):
                chunk = min(chunk, len(self.head) - p)
                data = self.head[p:p + chunk]
            else:
                for off, paddr, size in self.loads:
                    if off <= p < off + size:
                        chunk = min(chunk, off + size - p)
                        data = self.m.mem.read(paddr + p - off, chunk)
                        break
            out[done:done + chunk] = data if data is not None else bytes(chunk)
            done += chunk
        b[:n] = out
        self.pos += n
        return n


class ProcVmcoreSource(ElfCore):
    """The capture kernel's /proc/vmcore for makedumpfile, old memory read in bulk (mmap mode)."""

    def __init__(self, machine: Machine, head: bytes) -> None:
        super().__init__(_ProcVmcore(machine, head), "/proc/vmcore")  # type: ignore[arg-type]
        self._machine = machine

    def read_physical(self, paddr: int, size: int) -> bytes:
        return self._machine.mem.read(paddr, size)

    def read_pages(self, pfns: np.ndarray) -> np.ndarray:
        pages = self._machine.mem.array.reshape(-1, PAGE_SIZE)
        out = np.zeros((len(pfns), PAGE_SIZE), dtype=np.uint8)
        ok = np.zeros(len(pfns), dtype=bool)
        for a, b in self.ranges:
            ok |= (pfns >= a // PAGE_SIZE) & (pfns < b // PAGE_SIZE) & (pfns < len(pages))
        out[ok] = pages[pfns[ok]]
        return out


class _Limited(io.RawIOBase):
    """A file on a disk with ``limit`` bytes free: past it, ENOSPC, as a full disk."""

    def __init__(self, f: BinaryIO, limit: Optional[int]) -> None:
        self.f, self.limit, self.n = f, limit, 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, off: int, whence: int = 0) -> int:
        return self.f.seek(off, whence)

    def tell(self) -> int:
        return self.f.tell()

    def write(self, b) -> int:  # type: ignore[no-untyped-def]
        pos, size = self.f.tell(), len(memoryview(b).cast("B"))     # self.n: the file's size on the disk
        if self.limit is not None and pos + size > max(self.n, self.limit):
            room = max(0, self.limit - pos)
            self.f.write(bytes(memoryview(b).cast("B")[:room]))
            self.n = max(self.n, pos + room)
            raise OSError(errno.ENOSPC, "No space left on device")
        self.f.write(b)
        self.n = max(self.n, pos + size)
        return size


MAX_SYMLINKS = 40            # Linux's MAXSYMLINKS: past it, ELOOP


def guest_path(path: str) -> str:
    """``path`` as the guest's file system resolves it: absolute, and ``..`` stops at ``/``.

    >>> guest_path("/../../../../tmp/evil")
    '/tmp/evil'
    """
    if "\0" in path:
        raise TargetError(f"path {path!r} holds a NUL byte")
    return posixpath.normpath("/" + path.lstrip("/"))


def resolve_in_root(root: Path, path: str) -> Path:
    """The host file of the guest's ``path`` on a disk whose top is the host folder ``root``.

    Each component is looked up as the guest would on that disk (as ``openat2`` with
    ``RESOLVE_IN_ROOT`` does): ``..`` and symbolic links, absolute or relative, are
    resolved inside ``root`` and can never leave it; a loop of links is ELOOP.
    """
    top = Path(os.path.realpath(root))
    todo = [p for p in guest_path(path).split("/") if p]
    done: List[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = top.joinpath(*done, part)
        if here.is_symlink():
            links += 1
            if links > MAX_SYMLINKS:
                raise TargetError(f"{path}: Too many levels of symbolic links")
            target = os.readlink(here)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p and p != "."] + todo
            continue
        done.append(part)
    return top.joinpath(*done)


def _inside(root: Optional[Path], path: Path) -> bool:
    top = os.path.realpath(root or "/")
    return os.path.commonpath([top, os.path.realpath(path)]) == top


def _create(path: Path) -> BinaryIO:
    """Open ``path`` for writing, never through a symbolic link planted at its name."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    return os.fdopen(fd, "wb")


def lab_time(machine: Machine) -> dt.datetime:
    """The lab's wall clock now: LAB_EPOCH at power-on, running with the machine's virtual time."""
    return LAB_EPOCH + dt.timedelta(microseconds=machine.clock_ns // 1000)


def lab_date(machine: Machine) -> str:
    """The date the capture kernel would put in the folder name (`date +%Y-%m-%d-%T`)."""
    return folder_date(lab_time(machine))


def folder_date(when: dt.datetime) -> str:
    """kdump.sh's DATEDIR: `date +%Y-%m-%d-%T`.

    >>> folder_date(dt.datetime(2026, 11, 26, 8, 0, 3))
    '2026-11-26-08:00:03'
    """
    return when.strftime("%Y-%m-%d-%H:%M:%S")


def collect(machine: Machine, request: ToolRequest, conf: KdumpConf, targets: Targets) -> CaptureOutcome:
    """Save the old kernel's memory as kdump.conf says, and decide what happens next."""
    head = request.files.get("/proc/vmcore", b"")
    out = CaptureOutcome("failed", conf.failure_action)
    say = out.messages.append
    try:
        dump = Dump(ProcVmcoreSource(machine, head), "elf")
    except LabError as e:
        say(f"kdump: /proc/vmcore is not usable: {e}")
        return _failed(out, conf, str(e))
    args = conf.makedumpfile
    if args is None:
        say(f"kdump: core_collector {conf.core_collector.split()[0]} is not available in the lab; "
            "use makedumpfile")
        return _failed(out, conf, "unsupported core_collector")
    date = lab_time(machine)
    try:
        if conf.target_type == "raw":
            _save_raw(dump, conf, targets, out, say)
        else:
            _save_to_dir(dump, conf, targets, out, say, date)
    except (TargetError, MakedumpfileError, OSError) as e:
        msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        say("kdump: saving vmcore failed")
        if conf.failure_action == "dump_to_rootfs" and conf.target_type is not None:
            return _dump_to_rootfs(dump, conf, targets, out, msg, date)
        return _failed(out, conf, msg)
    out.status = "saved"
    out.action = conf.final_action
    say(f"kdump: Executing final action {_systemctl(conf.final_action)}")
    return out


def _dump_to_rootfs(dump: Dump, conf: KdumpConf, targets: Targets, out: CaptureOutcome, why: str,
                    date: dt.datetime) -> CaptureOutcome:
    """failure_action dump_to_rootfs: try the root file system instead, then the final action."""
    import dataclasses

    say = out.messages.append
    say("kdump: Executing failure action dump_to_rootfs")
    local = dataclasses.replace(conf, target_type=None, target=None,
                                core_collector=conf.core_collector.replace(" -F", ""))
    try:
        _save_to_dir(dump, local, dataclasses.replace(targets, disk_limit=None), out, say, date)
    except (TargetError, MakedumpfileError, OSError) as e:
        say("kdump: saving vmcore failed")
        return _failed(out, dataclasses.replace(conf, failure_action="reboot"), f"{why}; rootfs: {e}")
    out.status, out.error, out.action = "saved", why, conf.final_action
    say(f"kdump: Executing final action {_systemctl(conf.final_action)}")
    return out


def _systemctl(action: str) -> str:
    return {"reboot": "systemctl reboot -f", "halt": "systemctl halt -f",
            "poweroff": "systemctl poweroff -f", "shell": "shell"}.get(action, action)


def _failed(out: CaptureOutcome, conf: KdumpConf, why: str) -> CaptureOutcome:
    out.status, out.error = "failed", why
    action = conf.failure_action
    out.action = "reboot" if action in ("dump_to_rootfs",) else action
    out.messages.append(f"kdump: Executing failure action {action}")
    return out


def _target_dir(conf: KdumpConf, targets: Targets, date: str) -> Tuple[Path, str]:
    """The host folder of the dump (``<path>/<host>-<date>``) and the guest's name for it, confined to
    the target's disk."""
    path = guest_path(conf.path)
    if conf.target_type in ("ssh", "nfs"):
        if targets.remote_dir is None or not targets.remote_reachable:
            where = conf.target or "the remote host"
            if conf.target_type == "ssh":
                raise TargetError(f"ssh: connect to host {where.split('@')[-1]} port 22: No route to host")
            raise TargetError(f"mount.nfs: mounting {where} failed: Connection timed out")
        host = CAPTURE_IP
        base, shown = targets.remote_dir, f"{conf.target}:{path}"
    else:
        host = LOCAL_HOST
        base, shown = targets.crash_dir, f"/sysroot{path}"
    sub = f"{path.rstrip('/')}/{host}-{date}"
    return resolve_in_root(base, sub), f"{shown.rstrip('/')}/{host}-{date}/"


def _run_makedumpfile(dump: Dump, args: MakedumpfileArgs, f: BinaryIO, targets: Targets, fmt: str,
                      flatten: bool, output_name: str, out: CaptureOutcome) -> Result:
    """The core_collector onto ``f`` (a disk with ``targets.disk_limit`` free), its messages in ``out``."""
    say = out.messages.append
    try:
        res = makedumpfile(dump, _Limited(f, targets.disk_limit), args.dump_level,  # type: ignore[arg-type]
                           args.compression, fmt, flatten, output_name=output_name)
    except OSError as e:
        say(f"write_buffer: Can't write the dump file({output_name}). {e.strerror}")
        if getattr(e, "incomplete_dump", False):     # the header now says so (*_INCOMPLETE)
            say("This is an incomplete dumpfile, but might analyzable.")
        say("makedumpfile Failed.")
        raise
    # on the console in the order makedumpfile wrote them (stdout and stderr both go there)
    level = args.message_level if args.message_level is not None else 7
    text = "".join(m.text for m in res.messages if m.level & level)
    out.messages.extend(line for line in text.splitlines() if line.strip())
    return res


def _claim_dir(conf: KdumpConf, targets: Targets, when: dt.datetime) -> Tuple[Path, str]:
    """Create the dump's own folder, ``<host>-<date>``, and never one an earlier dump has.

    Every lab machine powers on at the same wall-clock time (LAB_EPOCH: runs are deterministic), so
    a second run into the same target would name the same second, where a real machine's clock
    would have moved on: the date moves on by whole seconds until the name is free. The folder is
    made with one mkdir, so two runs at once cannot both take it.
    """
    for step in range(100_000):
        directory, shown = _target_dir(conf, targets, folder_date(when + dt.timedelta(seconds=step)))
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        return directory, shown
    raise TargetError(f"{directory.parent}: no free <host>-<date> folder name left")


def _save_to_dir(dump: Dump, conf: KdumpConf, targets: Targets, out: CaptureOutcome, say,  # type: ignore[no-untyped-def]
                 date: dt.datetime) -> None:
    directory, shown = _claim_dir(conf, targets, date)
    guest_dir = shown if conf.target_type not in ("ssh", "nfs") else shown.split(":", 1)[-1]
    base = targets.remote_dir if conf.target_type in ("ssh", "nfs") else targets.crash_dir
    if not _inside(base, directory):                       # a link made meanwhile
        raise TargetError(f"{guest_dir}: resolves outside the dump target")
    out.directory = directory
    say(f"kdump: saving to {shown}")
    say(f"kdump: saving vmcore-dmesg.txt to {shown}")
    tmp_dmesg = directory / "vmcore-dmesg-incomplete.txt"
    try:
        with _create(tmp_dmesg) as f:
            dump_dmesg(dump, _Limited(f, targets.disk_limit))  # type: ignore[arg-type]
    except (OSError, LabError) as e:
        # kdump.sh keeps vmcore-dmesg-incomplete.txt, says so, and goes on to the vmcore
        say(f"kdump: saving vmcore-dmesg.txt failed: {e.strerror if isinstance(e, OSError) else e}")
        out.dmesg = tmp_dmesg
    else:
        os.replace(tmp_dmesg, directory / "vmcore-dmesg.txt")
        out.dmesg = directory / "vmcore-dmesg.txt"
        say("kdump: saving vmcore-dmesg.txt complete")
    say("kdump: saving vmcore")
    args = conf.makedumpfile
    assert args is not None       # collect() refused any other core_collector
    tmp = directory / "vmcore-incomplete"
    with _create(tmp) as f:
        res = _run_makedumpfile(dump, args, f, targets, "elf" if args.elf else "kdump", args.flatten,
                                f"{guest_dir}vmcore-incomplete", out)
    final = "vmcore.flat" if args.flatten else "vmcore"   # RHEL: a flattened stream over ssh
    os.replace(tmp, directory / final)
    out.vmcore, out.result = directory / final, res
    say("kdump: saving vmcore complete")


def _save_raw(dump: Dump, conf: KdumpConf, targets: Targets, out: CaptureOutcome, say) -> None:  # type: ignore[no-untyped-def]
    if targets.raw_image is None:
        raise TargetError(f"raw: {conf.target}: no such block device in the lab (give raw_image)")
    device = guest_path(conf.target or "")
    if not device.startswith("/dev/") or device == "/dev/":
        raise TargetError(f"raw: {conf.target}: not a block device (a raw target is a /dev/ node)")
    args = conf.makedumpfile
    assert args is not None
    say(f"kdump: saving vmcore to raw device {conf.target}")
    targets.raw_image.parent.mkdir(parents=True, exist_ok=True)
    with _create(targets.raw_image) as f:
        res = _run_makedumpfile(dump, args, f, targets, "kdump", True, "STDOUT", out)
    out.raw, out.result = targets.raw_image, res
    say("kdump: saving vmcore complete")


def reply_text(outcome: CaptureOutcome) -> bytes:
    """What the guest's kdump program prints, and the action it takes."""
    return ("\n".join(outcome.messages) + f"\nfinal_action={outcome.action}\n").encode()


__all__ = ["Targets", "CaptureOutcome", "collect", "reply_text", "lab_date", "lab_time", "folder_date",
           "TargetError", "guest_path",
           "resolve_in_root",
           "DEFAULT_CORE_COLLECTOR_FLAT"]
