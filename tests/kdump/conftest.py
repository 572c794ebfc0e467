from __future__ import annotations

import pytest

from kpanic_lab.guest import vmlinux_path
from tests.formats import synth


@pytest.fixture(scope="session")
def synthetic():
    return synth.build()


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """A panicked 2-CPU 256 MiB lab machine (sysrq-c) and its ELF vmcore, written once per session."""
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.panic import PanicSession

    s = PanicSession("sysrq-c").start()
    s.run_to_end()
    path = tmp_path_factory.mktemp("live") / "vmcore.elf"
    with open(path, "wb") as f:
        write_vmcore_from_machine(s.machine, f, crashtime=1_700_000_000)
    return s.machine, path
