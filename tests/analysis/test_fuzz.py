"""The pure parsers on arbitrary input: they return what they can, never crash or hang.
(The printk ring's: tests/formats/test_printk.py.)"""
from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from kpanic_lab.analysis.disasm import decode
from kpanic_lab.analysis.lists import walk
from kpanic_lab.analysis.regs import PT_REGS_ORDER, RegisterSet

TEXT = 0xFFFFFFFF81000000


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
    at = TEXT
    for ins in decode(code, TEXT, lambda a: None):       # back to back, each its own bytes
        assert ins.address == at and ins.raw == code[at - TEXT:at - TEXT + ins.size] and ins.size > 0
        assert ins.mnemonic and str(ins).startswith(ins.mnemonic)
        at += ins.size
    assert at <= TEXT + len(code)


@given(st.binary(min_size=168, max_size=168))
def test_pt_regs_of_any_bytes(data):
    regs = RegisterSet.from_pt_regs_bytes(data).as_dict()
    assert struct.pack("<21Q", *(regs[name] for name in PT_REGS_ORDER)) == data
