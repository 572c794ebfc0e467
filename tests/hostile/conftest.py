"""The real dumps the lab writes, made once per session: a panicked 64 MiB sysrq-c machine
saved as an ELF vmcore, then through makedumpfile as -E -d 31 (ELF), -z -d 31 (kdump-compressed)
and -F -z -d 31 (flattened)."""
from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path


@pytest.fixture(scope="session")
def dumps(tmp_path_factory):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    from tests.hostile.fuzzlib import make_corpus

    return make_corpus(tmp_path_factory.mktemp("hostile"))
