"""text.py: the table and the byte counts every view shares."""
from __future__ import annotations

import pytest

from kpanic_lab import text

M, G = 1 << 20, 1 << 30


@pytest.mark.parametrize("n,words", [(0, "0 bytes"), (4096, "4 KiB"), (0x9EC00, "635 KiB"), (64 * M, "64 MiB"),
                                     (int(254.875 * M), "254.9 MiB"), (8 * G, "8 GiB"), (4132, "4.0 KiB")])
def test_size_words(n, words):
    assert text.size_words(n) == words


def test_table_pads_columns_and_drops_trailing_blanks():
    assert text.table([["a", ""], ["long cell", "x"]], ["h1", "h2"]).splitlines() == [
        "h1         h2", "---------  --", "a", "long cell  x"]


def test_docstring_examples():
    import doctest
    assert doctest.testmod(text).failed == 0
