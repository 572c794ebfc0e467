"""Views are driven as a student would (their methods are what the buttons call) and checked by
their state; no browser.  Sessions are shared per module: booting is the slow part."""
from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path


@pytest.fixture(scope="session", autouse=True)
def _guest_image():
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
