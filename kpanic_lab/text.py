"""Plain-text building blocks every view shares: a table of columns, and a byte count in words.

The views (``panic.report``, ``kdump.report``, ``formats.describe``, the benchmarks' summary)
return strings a notebook prints; they lay out their rows with :func:`table` and say sizes with
:func:`size_words`, so every table in the lab reads the same way.

>>> print(table([["vmcore", size_words(860469)]], ["file", "size"]))
file    size
------  ---------
vmcore  840.3 KiB
"""
from __future__ import annotations

from typing import Sequence

from kpanic_lab.i18n import display_width

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Rows under a header, each column as wide as its widest cell, a rule of dashes under the
    header, two spaces between columns, no trailing blanks; widths are display columns, so a
    Chinese cell (two columns a character) lines up too.

    >>> print(table([["0", "IRQS_OFF"], ["12", "KEXEC"]], ["#", "stage"]))
    #   stage
    --  --------
    0   IRQS_OFF
    12  KEXEC
    """
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c + " " * (w - display_width(c)) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def size_words(n: int) -> str:
    """A byte count as a person says it: whole units when they divide it, else one decimal.

    >>> size_words(0x9ec00), size_words(3 << 30), size_words(1536 * 1024), size_words(4132), size_words(512)
    ('635 KiB', '3 GiB', '1.5 MiB', '4.0 KiB', '512 bytes')
    """
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit:
            return f"{n // unit} {name}" if n % unit == 0 else f"{n / unit:.1f} {name}"
    return f"{n} bytes"
