"""The pure parsers on arbitrary input: they return what they can, never crash or hang.
(The printk ring's: tests/formats/test_printk.py.)"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kpanic_lab.analysis.disasm import decode
from kpanic_lab.analysis.lists import walk
from kpanic_lab.analysis.regs import RegisterSet


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 64).map(lambda x: x * 8), st.integers(0, 64).map(lambda x: x * 8),
                       max_size=40), st.integers(0, 64).map(lambda x: x * 8), st.sampled_from(["plain", "h", "H"]),
       st.integers(0, 16).map(lambda x: x * 8))
def test_list_walk_of_any_memory(mem, start, mode, offset):
    def read(a):
        if a not in mem:
            from kpanic_lab.analysis.errors import ReadError
            raise ReadError(a, 8, "not in the test memory")
        return mem[a]

    w = walk(read, start, offset, mode, limit=1000)
    assert len(w.entries) <= 1000
    assert len(set(w.entries)) == len(w.entries) or mode != "plain"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_decode_any_bytes(code):
    for ins in decode(code, 0xFFFFFFFF81000000, lambda a: None):
        assert str(ins)


@given(st.binary(min_size=168, max_size=168))
def test_pt_regs_of_any_bytes(data):
    assert RegisterSet.from_pt_regs_bytes(data).as_dict()
