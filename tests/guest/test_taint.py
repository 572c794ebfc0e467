"""The one taint table (guest/taint.py) is the guest's: taint.h's bits and panic.c's letters."""
from __future__ import annotations

import doctest
import re

from kpanic_lab.guest import KERNEL_SRC, taint
from kpanic_lab.guest.taint import TAINT_FLAGS, set_flags, taint_letters


def test_docstring_examples():
    assert doctest.testmod(taint).failed == 0


def test_the_table_is_the_guests_taint_h_and_panic_c():
    bits = {name: int(bit) for name, bit in
            re.findall(r"^#define (TAINT_\w+)\s+(\d+)", (KERNEL_SRC / "taint.h").read_text(), re.MULTILINE)}
    letters = dict(re.findall(r"\[(TAINT_\w+)\]\s*=\s*\{\s*'(\w)'", (KERNEL_SRC / "panic.c").read_text()))
    assert bits.pop("TAINT_FLAGS_COUNT") == len(TAINT_FLAGS)
    assert [f.name for f in TAINT_FLAGS] == sorted(bits, key=bits.get)
    assert {f.name: f.letter for f in TAINT_FLAGS} == letters


def test_letters_in_kernel_order():
    assert taint_letters(0) == "" and set_flags(0) == ()
    assert taint_letters((1 << 12) | (1 << 13)) == "OE"        # an out-of-tree, unsigned module
    assert taint_letters(12416) == "DOE"                       # the oops reference: D, O, E
    assert taint_letters(1 << 9) == "W"
    assert taint_letters(1 << 40) == ""                        # past the last flag: no letter
