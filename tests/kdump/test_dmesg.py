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
    with pytest.raises(LogBufError, match=r"lockless ring\): .*SIZE\(prb_desc\)"):
        read_dmesg(D())


# ---------------------------------------------------------------- 6.1's lockless ring (prb)
def _prb(records, count=4, size=64):
    """descs, infos, text of a lockless ring holding ``records``: (id, state, begin, next, ts, text)."""
    from kpanic_lab.kdump.dmesg import PrbLayout
    lay = PrbLayout()
    descs, infos, data = bytearray(count * lay.desc_size), bytearray(count * lay.info_size), bytearray(size)
    for ident, state, begin, nxt, ts, text in records:
        d, i = (ident % count) * lay.desc_size, (ident % count) * lay.info_size
        struct.pack_into("<QQQ", descs, d, (state << 62) | ident, begin, nxt)
        struct.pack_into("<Q", infos, i + lay.info_ts_nsec, ts)
        struct.pack_into("<H", infos, i + lay.info_text_len, len(text))
        at = 0 if (begin % size) > (nxt % size) else begin % size
        struct.pack_into("<Q", data, at, ident)
        data[at + 8: at + 8 + len(text)] = text
    return bytes(descs), bytes(infos), bytes(data)


def test_prb_records_in_id_order_with_a_wrapped_block():
    from kpanic_lab.kdump.dmesg import parse_prb
    # ids 5..7 in a 128-byte ring: 6's block wraps past the end (begin > next), so its text is at 0
    descs, infos, data = _prb([(5, 2, 48, 64, 1000, b"first"), (6, 2, 104, 128 + 24, 2000, b"wrapped"),
                               (7, 1, 128 + 24, 128 + 40, 3000, b"third")], size=128)
    recs = parse_prb(descs, infos, data, 4, tail_id=5, head_id=7)
    assert [(r.ts_nsec, r.text) for r in recs] == [(1000, b"first"), (2000, b"wrapped"), (3000, b"third")]


def test_prb_skips_reserved_reused_and_stale_records():
    from kpanic_lab.kdump.dmesg import parse_prb
    descs, infos, data = _prb([(1, 2, 0, 16, 1, b"ok"), (2, 0, 16, 32, 2, b"being written"),
                               (3, 3, 32, 48, 3, b"reusable"), (4, 2, 48, 48, 4, b"")])
    # id 5 lands on slot 1, whose descriptor still holds id 1: an ID mismatch, skipped
    assert [r.text for r in parse_prb(descs, infos, data, 4, 1, 4)] == [b"ok"]
    assert [r.text for r in parse_prb(descs, infos, data, 4, 2, 5)] == []


def test_prb_truncated_text_is_cut_at_the_block_end():
    from kpanic_lab.kdump.dmesg import parse_prb
    descs, infos, data = _prb([(0, 2, 0, 12, 1, b"abcdefgh")])       # 8-byte id + 4 bytes of room
    assert parse_prb(descs, infos, data, 4, 0, 0)[0].text == b"abcd"


def test_prb_corrupted_ids_are_errors():
    from kpanic_lab.kdump.dmesg import parse_prb
    descs, infos, data = _prb([(1, 2, 0, 16, 1, b"x")])
    with pytest.raises(LogBufError, match="never reaches head_id"):
        parse_prb(descs, infos, data, 4, tail_id=1, head_id=1000)
    with pytest.raises(LogBufError, match="does not fit"):
        parse_prb(descs[:10], infos, data, 4, 1, 1)


def test_continuation_lines_are_indented_as_makedumpfile_does():
    text = format_dmesg([LogRecord(0, b"clocksource: a\n  \"trace_clock=local\"\non the line")])
    assert text == ("[    0.000000] clocksource: a\n"
                    "                 \"trace_clock=local\"\n"
                    "               on the line\n")
