from __future__ import annotations

import numpy as np
import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.vmcoreinfo import parse_vmcoreinfo
from kpanic_lab.kdump.pageclass import KINDS, PageClassError, PageLayout, classify_pages, zero_pages
from tests.formats import synth


def classify(s, level):
    d = open_dump(s.elf)
    layout = PageLayout.from_vmcoreinfo(d.vmcoreinfo)
    raw = np.frombuffer(bytes(s.memory[synth.MEM_MAP_PFN * 4096:][:synth.NPAGES * 56]), np.uint8)
    return classify_pages(raw, layout, level, d.source.ram_bitmap())


@pytest.mark.parametrize("level,kinds", [
    (2, {"cache"}), (4, {"cache", "cache_private"}), (8, {"user"}), (16, {"free"}),
    (30, {"cache", "cache_private", "user", "free"}), (0, set()),
])
def test_each_bit_excludes_exactly_its_kind(synthetic, level, kinds):
    exc = classify(synthetic, level)
    for kind in KINDS:
        want = sorted(p for p, k in synthetic.kinds.items() if k == kind and kind in kinds)
        assert sorted(np.nonzero(exc.mask(kind))[0].tolist()) == want, kind
        assert exc.counts[kind] == len(want)


def test_slab_page_with_buddy_mapcount_is_not_free(synthetic):
    exc = classify(synthetic, 16)
    assert not exc.excluded[401]


def test_level_2_keeps_private_cache(synthetic):
    exc = classify(synthetic, 2)
    assert not exc.excluded[304] and exc.excluded[288] and exc.excluded[312]     # swapcache counts as cache


def test_missing_vmcoreinfo_names_the_key():
    with pytest.raises(PageClassError, match=r"SIZE\(page\)"):
        PageLayout.from_vmcoreinfo(parse_vmcoreinfo("OSRELEASE=6.1\n"))


def test_zero_pages():
    pages = np.zeros((3, 4096), np.uint8)
    pages[1, 4095] = 1
    assert zero_pages(pages).tolist() == [True, False, True]
