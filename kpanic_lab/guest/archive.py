"""Every guest image the lab shipped, found by build-id: the vmlinux that matches an old vmcore.

The guest build is reproducible (the same sources give the same bytes in any folder), so rebuilding
the same sources keeps a class's vmcores openable.  When the sources really changed, the images
the lab shipped before are still in its git history (``kpanic_lab/guest/images/vmlinux`` at each
commit that changed it): nothing extra is stored in the repository.  :func:`find_vmlinux` looks
for a build-id in the image the lab boots now, in a cache of images found before, then in that
history, and keeps what it finds in the cache::

    $ kpanic-lab vmlinux --build-id 974c2483dabfef4633670c6d21c7f73700a0b088
    ~/.cache/kpanic_lab/vmlinux/974c2483dabfef4633670c6d21c7f73700a0b088
"""
from __future__ import annotations

import io
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from kpanic_lab.errors import LabError
from kpanic_lab.guest import GUEST_DIR, vmlinux_path

IMAGE_IN_REPO = "kpanic_lab/guest/images/vmlinux"
GIT_TIMEOUT = 60.0


class ImageNotFound(LabError):
    """No image the lab shipped has the build-id asked for; the message says what to do."""


@dataclass(frozen=True)
class ShippedImage:
    """One version of images/vmlinux in the lab's history."""

    commit: str
    blob: str


def build_id_of(data: bytes) -> Optional[str]:
    """The GNU build-id (hex) of an ELF image held in ``data``; None if it has none or is not ELF."""
    try:
        elf = ELFFile(io.BytesIO(data))
        for sec in elf.iter_sections():
            if sec["sh_type"] == "SHT_NOTE":
                for note in sec.iter_notes():  # type: ignore[attr-defined]
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        return str(note["n_desc"]).lower()
    except (ELFError, ValueError, OSError):
        return None
    return None


def normalise_build_id(text: str) -> str:
    """A build-id as the lab writes it (lower-case hex), or a LabError naming what is wrong.

    >>> normalise_build_id("974C2483DABFEF4633670C6D21C7F73700A0B088")
    '974c2483dabfef4633670c6d21c7f73700a0b088'
    """
    bid = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,128}", bid) or len(bid) % 2:
        raise LabError(f"--build-id {text!r}: a build-id is an even number of hex digits (8 to 128), "
                       "as `readelf -n` and crash's `sys` show it")
    return bid


def cache_dir() -> Path:
    """Where found images are kept: $XDG_CACHE_HOME/kpanic_lab/vmlinux (~/.cache by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kpanic_lab" / "vmlinux"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT)


def lab_repository(start: Path = GUEST_DIR) -> Optional[Path]:
    """The git checkout the lab runs from, if it runs from one (a pip-installed lab does not)."""
    try:
        r = _git(start, "rev-parse", "--show-toplevel")
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    top = Path(r.stdout.decode().strip())
    return top if (top / IMAGE_IN_REPO).parent.is_dir() else None


def shipped_images(repo: Path) -> Iterator[ShippedImage]:
    """Each distinct images/vmlinux in the history of ``repo``'s HEAD, newest first."""
    r = _git(repo, "log", "--format=%H", "HEAD", "--", IMAGE_IN_REPO)
    if r.returncode != 0:
        return
    seen = set()
    for commit in r.stdout.decode().split():
        b = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}:{IMAGE_IN_REPO}")
        blob = b.stdout.decode().strip()
        if b.returncode == 0 and blob and blob not in seen:
            seen.add(blob)
            yield ShippedImage(commit, blob)


def find_vmlinux(build_id: str, repo: Optional[Path] = None, cache: Optional[Path] = None) -> Path:
    """The path of a guest image whose build-id is ``build_id`` (the current one, a cached one, or
    one taken from the lab's git history and written to the cache)."""
    bid = normalise_build_id(build_id)
    current = vmlinux_path()
    if current.is_file() and build_id_of(current.read_bytes()) == bid:
        return current
    cache = cache if cache is not None else cache_dir()
    kept = cache / bid
    if kept.is_file() and build_id_of(kept.read_bytes()) == bid:
        return kept
    repo = repo if repo is not None else lab_repository()
    if repo is None:
        raise ImageNotFound(f"no vmlinux with build-id {bid} here: this lab is not a git clone, so its "
                            "earlier images are not at hand; run `kpanic-lab vmlinux --build-id "
                            f"{bid}` in a git clone of the lab")
    for img in shipped_images(repo):
        data = _git(repo, "cat-file", "blob", img.blob).stdout
        if build_id_of(data) == bid:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f".{bid}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, kept)
            return kept
    raise ImageNotFound(f"no vmlinux with build-id {bid} in the lab's history ({repo}): the dump was "
                        "written by an image the lab never shipped (one built from changed sources?); "
                        "rebuild those sources with `make guest` and give that vmlinux")


__all__ = ["ImageNotFound", "ShippedImage", "build_id_of", "normalise_build_id", "cache_dir", "lab_repository",
           "shipped_images", "find_vmlinux"]
