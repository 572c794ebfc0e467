"""Issue 9, item 2: the image that wrote an old vmcore is found by its build-id in the lab's history."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kpanic_lab.errors import LabError
from kpanic_lab.guest import vmlinux_path
from kpanic_lab.guest.archive import (IMAGE_IN_REPO, ImageNotFound, build_id_of, find_vmlinux, normalise_build_id,
                                      shipped_images)
from kpanic_lab.guest.image import KernelImage

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed (apt-get install git)")


@pytest.fixture(scope="module")
def shipped() -> bytes:
    if not vmlinux_path().is_file():
        pytest.skip(f"no guest image at {vmlinux_path()} (make guest)")
    return vmlinux_path().read_bytes()


def _other_build(image: bytes) -> bytes:
    """The same image under another build-id (the note's bytes flipped), as a rebuild of changed sources."""
    bid = bytes.fromhex(build_id_of(image) or "")
    i = image.index(bid)
    return image[:i] + bytes(b ^ 0xFF for b in bid) + image[i + len(bid):]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True, timeout=60)


@pytest.fixture
def history(tmp_path, shipped):
    """A lab repository that shipped an old image, then the current one."""
    repo = tmp_path / "lab"
    (repo / IMAGE_IN_REPO).parent.mkdir(parents=True)
    _git(repo, "init", "-q")
    old = _other_build(shipped)
    for n, data in enumerate((old, shipped)):
        (repo / IMAGE_IN_REPO).write_bytes(data)
        _git(repo, "add", IMAGE_IN_REPO)
        _git(repo, "commit", "-q", "-m", f"image {n}")
    return repo, old


def test_build_id_of_reads_the_note(shipped):
    assert build_id_of(shipped) == KernelImage(vmlinux_path()).build_id
    assert build_id_of(b"not an ELF file") is None


def test_the_current_image_is_found_first(shipped, tmp_path):
    assert find_vmlinux(build_id_of(shipped).upper(), repo=tmp_path, cache=tmp_path / "c") == vmlinux_path()


@needs_git
def test_an_image_the_lab_shipped_before_comes_back_from_history(history, tmp_path):
    repo, old = history
    assert len(list(shipped_images(repo))) == 2
    cache = tmp_path / "cache"
    path = find_vmlinux(build_id_of(old), repo=repo, cache=cache)
    assert path == cache / build_id_of(old) and path.read_bytes() == old
    # the second time from the cache, with no history at all
    assert find_vmlinux(build_id_of(old), repo=tmp_path / "nowhere", cache=cache) == path


@needs_git
def test_an_image_never_shipped_is_refused_with_what_to_do(history, tmp_path):
    repo, _ = history
    with pytest.raises(ImageNotFound, match="never shipped.*make guest"):
        find_vmlinux("ab" * 20, repo=repo, cache=tmp_path / "cache")


def test_a_bad_build_id_is_named():
    with pytest.raises(LabError, match="--build-id 'xyz': a build-id is an even number of hex digits"):
        normalise_build_id("xyz")


@pytest.mark.slow
@needs_git
def test_the_refusal_says_how_to_get_the_matching_vmlinux(history, tmp_path):
    """crash on a vmcore from an older image: the message gives the command, and the command works."""
    from kpanic_lab.analysis import live_target
    from kpanic_lab.analysis.dumptarget import MismatchError, open_dump_target
    from tests.support.livecore import vmcoreinfo_from_image, write_vmcore_from_machine

    repo, old = history
    target = live_target("sysrq-c")
    image = KernelImage(vmlinux_path())
    info = vmcoreinfo_from_image(image).replace(f"BUILD-ID={image.build_id}", f"BUILD-ID={build_id_of(old)}")
    with open(tmp_path / "vmcore", "wb") as f:
        write_vmcore_from_machine(target.machine, f, vmcoreinfo=info)
    with pytest.raises(MismatchError, match=f"`kpanic-lab vmlinux --build-id {build_id_of(old)}`"):
        open_dump_target(tmp_path / "vmcore")
    assert find_vmlinux(build_id_of(old), repo=repo, cache=tmp_path / "cache").read_bytes() == old
