"""The shipped vmlinux is a real kernel image: DWARF, a build-id, symbols gdb can list,
and it is exactly what the sources in kpanic_lab/guest build."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kpanic_lab.guest import GUEST_DIR, vmlinux_path
from kpanic_lab.guest.image import KernelImage


@pytest.fixture(scope="module")
def image() -> KernelImage:
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    return KernelImage.open()


def test_linked_at_the_x86_64_kernel_address(image):
    assert image.address_of("_text") == 0xFFFFFFFF81000000
    assert image.entry == image.address_of("startup_64")
    assert image.segments[0].paddr == 0x1000000


@pytest.mark.skipif(not shutil.which("readelf"), reason="readelf not installed")
def test_readelf_shows_dwarf_and_a_build_id(image):
    sections = subprocess.run(["readelf", "-S", str(image.path)], capture_output=True, text=True, check=True).stdout
    for s in (".debug_info", ".debug_line", ".debug_frame", ".symtab"):
        assert s in sections
    notes = subprocess.run(["readelf", "-n", str(image.path)], capture_output=True, text=True, check=True).stdout
    assert "NT_GNU_BUILD_ID" in notes and image.build_id and image.build_id in notes


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb not installed")
def test_gdb_lists_the_kernel_functions(image):
    out = subprocess.run(["gdb", "-nx", "-batch", "-ex", "info functions ^panic$", str(image.path)],
                         capture_output=True, text=True, timeout=120).stdout
    assert "panic(const char *, ...)" in out


def test_symbolize_like_printk(image):
    panic = image.symbol("panic")
    assert image.symbolize(panic.address + 0x10) == f"panic+0x10/0x{panic.size:x}"


def _build_copy(folder: Path, env: dict) -> Path:
    """Copy the guest's sources (not its build/ or images/) into ``folder`` and build them there."""
    src = folder / "guest"
    shutil.copytree(GUEST_DIR, src, ignore=shutil.ignore_patterns("build", "images", "__pycache__", "*.pyc"))
    proc = subprocess.run(["make", "-s", "-C", str(src)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})
    assert proc.returncode == 0, f"make in {src} failed:\n{proc.stderr[-2000:]}"
    return src / "images"


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("make"),
                    reason="needs gcc and make (apt-get install gcc make binutils) to rebuild the guest")
def test_sources_rebuild_the_shipped_image_byte_for_byte(tmp_path, image):
    """The guest build is reproducible: two clean builds in folders of different names and depths, with
    another time zone, locale and source date, give the same bytes as each other and as the shipped image
    (so a clone at any path passes, and rebuilding in CI leaves git status clean)."""
    a = _build_copy(tmp_path / "a", {"TZ": "Asia/Shanghai", "LANG": "zh_CN.UTF-8"})
    b = _build_copy(tmp_path / "a much longer folder name" / "deeper", {"TZ": "UTC", "SOURCE_DATE_EPOCH": "0"})
    for name in ("vmlinux", "purgatory"):
        one, two = (a / name).read_bytes(), (b / name).read_bytes()
        assert one == two, f"{name}: two builds of the same sources differ"
        assert str(tmp_path).encode() not in one, f"{name}: the build folder is in the image"
    assert (a / "vmlinux").read_bytes() == image.path.read_bytes(), \
        "images/vmlinux is not what its sources build: run make guest and commit the image"
    assert (a / "purgatory").read_bytes() == (GUEST_DIR / "images" / "purgatory").read_bytes()
    assert KernelImage(a / "vmlinux").build_id == image.build_id


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("make"),
                    reason="needs gcc and make (apt-get install gcc make binutils) to rebuild the guest")
def test_an_out_of_tree_build_folder_changes_nothing(tmp_path, image):
    """B= puts the objects elsewhere; the image is the same (the build folder is "build" in the DWARF)."""
    out = tmp_path / "vmlinux"
    subprocess.run(["make", "-s", "-C", str(GUEST_DIR), f"B={tmp_path}/objects", f"OUT={out}"], check=True,
                   capture_output=True, timeout=600)
    assert out.read_bytes() == image.path.read_bytes()


def test_loader_boot_params_layout_matches_the_kernels_dwarf(image):
    """The Python loader writes struct boot_params where the C kernel reads it."""
    from kpanic_lab.guest.dwarf import struct_layout
    from kpanic_lab.machine.hwdefs import HW
    from kpanic_lab.machine.loader import BOOT_PARAMS_SIZE

    bp = struct_layout(image, "boot_params")
    fields = ["magic", "phys_base", "kernel_start", "kernel_end", "boot_pgt_start", "boot_pgt_end",
              "nr_cpus", "e820_entries"]
    assert [bp.offset(f) for f in fields] == [8 * i for i in range(8)]
    assert bp.offset("e820") == 64 and bp.members["e820"].size == 24 * HW.E820_MAX_ENTRIES
    assert bp.offset("cmdline") == 64 + 24 * HW.E820_MAX_ENTRIES
    assert bp.size == BOOT_PARAMS_SIZE
