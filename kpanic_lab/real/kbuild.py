"""The lab's ``null_deref`` module built for the real kernel, with the host's kbuild, at run time.

Debian's kernel has no LKDTM (``CONFIG_LKDTM`` is not set), so the real oops comes from a tiny
out-of-tree module whose C source ships in ``kpanic_lab/real/module/`` (the same bug as the lab's
guest module: a write through a NULL ``struct`` pointer in a ``/proc/null_deref`` write handler).

    make -C /lib/modules/<release>/build M=<cache>/<release>-<hash> modules   ->  null_deref.ko

The build runs once per kernel release and source (the folder is named for both), under a timeout,
in ``$XDG_CACHE_HOME/kpanic_lab/real-module`` (``~/.cache/...``).  The headers must be those of the
kernel QEMU boots (``linux-headers-<release>``): the ``.ko``'s vermagic is checked against that
release before the module goes into the initramfs, since the kernel refuses a module built for
another one.  The module is unsigned: Debian's 6.1 has ``CONFIG_MODULE_SIG=y`` without
``MODULE_SIG_FORCE``, so it loads and taints the kernel 'E' (unsigned) besides 'O' (out of tree).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from typing import Optional

from elftools.elf.elffile import ELFFile

from kpanic_lab.real.host import RealHostError

MODULE = "null_deref"
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module")
SOURCES = (f"{MODULE}.c", "Kbuild")
BUILD_TIMEOUT = 180.0        # seconds; about 2 s on an idle machine


def headers_dir(release: str) -> str:
    """Where kbuild for ``release`` lives (Debian's linux-headers-<release> links it there)."""
    return f"/lib/modules/{release}/build"


def headers_line(release: str) -> str:
    """The one apt command that brings the headers (it pulls linux-kbuild and the right gcc).

    >>> headers_line("6.1.0-57-amd64")
    'apt-get install linux-headers-6.1.0-57-amd64'
    """
    return f"apt-get install linux-headers-{release}"


def parse_vermagic(modinfo: bytes) -> str:
    """The ``vermagic=`` string of a module's ``.modinfo`` section (NUL-separated key=value; pure).

    >>> parse_vermagic(b"license=GPL\\0vermagic=6.1.0-57-amd64 SMP preempt mod_unload modversions \\0")
    '6.1.0-57-amd64 SMP preempt mod_unload modversions '
    """
    for item in modinfo.split(b"\0"):
        if item.startswith(b"vermagic="):
            return item[len(b"vermagic="):].decode(errors="replace")
    return ""


def module_vermagic(ko: str) -> str:
    """The vermagic of the module file ``ko`` ('' when it has none)."""
    with open(ko, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".modinfo")
        return parse_vermagic(sec.data()) if sec is not None else ""


def _digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(SOURCE_DIR, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()[:12]


def cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kpanic_lab", "real-module")


def build_module(release: str, cache: Optional[str] = None, timeout: float = BUILD_TIMEOUT) -> str:
    """The path of ``null_deref.ko`` built for ``release`` (built now unless the cache has it).

    Raises RealHostError with the apt line when the headers are missing, with kbuild's last lines
    when the build fails, and when the result's vermagic is not ``release``'s.
    """
    build = headers_dir(release)
    if not os.path.isfile(os.path.join(build, "Makefile")):
        raise RealHostError(f"the real oops builds a module against the kernel's headers and {build} "
                            f"is missing; install them with: {headers_line(release)}")
    out = os.path.join(cache or cache_root(), f"{release}-{_digest()}")
    ko = os.path.join(out, f"{MODULE}.ko")
    if not os.path.isfile(ko):
        tmp = out + f".tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in SOURCES:
            shutil.copyfile(os.path.join(SOURCE_DIR, name), os.path.join(tmp, name))
        cmd = ["make", "-C", build, f"M={tmp}", "modules"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise RealHostError(f"no make to build the module; install it with: {headers_line(release)} make") \
                from None
        except subprocess.TimeoutExpired:
            raise RealHostError(f"{' '.join(cmd)}: no result within {timeout:.0f} s") from None
        if r.returncode != 0 or not os.path.isfile(os.path.join(tmp, f"{MODULE}.ko")):
            last = (r.stderr.strip() or r.stdout.strip()).splitlines()[-3:]
            raise RealHostError(f"{' '.join(cmd)} failed (status {r.returncode}): {' | '.join(last)}")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    magic = module_vermagic(ko)
    if magic.split(" ", 1)[0] != release:
        raise RealHostError(f"{ko}: vermagic {magic.strip()!r} is not the booted kernel's {release}: "
                            f"the headers in {build} are another kernel's")
    return ko
