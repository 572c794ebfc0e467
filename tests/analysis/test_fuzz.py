"""The pure parsers on arbitrary input: they return what they can, never crash or hang."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kpanic_lab.analysis.disasm import decode
from kpanic_lab.analysis.lists import walk
from kpanic_lab.analysis.printk import parse_log_buffer, panic_message
from kpanic_lab.analysis.regs import RegisterSet


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.integers(0, 600), st.integers(0, 600), st.integers(0, 1 << 20),
       st.integers(0, 1 << 20))
def test_log_buffer_of_any_bytes(buf, first, nxt, first_seq, next_seq):
    recs = parse_log_buffer(buf, first, nxt, first_seq, next_seq)
    assert len(recs) <= max(0, next_seq - first_seq)
    for r in recs:
        r.lines()


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


@given(st.lists(st.text(max_size=60), max_size=20))
def test_panic_message_of_any_lines(lines):
    assert isinstance(panic_message(lines), str)


@given(st.binary(min_size=168, max_size=168))
def test_pt_regs_of_any_bytes(data):
    assert RegisterSet.from_pt_regs_bytes(data).as_dict()
