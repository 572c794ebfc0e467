from __future__ import annotations

import struct

import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.kdump.dmesg import LogBufError, LogRecord, format_dmesg, parse_log_buf, read_dmesg
from tests.formats import synth


def record(ts, text):
    size = (16 + len(text) + 7) // 8 * 8
    return struct.pack("<QHHHBB", ts, size, len(text), 0, 0, 6 << 5) + text + bytes(size - 16 - len(text))


def test_synthetic_log(synthetic):
    recs = read_dmesg(open_dump(synthetic.elf))
    assert [(r.ts_nsec, r.text) for r in recs] == synthetic.log
    assert format_dmesg(recs).splitlines()[1] == "[    0.002000] sysrq: Trigger a crash"


def test_wrapped_ring():
    a, b, c = record(1, b"first"), record(2, b"second"), record(3, b"third")
    buf = bytearray(72)
    buf[0:len(c)] = c                       # the newest record wrapped to the start
    buf[32:32 + len(a)] = a                 # the oldest
    buf[56:72] = bytes(16)                  # len == 0: the wrap marker
    recs = parse_log_buf(bytes(buf), 32, len(c))
    assert [r.text for r in recs] == [b"first", b"third"]
    assert recs[0].level == 6


def test_unprintable_bytes_are_escaped():
    assert format_dmesg([LogRecord(1_500_000_000, b"a\x01b")]) == "[    1.500000] a\\x01b\n"


@pytest.mark.parametrize("buf,first,nxt", [(bytes(64), 0, 8), (record(1, b"x" * 40), 0, 200),
                                            (bytes(8), 4, 0)])
def test_corrupted_indices_are_errors(buf, first, nxt):
    with pytest.raises(LogBufError):
        parse_log_buf(buf, first, nxt)


def test_new_ring_buffer_is_named():
    class D:
        from kpanic_lab.formats.vmcoreinfo import parse_vmcoreinfo
        vmcoreinfo = parse_vmcoreinfo("SYMBOL(prb)=ffffffff82000000\n")
    with pytest.raises(LogBufError, match="lockless printk ring buffer"):
        read_dmesg(D())
