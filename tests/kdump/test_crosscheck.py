"""The guest's own VMCOREINFO (from a real kdump cycle) against vmcoreinfo_from_image."""
from __future__ import annotations

import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.vmcoreinfo import parse_vmcoreinfo
from kpanic_lab.guest import vmlinux_path
from tests.support.livecore import vmcoreinfo_from_image

pytestmark = pytest.mark.slow          # every test here boots a machine

NEEDED = ("OSRELEASE", "PAGESIZE", "SYMBOL(mem_map)", "SIZE(page)", "OFFSET(page.flags)", "OFFSET(page.mapping)",
          "OFFSET(page.private)", "OFFSET(page._mapcount)", "NUMBER(PG_lru)", "NUMBER(PG_private)",
          "NUMBER(PG_swapcache)", "NUMBER(PG_slab)", "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", "SYMBOL(log_buf)",
          "SYMBOL(log_buf_len)", "SYMBOL(log_first_idx)", "SYMBOL(log_next_idx)", "SIZE(printk_log)",
          "OFFSET(printk_log.ts_nsec)", "OFFSET(printk_log.len)", "OFFSET(printk_log.text_len)",
          "NUMBER(phys_base)", "CRASHTIME")


@pytest.fixture(scope="module")
def guest_dump(tmp_path_factory):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.kdump.run import KdumpRun
    r = KdumpRun("sysrq-c", crash_dir=tmp_path_factory.mktemp("cycle")).run()
    if r.outcome.vmcore is None:
        pytest.skip(f"the kdump cycle saved no vmcore ({r.outcome.status})")
    return r.machine if hasattr(r, "machine") else None, open_dump(r.outcome.vmcore)


def test_guest_note_has_what_makedumpfile_reads(guest_dump):
    _, d = guest_dump
    missing = [k for k in NEEDED if k not in d.vmcoreinfo]
    assert not missing, missing


def test_guest_note_agrees_with_the_image(guest_dump):
    from kpanic_lab.guest.image import KernelImage
    _, d = guest_dump
    mine = parse_vmcoreinfo(vmcoreinfo_from_image(KernelImage.open(), phys_base=d.phys_base))
    differ = {k: (d.vmcoreinfo[k], mine[k]) for k in set(d.vmcoreinfo) & set(mine)
              if k != "CRASHTIME" and d.vmcoreinfo[k] != mine[k]}
    assert not differ
