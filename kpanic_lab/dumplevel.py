"""makedumpfile's dump level: five bits, each naming a kind of page left out of the dump.

The one table of what each bit of ``-d`` drops, in the words of makedumpfile(8) ("Base level"):

     1  Exclude the pages filled with zero.
     2  Exclude the non-private cache pages.
     4  Exclude all cache pages.
     8  Exclude the user process data pages.
    16  Exclude the free pages.

Bit 4 drops every cache page, with private data or without, so it includes bit 2: ``-d 4`` and
``-d 6`` drop the same pages.  The level is a field of the kdump-compressed header; the dump
readers' "page excluded" errors, makedumpfile, the kdump views, the dump-level control and the
CLI's help all take its bits and words from here.  It sits beside ``errors.py`` at the top of the
package because every layer names levels, and importing it costs nothing (the CLI builds its help
at every start).

>>> dump_level_words(31)
'zero pages, all cache pages, user process data pages, free pages'
>>> dump_level_legend()
'1 zero pages, 2 non-private cache pages, 4 all cache pages, 8 user process data pages, 16 free pages'
"""
from __future__ import annotations

from typing import Tuple

from kpanic_lab.i18n import N_, _

DL_EXCLUDE_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_FREE = 1, 2, 4, 8, 16
MAX_DUMP_LEVEL = 31

#: (bit, what it drops), as makedumpfile(8) says it; translate the words where they are shown.
DUMP_LEVEL_BITS: Tuple[Tuple[int, str], ...] = (
    (DL_EXCLUDE_ZERO, N_("zero pages")),
    (DL_EXCLUDE_CACHE, N_("non-private cache pages")),
    (DL_EXCLUDE_CACHE_PRI, N_("all cache pages")),
    (DL_EXCLUDE_USER_DATA, N_("user process data pages")),
    (DL_EXCLUDE_FREE, N_("free pages")),
)


def dump_level_words(level: int) -> str:
    """What ``makedumpfile -d level`` drops, in words (bit 2 is not named when bit 4 drops it too).

    >>> dump_level_words(6), dump_level_words(17)
    ('all cache pages', 'zero pages, free pages')
    >>> dump_level_words(0)
    'nothing'
    """
    kinds = [_(words) for bit, words in DUMP_LEVEL_BITS
             if level & bit and not (bit == DL_EXCLUDE_CACHE and level & DL_EXCLUDE_CACHE_PRI)]
    return _(", ").join(kinds) if kinds else _("nothing")


def dump_level_legend() -> str:
    """Every bit with what it drops, for a help text: ``1 zero pages, 2 non-private cache pages, ...``."""
    return _(", ").join(f"{bit} {_(words)}" for bit, words in DUMP_LEVEL_BITS)
