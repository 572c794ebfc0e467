"""The shipped vmlinux is a real kernel image: DWARF, a build-id, symbols gdb can list,
and it is exactly what the sources in kpanic_lab/guest build."""
from __future__ import annotations

import shutil
import subprocess

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


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("make"), reason="needs gcc and make")
def test_sources_rebuild_the_shipped_image(tmp_path, image):
    """A clean build of the sources gives the same build-id: the shipped image is not stale."""
    out = tmp_path / "vmlinux"
    subprocess.run(["make", "-s", "-C", str(GUEST_DIR), f"B={tmp_path}/build", f"OUT={out}"], check=True,
                   capture_output=True, timeout=600)
    assert KernelImage(out).build_id == image.build_id


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
