"""Notebooks boot the guest kernel: without its image they are skipped, saying how to build it.

(`make test` runs them with nbmake; CI rebuilds the image first, so there they always run.)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest

from kpanic_lab.guest import vmlinux_path


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    image = vmlinux_path()
    if image.is_file():
        return
    skip = pytest.mark.skip(reason=f"guest kernel image not built ({image}): run `make guest`")
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(skip)



def _recorded_twin(item: pytest.Item) -> bool:
    """Notebook 10 boots Linux under QEMU twice (about 40 s) where QEMU is installed: the English
    notebook does it; its Chinese twin runs the same library calls on the recorded runs
    (KPANIC_LAB_REAL=recorded, the path every machine without QEMU takes), so `make test` pays once."""
    path = Path(str(item.path))
    return "zh" in path.parts and path.name.startswith("10_")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    if not _recorded_twin(item):
        yield
        return
    before = os.environ.get("KPANIC_LAB_REAL")
    os.environ["KPANIC_LAB_REAL"] = "recorded"
    try:
        yield
    finally:
        if before is None:
            del os.environ["KPANIC_LAB_REAL"]
        else:
            os.environ["KPANIC_LAB_REAL"] = before
