from __future__ import annotations

import numpy as np
import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.vmcoreinfo import parse_vmcoreinfo
from kpanic_lab.kdump.pageclass import KINDS, PageClassError, PageFrames, PageLayout, classify_pages, zero_pages
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


# ------------------------------------------------------------------ one classifier, two descriptions
GUEST_OFFSETS, PAGEFLAGS = synth.STRUCT_PAGE_OFFSETS, synth.PAGEFLAGS


def test_dwarf_and_vmcoreinfo_give_the_same_layout(synthetic):
    from_vi = PageLayout.from_vmcoreinfo(open_dump(synthetic.elf).vmcoreinfo)
    from_dwarf = PageLayout.from_dwarf(56, GUEST_OFFSETS, PAGEFLAGS, synth.BUDDY)
    assert from_dwarf == PageLayout(**{**from_vi.__dict__, "pg_reserved": synth.PG_RESERVED})
    assert PageLayout.from_dwarf(56, GUEST_OFFSETS, PAGEFLAGS).buddy_mapcount is None     # a #define: not in DWARF


def test_missing_dwarf_names_what():
    with pytest.raises(PageClassError, match="enum pageflags value PG_lru"):
        PageLayout.from_dwarf(56, GUEST_OFFSETS, {"PG_slab": 9})
    with pytest.raises(PageClassError, match="struct page member _mapcount"):
        PageLayout.from_dwarf(56, {"flags": 0, "mapping": 24, "private": 40}, PAGEFLAGS)


def test_vmcoreinfo_wins_and_dwarf_fills_the_gaps(synthetic):
    dwarf = PageLayout.from_dwarf(56, GUEST_OFFSETS, {**PAGEFLAGS, "PG_lru": 5}, None)
    layout = PageLayout.from_vmcoreinfo(open_dump(synthetic.elf).vmcoreinfo, fallback=dwarf)
    assert layout.pg_lru == synth.PG_LRU and layout.buddy_mapcount == synth.BUDDY     # from VMCOREINFO
    assert layout.pg_reserved == synth.PG_RESERVED                                    # only the DWARF has it
    only_dwarf = PageLayout.from_vmcoreinfo(parse_vmcoreinfo("OSRELEASE=6.1\n"), fallback=dwarf)
    assert only_dwarf == dwarf


def test_page_frames_answer_each_question(synthetic):
    raw = bytes(synthetic.memory[synth.MEM_MAP_PFN * 4096:][:synth.NPAGES * 56])
    layout = PageLayout.from_dwarf(56, GUEST_OFFSETS, PAGEFLAGS, synth.BUDDY)
    p = PageFrames(raw, layout)
    assert p.n == synth.NPAGES
    pfns = lambda mask: set(np.nonzero(mask)[0].tolist())       # noqa: E731
    kind = lambda k: {pfn for pfn, v in synthetic.kinds.items() if v == k}      # noqa: E731
    assert pfns(p.free) == kind("free")                        # tail pages too; the slab page 401 is not free
    assert pfns(p.cache & ~p.anon) == kind("cache") | kind("cache_private")
    assert pfns(p.cache & p.private_data) == kind("cache_private")
    assert pfns(p.anon) == kind("user")
    assert pfns(p.slab) == set(range(400, 448)) and pfns(p.reserved) == set(range(1, 160))
    assert not p.mapped.any() and not p.hwpoison.any() and not p.offline.any()


def test_levels_0_and_1_need_no_struct_page():
    # makedumpfile.exclude_pages at -d 0/1: no mem_map read, and a layout that describes nothing
    exc = classify_pages(np.zeros(0, np.uint8), PageLayout(1, 0, 0, 0, 0, 0, 0, 0, 0), 1, np.ones(64, bool))
    assert not exc.excluded.any() and sum(exc.counts.values()) == 0


def test_docstring_examples():
    import doctest
    from kpanic_lab.kdump import pageclass
    assert doctest.testmod(pageclass).failed == 0
