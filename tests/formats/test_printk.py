"""The printk ring's one reader (formats/printk.py): both record formats on literals, the policy on a
bad record (keep what was read, say why), and the panic message of a log."""
from __future__ import annotations

import doctest
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpanic_lab.formats import printk
from kpanic_lab.formats.printk import (LogBufError, LogRecord, PrbLayout, RecordLayout, VmcoreinfoFacts,
                                       panic_message, parse_log_buffer, parse_prb, read_log)
from kpanic_lab.formats.vmcoreinfo import parse_vmcoreinfo


def test_docstring_examples():
    assert doctest.testmod(printk).failed == 0


# ---------------------------------------------------------------------------- log_buf (3.5 .. 5.9)
def record(ts: int, text: bytes, level: int = 6) -> bytes:
    size = (16 + len(text) + 7) // 8 * 8
    hdr = struct.pack("<QHHHBB", ts, size, len(text), 0, 0, (level << 5) | 2)
    return (hdr + text).ljust(size, b"\0")


def wrapped_ring():
    """128 bytes: 'first' and 'second' at the end, a wrap marker, 'third' wrapped to the start."""
    a, b, c = record(1_000, b"first"), record(2_000_000, b"second"), record(3_500_000_000, b"third\nline")
    buf = bytearray(128)
    buf[0:len(c)] = c
    first = 128 - len(a) - len(b) - 16
    buf[first:first + len(a)] = a
    buf[first + len(a):first + len(a) + len(b)] = b          # then a zero header: "go to the start"
    return bytes(buf), first, len(c)


def test_the_wrap_marker_is_followed_by_index_as_makedumpfile_does():
    buf, first, nxt = wrapped_ring()
    recs = parse_log_buffer(buf, first, nxt)
    assert [r.text for r in recs] == [b"first", b"second", b"third\nline"] and recs.error is None
    assert [line for r in recs for line in r.lines()] == [
        "[    0.000001] first", "[    0.002000] second", "[    3.500000] third", "[    3.500000] line"]
    assert (recs[0].level, recs[0].flags) == (6, 2)


def test_sequence_numbers_count_the_records_when_the_kernel_gives_them():
    buf, first, nxt = wrapped_ring()
    assert [r.text for r in parse_log_buffer(buf, first, nxt, 10, 12)] == [b"first", b"second"]
    recs = parse_log_buffer(buf, first, nxt, 10, 20)      # 10 records said, 3 there
    assert len(recs) == 3 and "log_next_idx" in recs.error and "3 of the 10" in recs.error


def test_a_layout_without_the_level_reads_level_0():
    buf, first, nxt = wrapped_ring()
    recs = parse_log_buffer(buf, first, nxt, layout=RecordLayout(facility=-1, level=-1))
    assert [r.level for r in recs] == [0, 0, 0] and recs[2].text == b"third\nline"


@pytest.mark.parametrize("buf,first,nxt,kept,why", [
    (record(1, b"ok") + b"\xff" * 64, 0, 999, [b"ok"], "do not fit"),       # a record longer than the rest
    (bytes(64), 0, 8, [], "wraps twice (at index 0)"),                        # a wrap marker at the start
    (record(1, b"x" * 40), 0, 200, [b"x" * 40], "no room for a 16-byte record header"),
    (bytes(8), 4, 0, [], "log_buf index 4"),
    (record(1, b"a") * 3 + bytes(24), 0, 4, [b"a"] * 4, "log_next_idx 4 is never reached"),  # a lap, and on
], ids=["too-long", "wrap-at-0", "no-header-room", "index-outside", "never-next-idx"])
def test_a_bad_record_ends_the_log_and_keeps_what_was_read(buf, first, nxt, kept, why):
    """As crash's log ('invalid log_buf entry encountered') and makedumpfile: no exception, no loss."""
    recs = parse_log_buffer(buf, first, nxt)
    assert [r.text for r in recs] == kept
    assert why in recs.error and "\n" not in recs.error


def test_a_text_longer_than_its_record_is_a_bad_record():
    bad = bytearray(record(1, b"abcdefgh"))
    struct.pack_into("<H", bad, 10, 200)                        # text_len past len
    recs = parse_log_buffer(record(0, b"before") + bytes(bad), 0, 48)
    assert [r.text for r in recs] == [b"before"] and "text_len 200" in recs.error


