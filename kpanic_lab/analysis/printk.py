"""The kernel log, read from the printk ring buffer (what crash's ``log`` prints).

The guest keeps Linux's 3.5-5.9 record format (``struct printk_log`` records in
``log_buf``, oldest at ``log_first_idx``, next free at ``log_next_idx``, a zero
``len`` meaning "wrap to the start"), which is what crash and makedumpfile read
from a vmcore.  Parsing is a pure function over the buffer's bytes
(:func:`parse_log_buffer`); :func:`kernel_log` is the one-line wrapper that reads
the buffer from a program.  Records print as the console printed them:
``[    0.028150] sysrq: Trigger a crash``, one prefix per line of text.

>>> rec = LogRecord(28150000, 0, 0, 2, b"sysrq: Trigger a crash")
>>> rec.lines()
['[    0.028150] sysrq: Trigger a crash']
>>> panic_message(["[    0.1] Kernel panic - not syncing: sysrq triggered crash"])
'Kernel panic - not syncing: sysrq triggered crash'
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable, List, Optional

from kpanic_lab.analysis.errors import AnalysisError

if TYPE_CHECKING:
    from kpanic_lab.analysis.program import Program


@dataclass(frozen=True)
class RecordLayout:
    """Where the fields of ``struct printk_log`` are (from DWARF; Linux's by default)."""

    header_size: int = 16
    ts_nsec: int = 0
    len: int = 8
    text_len: int = 10
    dict_len: int = 12
    facility: int = 14
    flags_level: int = 15      # u8 flags:5, level:3 share this byte
    level_shift: int = 5


@dataclass(frozen=True)
class LogRecord:
    """One printk record."""

    timestamp_ns: int
    level: int
    facility: int
    flags: int
    text: bytes

    def prefix(self) -> str:
        ts = self.timestamp_ns
        return f"[{ts // 1_000_000_000:5d}.{(ts % 1_000_000_000) // 1000:06d}] "

    def lines(self) -> List[str]:
        """The record as the console prints it: each line of text behind the time stamp."""
        p = self.prefix()
        return [p + part for part in self.text.decode("utf-8", "replace").split("\n")]


class LogFormatError(ValueError):
    """The buffer does not hold well-formed records where the indices say (a corrupt log)."""


class LogRecords(List[LogRecord]):
    """The records read, oldest first; ``error`` says why reading stopped early (else None)."""

    error: Optional[str] = None


MAX_LOG_BUF_LEN = 1 << 28      # larger than any log_buf_len= Linux accepts on a lab-sized machine


def parse_log_buffer(buf: bytes, first_idx: int, next_idx: int, first_seq: int, next_seq: int,
                     layout: RecordLayout = RecordLayout()) -> LogRecords:
    """Every record from ``first_seq`` to ``next_seq`` (pure).

    The indices come from the guest, so a corrupted dump can say anything: reading stops at a
    record that does not fit the buffer, at a second wrap marker, or once the records read
    would not fit in the buffer any more, whatever ``next_seq - first_seq`` says.  The records
    read so far are returned, with the reason in ``error`` (makedumpfile's "log_buf wraps twice").
    """
    out = LogRecords()
    idx = first_idx
    size = len(buf)
    want = max(0, next_seq - first_seq)
    used = 0
    wrapped = False

    def stop(why: str) -> LogRecords:
        out.error = why
        return out

    while len(out) < want:
        if idx < 0 or idx + layout.header_size > size:
            return stop(f"log_buf index {idx} leaves no room for a record header "
                        f"in the {size}-byte buffer")
        rlen = struct.unpack_from("<H", buf, idx + layout.len)[0]
        if rlen == 0:                       # the wrap marker: the record is at the start
            if wrapped or idx == 0:
                return stop(f"log_buf wraps twice (at index {idx}) after {len(out)} of {want} records")
            wrapped, idx = True, 0
            rlen = struct.unpack_from("<H", buf, layout.len)[0]
            if rlen == 0:
                return stop("log_buf wraps twice (at index 0): the buffer starts with a wrap marker")
        if idx + rlen > size or rlen < layout.header_size:
            return stop(f"printk_log at index {idx}: len {rlen} does not fit the {size}-byte buffer")
        used += rlen
        if used > size:
            return stop(f"log_first_seq {first_seq} .. log_next_seq {next_seq}: more records than "
                        f"the {size}-byte buffer holds (stopped after {len(out)})")
        ts = struct.unpack_from("<Q", buf, idx + layout.ts_nsec)[0]
        text_len = struct.unpack_from("<H", buf, idx + layout.text_len)[0]
        fl = buf[idx + layout.flags_level]
        start = idx + layout.header_size
        text = buf[start:start + min(text_len, rlen - layout.header_size)]
        out.append(LogRecord(ts, fl >> layout.level_shift, buf[idx + layout.facility],
                             fl & ((1 << layout.level_shift) - 1), text))
        idx += rlen
        if idx == next_idx and len(out) < want:
            return stop(f"log_next_idx {next_idx} reached after {len(out)} of the {want} records "
                        "log_first_seq .. log_next_seq count")
    return out


def record_layout(prog: "Program") -> RecordLayout:
    """``struct printk_log`` as this kernel's DWARF lays it out."""
    if "printk_layout" not in prog.cache:
        t = prog.type("struct printk_log")
        lvl = t.member("level")
        prog.cache["printk_layout"] = RecordLayout(
            header_size=t.byte_size, ts_nsec=t.member("ts_nsec").offset, len=t.member("len").offset,
            text_len=t.member("text_len").offset, dict_len=t.member("dict_len").offset,
            facility=t.member("facility").offset, flags_level=lvl.offset, level_shift=lvl.bit_offset)
    return prog.cache["printk_layout"]


def lockless_log(prog: "Program") -> LogRecords:
    """The records of a 5.10+ kernel's lockless ring (``prb``), oldest first, laid out as its DWARF
    says and walked by the same parser as ``makedumpfile --dump-dmesg`` (kdump.dmesg.parse_prb)."""
    from kpanic_lab.kdump.dmesg import LogBufError, MAX_COUNT_BITS, MAX_SIZE_BITS, PrbLayout, parse_prb

    off = prog.offsetof
    layout = PrbLayout(prog.sizeof("struct prb_desc"), off("prb_desc", "state_var"),
                       off("prb_desc", "text_blk_lpos"), off("prb_data_blk_lpos", "begin"),
                       off("prb_data_blk_lpos", "next"), prog.sizeof("struct printk_info"),
                       off("printk_info", "ts_nsec"), off("printk_info", "text_len"))
    lvl = prog.type("struct printk_info").member("level")
    layout = replace(layout, info_level=lvl.offset, level_shift=lvl.bit_offset)
    rb = prog.read_u64(prog.address_of("prb"))
    dr = rb + off("printk_ringbuffer", "desc_ring")
    tr = rb + off("printk_ringbuffer", "text_data_ring")
    count_bits = prog.read_u32(dr + off("prb_desc_ring", "count_bits"))
    size_bits = prog.read_u32(tr + off("prb_data_ring", "size_bits"))
    if not 0 < count_bits <= MAX_COUNT_BITS or not 0 < size_bits <= MAX_SIZE_BITS:
        raise AnalysisError(f"prb: count_bits {count_bits}, size_bits {size_bits}: not a plausible ring")
    count = 1 << count_bits
    out = LogRecords()
    try:
        recs = parse_prb(prog.read(prog.read_u64(dr + off("prb_desc_ring", "descs")), count * layout.desc_size),
                         prog.read(prog.read_u64(dr + off("prb_desc_ring", "infos")), count * layout.info_size),
                         prog.read(prog.read_u64(tr + off("prb_data_ring", "data")), 1 << size_bits), count,
                         prog.read_u64(dr + off("prb_desc_ring", "tail_id")),
                         prog.read_u64(dr + off("prb_desc_ring", "head_id")), layout)
    except LogBufError as e:
        out.error = str(e)
        return out
    out.extend(LogRecord(r.ts_nsec, r.level, r.facility, 0, r.text) for r in recs)
    return out


def kernel_log(prog: "Program") -> LogRecords:
    """The records in the kernel's log buffer, oldest first (``error`` set if it is corrupt)."""
    if prog.symbols.get("log_first_idx") is None and prog.symbols.get("prb") is not None:
        return lockless_log(prog)              # Linux 5.10+ (6.1 included)
    base = prog.read_u64(prog.address_of("log_buf"))
    size = prog.read_u32(prog.address_of("log_buf_len"))
    if not 0 < size <= MAX_LOG_BUF_LEN:
        raise AnalysisError(f"log_buf_len is {size}: not a plausible ring buffer size")
    buf = prog.read(base, size)
    return parse_log_buffer(buf, prog.read_u32(prog.address_of("log_first_idx")),
                            prog.read_u32(prog.address_of("log_next_idx")),
                            prog.read_u64(prog.address_of("log_first_seq")),
                            prog.read_u64(prog.address_of("log_next_seq")), record_layout(prog))


def log_lines(records: Iterable[LogRecord]) -> List[str]:
    """The console lines of ``records`` (crash's ``log`` output)."""
    return [line for r in records for line in r.lines()]


PANIC_PREFIX = "Kernel panic - not syncing: "
_OOPS_STARTS = ("BUG: ", "Oops: ", "kernel BUG at ", "general protection fault", "invalid opcode: ")


def panic_message(lines: Iterable[str]) -> str:
    """The panic message in log ``lines`` (pure), as crash's ``sys`` shows it in PANIC:
    the last ``Kernel panic - not syncing: ...``, else the last oops line, else ''."""
    panic: Optional[str] = None
    oops: Optional[str] = None
    for line in lines:
        text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        if text.startswith(PANIC_PREFIX):
            panic = text
        elif text.startswith(_OOPS_STARTS):
            oops = text
    return panic or oops or ""


def kernel_panic_message(prog: "Program") -> str:
    """The panic message of ``prog``'s log (see :func:`panic_message`)."""
    return panic_message(log_lines(kernel_log(prog)))
