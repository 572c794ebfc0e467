"""Machine tests boot a minimal kernel of their own (minikernel/), so the machine's
delivery paths are checked independently of the guest kernel."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "minikernel"
HW_INCLUDE = Path(__file__).resolve().parents[2] / "kpanic_lab" / "guest" / "kernel"
CFLAGS = ["-O1", "-g", "-ffreestanding", "-fno-pic", "-fno-pie", "-mcmodel=kernel", "-mno-red-zone",
          "-mgeneral-regs-only", "-fno-stack-protector", "-fcf-protection=none", f"-I{HW_INCLUDE}"]


@pytest.fixture(scope="session")
def minikernel(tmp_path_factory) -> Path:
    if not shutil.which("gcc") or not shutil.which("ld"):
        pytest.skip("gcc and ld are needed to build the machine's test kernel")
    out = tmp_path_factory.mktemp("mini")
    obj, elf = out / "mini.o", out / "mini.elf"
    subprocess.run(["gcc", *CFLAGS, "-c", str(HERE / "mini.c"), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-n", "-T", str(HERE / "mini.ld"), "--no-warn-rwx-segments", "-o", str(elf), str(obj)],
                   check=True)
    return elf