def test_a_layout_that_does_not_fit_its_struct_is_refused():
    with pytest.raises(LogBufError, match="printk_log: a 2-byte field at offset 15"):
        parse_log_buffer(bytes(64), 0, 0, layout=RecordLayout(len=15))
    with pytest.raises(LogBufError, match="printk_log: a 2-byte field at offset -1"):
        parse_log_buffer(bytes(64), 0, 0, layout=RecordLayout(text_len=-1))     # only level, facility may be
    with pytest.raises(LogBufError, match="prb_desc"):
        parse_prb(bytes(96), bytes(352), bytes(64), 4, 0, 0, PrbLayout(state_var=20))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.integers(0, 600), st.integers(0, 600), st.integers(0, 1 << 20),
       st.integers(0, 1 << 20), st.booleans())
def test_any_bytes_give_records_or_a_reason(buf, first, nxt, first_seq, next_seq, with_seq):
    recs = (parse_log_buffer(buf, first, nxt, first_seq, next_seq) if with_seq
            else parse_log_buffer(buf, first, nxt))
    assert len(recs) <= (max(0, next_seq - first_seq) if with_seq else len(buf) // 16)
    for r in recs:
        assert all(re.match(r"\[\s*\d+\.\d{6}\] ", line) for line in r.lines())


# ---------------------------------------------------------------------------- 6.1's lockless ring (prb)
def prb(records, count=4, size=64):
    """descs, infos, text of a lockless ring holding ``records``: (id, state, begin, next, ts, text)."""
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
    # ids 5..7 in a 128-byte ring: 6's block wraps past the end (begin > next), so its text is at 0
    descs, infos, data = prb([(5, 2, 48, 64, 1000, b"first"), (6, 2, 104, 128 + 24, 2000, b"wrapped"),
                              (7, 1, 128 + 24, 128 + 40, 3000, b"third")], size=128)
    recs = parse_prb(descs, infos, data, 4, tail_id=5, head_id=7)
    assert [(r.ts_nsec, r.text) for r in recs] == [(1000, b"first"), (2000, b"wrapped"), (3000, b"third")]
    assert recs.error is None


def test_prb_skips_reserved_reused_and_stale_records():
    descs, infos, data = prb([(1, 2, 0, 16, 1, b"ok"), (2, 0, 16, 32, 2, b"being written"),
                              (3, 3, 32, 48, 3, b"reusable"), (4, 2, 48, 48, 4, b"")])
    # id 5 lands on slot 1, whose descriptor still holds id 1: an ID mismatch, skipped
    assert [r.text for r in parse_prb(descs, infos, data, 4, 1, 4)] == [b"ok"]
    assert [r.text for r in parse_prb(descs, infos, data, 4, 2, 5)] == []


def test_prb_truncated_text_is_cut_at_the_block_end():
    descs, infos, data = prb([(0, 2, 0, 12, 1, b"abcdefgh")])       # 8-byte id + 4 bytes of room
    assert parse_prb(descs, infos, data, 4, 0, 0)[0].text == b"abcd"


def test_prb_ids_that_never_reach_the_head_keep_one_lap():
    descs, infos, data = prb([(1, 2, 0, 16, 1, b"x")])
    recs = parse_prb(descs, infos, data, 4, tail_id=1, head_id=1000)
    assert [r.text for r in recs] == [b"x"] and "never reaches head_id 0x3e8" in recs.error
    with pytest.raises(LogBufError, match="does not fit"):                # no ring: nothing to keep
        parse_prb(descs[:10], infos, data, 4, 1, 1)


# ---------------------------------------------------------------------------- the reader
class Memory:
    def __init__(self, chunks):
        self.chunks = chunks                     # {address: bytes}

    def read(self, addr, size):
        for base, data in self.chunks.items():
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        raise AssertionError(f"read of {size} at {addr:x}")


VI_LOG_BUF = ("SYMBOL(log_buf)=1000\nSYMBOL(log_buf_len)=1008\nSYMBOL(log_first_idx)=100c\n"
              "SYMBOL(log_next_idx)=1010\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\n"
              "OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n")


def test_read_log_through_vmcoreinfo_as_makedumpfile():
    buf, first, nxt = wrapped_ring()
    syms = struct.pack("<QIII", 0x2000, len(buf), first, nxt)
    recs = read_log(Memory({0x1000: syms, 0x2000: buf}).read, VmcoreinfoFacts(parse_vmcoreinfo(VI_LOG_BUF)))
    assert [r.text for r in recs] == [b"first", b"second", b"third\nline"]
    assert recs[0].level == 0                      # VMCOREINFO does not say where the level is
    huge = struct.pack("<QIII", 0x2000, 0xFFFFFFFF, first, nxt)
    with pytest.raises(LogBufError, match="log_buf_len is 4294967295"):
        read_log(Memory({0x1000: huge}).read, VmcoreinfoFacts(parse_vmcoreinfo(VI_LOG_BUF)))


def test_a_missing_vmcoreinfo_entry_names_the_ring_and_the_key():
    facts = VmcoreinfoFacts(parse_vmcoreinfo("SYMBOL(prb)=ffffffff82000000\n"))
    with pytest.raises(LogBufError, match=r"lockless ring\): .*SIZE\(prb_desc\)"):
        read_log(Memory({}).read, facts)
    with pytest.raises(LogBufError, match=r"kernel log: VMCOREINFO has no SIZE\(printk_log\)"):
        read_log(Memory({}).read, VmcoreinfoFacts(parse_vmcoreinfo("OSRELEASE=6.1.0\n")))


# ---------------------------------------------------------------------------- the panic message
SYSRQ_C = """\
[    4.493858] sysrq: Trigger a crash
[    4.494011] Kernel panic - not syncing: sysrq triggered crash
[    4.494512] CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-kpanic #1
"""
OOPS_PANIC = """\
[    1.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000
[    1.000100] #PF: supervisor write access in kernel mode
[    1.000200] Oops: 0002 [#1] PREEMPT SMP NOPTI
[    1.000900] Kernel panic - not syncing: Fatal exception
[    1.001000] Kernel panic - not syncing: a second panic, from the notifiers
[    1.002000] ---[ end Kernel panic - not syncing: Fatal exception ]---
"""


def test_the_panic_message_is_the_first_panic_line():
    """crash's sys (task.c get_panicmsg: the first matching line) and drgn's panic_message agree."""
    assert panic_message(SYSRQ_C) == "Kernel panic - not syncing: sysrq triggered crash"
    assert panic_message(OOPS_PANIC) == "Kernel panic - not syncing: Fatal exception"


def test_without_a_panic_line_the_oops_header_says_why_as_in_crash():
    """Regression: real crash 8.0.2 on a real 6.1 oops=panic dump (the oops went straight to kdump)
    says PANIC: "Oops: 0002 [#1] PREEMPT SMP NOPTI"; the lab said the BUG: line above it."""
    oops = OOPS_PANIC.split("[    1.000900]")[0]
    assert panic_message(oops) == "Oops: 0002 [#1] PREEMPT SMP NOPTI"
    assert panic_message("[ 1.0] BUG: kernel NULL pointer dereference, address: 0\n") == \
        "BUG: kernel NULL pointer dereference, address: 0"
    assert panic_message("[ 2.0] kernel BUG at drivers/x.c:12!\n[ 2.0] invalid opcode: 0000 [#1] SMP\n") == \
        "kernel BUG at drivers/x.c:12!"
    assert panic_message("[ 2.0] invalid opcode: 0000 [#1] SMP\r\n") == "invalid opcode: 0000 [#1] SMP"


def test_a_console_with_prompts_and_no_panic():
    assert panic_message("# echo c > /proc/sysrq-trigger\r\n# [ 0.2] Kernel panic - not syncing: x\r\n") == \
        "Kernel panic - not syncing: x"
    assert panic_message("# insmod warn\n[ 1.0] WARNING: CPU: 0 PID: 1 at x.c:1\n") is None
    assert panic_message("") is None


# how the lines that say why begin (_PANIC_LINES), and lines that begin so, time-stamped or not
SAYS = ("Kernel panic - ", "BUG: ", "Unable to handle kernel ", "kernel BUG at ", "Kernel BUG at ", "Oops: ",
        "general protection fault", "invalid opcode: ")
SAYING = st.tuples(st.sampled_from(["", "[    1.000000] ", "# [ 0.2] "]), st.sampled_from(SAYS),
                   st.text(max_size=20)).map("".join)


@given(st.lists(st.one_of(st.text(max_size=60), SAYING), max_size=20))
def test_panic_message_of_any_lines(lines):
    """The message is one line's text from where it says why on; a line that says so gives one, and
    a panic line wins over an oops line."""
    log = "\n".join(lines)
    msg = panic_message(log)
    rows = log.replace("\r", "").split("\n")
    if msg is not None:
        assert msg.startswith(tuple(say.rstrip() for say in SAYS))    # (the message is right-stripped)
        assert "\n" not in msg and any(msg in row for row in rows)
    plain = [row for row in rows if "]" not in row]           # no time stamp to skip
    if any(row.startswith(SAYS) for row in plain):
        assert msg is not None
    if any(row.startswith("Kernel panic - ") for row in rows if "]" not in row) or \
            any(row.startswith("[    1.000000] Kernel panic - ") for row in rows):
        assert msg.startswith("Kernel panic -")
