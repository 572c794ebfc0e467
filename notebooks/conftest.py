"""Notebooks boot the guest kernel: without its image they are skipped, saying how to build it.

(`make test` runs them with nbmake; CI rebuilds the image first, so there they always run.)
"""
from __future__ import annotations

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
