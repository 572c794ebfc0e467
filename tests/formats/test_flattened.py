from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings, strategies as st

from kpanic_lab.formats.errors import DumpError
from kpanic_lab.formats.flattened import FlattenedWriter, iter_records, rebuild


def flat(records):
    out = io.BytesIO()
    w = FlattenedWriter(out)
    for off, data in records:
        w.write_at(off, data)
    w.close()
    return out.getvalue()


def test_layout_is_makedumpfiles():
    raw = flat([(0x10, b"abc")])
    assert raw[:16] == b"makedumpfile\0\0\0\0"
    assert struct.unpack(">qq", raw[16:32]) == (1, 1)             # type, version: big-endian
    assert raw[32:4096] == bytes(4096 - 32)
    assert struct.unpack(">qq", raw[4096:4112]) == (0x10, 3)
    assert raw[4112:4115] == b"abc"
    assert raw[-16:] == b"\xff" * 16                             # end marker: -1, -1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.binary(min_size=1, max_size=300)), max_size=12))
def test_rebuild_puts_every_record_at_its_offset(records):
    want = bytearray()
    for off, data in records:
        if len(want) < off + len(data):
            want += bytes(off + len(data) - len(want))
        want[off:off + len(data)] = data
    out = io.BytesIO()
    assert rebuild(io.BytesIO(flat(records)), out) == len(want)
    assert out.getvalue() == bytes(want)


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b"", "zero-length"),
    (lambda b: b[:20], "truncated"),
    (lambda b: b"makedumpfilX" + b[12:], "wrong magic"),
    (lambda b: b[:16] + struct.pack(">qq", 2, 1) + b[32:], "unknown flattened format"),
    (lambda b: b[:-16], "without the end marker"),
    (lambda b: b[:-17], "truncated"),
    (lambda b: b[:4096] + struct.pack(">qq", -5, 3) + b[4112:], "corrupted data header"),
])
def test_bad_streams(mutate, match):
    raw = flat([(0, b"KDUMP   ")])
    with pytest.raises(DumpError, match=match):
        list(iter_records(io.BytesIO(mutate(raw))))
