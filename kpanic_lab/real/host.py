"""What the real run needs from the host: Debian's QEMU, kernel, busybox, kexec-tools, makedumpfile.

Nothing is downloaded at run time.  :func:`find_host` looks for each file where Debian installs it
and, when something is missing, raises one error that names every missing package and the
``apt-get install`` line that brings them:

    kpanic-lab: the real run needs Debian packages that are not installed: qemu-system-x86
    (no qemu-system-x86_64); install them with: apt-get install -y --no-install-recommends ...
"""
from __future__ import annotations

import glob
import os
import re
import shutil
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from kpanic_lab.errors import LabError

# package -> what we look for (a command on PATH, or a glob of files)
PACKAGES: Tuple[Tuple[str, str], ...] = (
    ("qemu-system-x86", "qemu-system-x86_64"),
    ("linux-image-amd64", "/boot/vmlinuz-*-amd64"),
    ("busybox-static", "/bin/busybox"),
    ("kexec-tools", "kexec"),
    ("makedumpfile", "makedumpfile"),
)

SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RealHostError(LabError):
    """A host package the real run needs is missing (the message names it and the apt line)."""


def apt_line(packages: List[str]) -> str:
    """The one command that installs ``packages``.

    >>> apt_line(["qemu-system-x86", "kexec-tools"])
    'apt-get install -y --no-install-recommends qemu-system-x86 kexec-tools'
    """
    return "apt-get install -y --no-install-recommends " + " ".join(packages)


def _version_key(path: str) -> Tuple[int, ...]:
    """Sort /boot/vmlinuz-6.1.0-57-amd64 after /boot/vmlinuz-6.1.0-9-amd64."""
    return tuple(int(n) for n in re.findall(r"\d+", os.path.basename(path)))


@dataclass(frozen=True)
class HostTools:
    """Paths of everything the real run uses, all found on the host."""

    qemu: str
    vmlinuz: str
    release: str          # "6.1.0-57-amd64": the kernel's modules are in /lib/modules/<release>
    modules: str          # /lib/modules/<release>
    busybox: str
    kexec: str
    makedumpfile: str


def _find(what: str) -> Optional[str]:
    if what.startswith("/"):
        hits = sorted(glob.glob(what), key=_version_key)
        return hits[-1] if hits else None
    return shutil.which(what, path=os.environ.get("PATH", "") + os.pathsep + SBIN_PATH)


def missing_packages() -> Dict[str, str]:
    """Each missing package with the file that was not found (empty when all are there)."""
    return {pkg: what for pkg, what in PACKAGES if _find(what) is None}


def find_host() -> HostTools:
    """The host's tools, or RealHostError naming every missing package in one line."""
    missing = missing_packages()
    found: Dict[str, str] = {pkg: _find(what) or "" for pkg, what in PACKAGES if pkg not in missing}
    vmlinuz = found.get("linux-image-amd64", "")
    release = os.path.basename(vmlinuz)[len("vmlinuz-"):] if vmlinuz else ""
    modules = f"/lib/modules/{release}"
    if vmlinuz and not os.path.isfile(os.path.join(modules, "modules.dep")):
        missing["linux-image-amd64"] = f"{modules}/modules.dep"
    if missing:
        what = ", ".join(f"{pkg} (no {path})" for pkg, path in missing.items())
        raise RealHostError(f"the real run needs Debian packages that are not installed: {what}; "
                            f"install them with: {apt_line(list(missing))}")
    return HostTools(qemu=found["qemu-system-x86"], vmlinuz=vmlinuz, release=release, modules=modules,
                     busybox=found["busybox-static"], kexec=found["kexec-tools"],
                     makedumpfile=found["makedumpfile"])
