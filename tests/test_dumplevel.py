"""dumplevel.py: what each bit of makedumpfile -d drops, in makedumpfile(8)'s words."""
from __future__ import annotations

from kpanic_lab import dumplevel
from kpanic_lab.dumplevel import dump_level_legend, dump_level_words


def test_bit_4_is_all_cache_pages():
    # makedumpfile.8, "Base level": 2 "Exclude the non-private cache pages", 4 "Exclude all cache pages"
    assert dump_level_words(0) == "nothing"
    assert dump_level_words(2) == "non-private cache pages"
    assert dump_level_words(6) == dump_level_words(4) == "all cache pages"
    assert dump_level_words(31) == "zero pages, all cache pages, user process data pages, free pages"
    assert "private cache" not in dump_level_legend().replace("non-private", "")


def test_docstring_examples():
    import doctest
    assert doctest.testmod(dumplevel).failed == 0
