"""The kernel log: the printk ring's records, read from a dump or a live machine, and the panic
message in it.  crash's ``log``, ``makedumpfile --dump-dmesg`` and the lab's views all read it here.

Two ring formats.  The guest keeps Linux 3.5 .. 5.9's, the one crash and makedumpfile learnt first:

    log_buf -> | struct printk_log | text | pad | struct printk_log | text | pad | ... |
                 ^ log_first_idx (oldest)                 log_next_idx (next free) ^
    struct printk_log { u64 ts_nsec; u16 len; u16 text_len; u16 dict_len; u8 facility;
                        u8 flags:5, level:3; }          a record with len == 0 means "wrap to 0"

Linux 5.10 and later (6.1 included) keep the lockless ring instead (``prb``, no ``log_buf``):

    prb -> struct printk_ringbuffer { desc_ring { count_bits, descs, infos, head_id, tail_id },
                                      text_data_ring { size_bits, data } }
    descs[id % count].state_var   the record's id and state in the top 2 bits (committed, finalized)
    descs[id % count].text_blk_lpos {begin, next}   where its text is in data (begin > next: wrapped
                                                    to 0); the text follows an 8-byte copy of the id
    infos[id % count]             ts_nsec, text_len, facility, flags:5 level:3, ...

Where things are comes from the kernel, never from numbers typed here: VMCOREINFO for a dump read
without vmlinux (makedumpfile: ``SYMBOL(log_buf)``, ``SIZE(printk_log)``, ``OFFSET(printk_log.len)``
...), DWARF with vmlinux (crash, drgn).  Both answer the same questions (:class:`KernelFacts`);
:func:`read_log` is the one reader, over a ``read(addr, size)`` and those facts.  The parsers under
it are pure functions over the ring's bytes (:func:`parse_log_buffer`, :func:`parse_prb`).

A bad record, as crash's ``log`` ("invalid log_buf entry encountered") and makedumpfile (whose
--dump-dmesg keeps the lines it wrote, then fails) treat it: reading stops there, the records read
so far are kept, and ``LogRecords.error`` says why in one line.  A ring that cannot be found or
cannot be a ring (a missing symbol, an absurd size) has nothing to keep: :class:`LogBufError`.

>>> rec = LogRecord(28150000, b"sysrq: Trigger a crash", level=6)
>>> rec.lines()
['[    0.028150] sysrq: Trigger a crash']
>>> panic_message("[ 0.1] sysrq: Trigger a crash\\n[ 0.1] Kernel panic - not syncing: sysrq triggered crash")
'Kernel panic - not syncing: sysrq triggered crash'
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Callable, List, Optional, Protocol, Tuple

from kpanic_lab.errors import LabError
from kpanic_lab.formats.vmcoreinfo import VmcoreInfo

ReadFn = Callable[[int, int], bytes]

MAX_LOG_BUF_LEN = 1 << 28    # larger than any log_buf_len= Linux accepts on a lab-sized machine
DESC_FLAGS_SHIFT = 62
DESC_ID_MASK = (1 << 64) - 1 - (3 << DESC_FLAGS_SHIFT)
DESC_COMMITTED, DESC_FINALIZED = 1, 2
MAX_COUNT_BITS = 24          # 16M descriptors: far above any real log (6.1's default is 2^12 or so)
MAX_SIZE_BITS = 30           # a 1 GiB text ring: log_buf_len= accepts at most 2 GiB, nobody uses it


class LogBufError(LabError):
    """There is no printk ring to read where the kernel says (or what is there cannot be one)."""


@dataclass(frozen=True)
class LogRecord:
    """One printk record: when, what, and at which level (``<6>`` is pr_info)."""

    ts_nsec: int
    text: bytes
    level: int = 0
    facility: int = 0
    flags: int = 0

    def prefix(self) -> str:
        """``[    0.028150] ``: the time stamp the console and crash's ``log`` print."""
        secs, nanos = divmod(self.ts_nsec, 1_000_000_000)
        return f"[{secs:5d}.{nanos // 1000:06d}] "

    def lines(self) -> List[str]:
        """The record as the console prints it: each line of text behind the time stamp."""
        p = self.prefix()
        return [p + part for part in self.text.decode("utf-8", "replace").split("\n")]


class LogRecords(List[LogRecord]):
    """The records read, oldest first; ``error`` says why reading stopped early (else None)."""

    error: Optional[str] = None

    def stop(self, why: str) -> "LogRecords":
        self.error = why
        return self


# ---------------------------------------------------------------------------- where things are
class KernelFacts(Protocol):
    """What the reader asks of the kernel: VMCOREINFO answers it, and so does DWARF.

    A missing answer raises ``KeyError`` (VmcoreInfoError and the analysis layer's NotFound are
    both kinds of it), which :func:`read_log` reports as a :class:`LogBufError`.
    """

    def has_symbol(self, name: str) -> bool: ...
    def symbol(self, name: str) -> int: ...
    def size(self, struct_name: str) -> int: ...
    def offset(self, struct_name: str, member: str) -> int: ...

    def bits(self, struct_name: str, member: str) -> Optional[Tuple[int, int]]:
        """Byte offset and bit offset of a member the tools do not need (``level``, ``facility``):
        DWARF knows them, VMCOREINFO does not export them (None)."""


class VmcoreinfoFacts:
    """:class:`KernelFacts` from VMCOREINFO alone, as makedumpfile reads a dump."""

    def __init__(self, vi: VmcoreInfo) -> None:
        self.vi = vi

    def has_symbol(self, name: str) -> bool:
        return f"SYMBOL({name})" in self.vi

    def symbol(self, name: str) -> int:
        return self.vi.symbol(name)

    def size(self, struct_name: str) -> int:
        return self.vi.size(struct_name)

    def offset(self, struct_name: str, member: str) -> int:
        return self.vi.offset(struct_name, member)

    def bits(self, struct_name: str, member: str) -> Optional[Tuple[int, int]]:
        return None


def _check_fields(struct_name: str, size: int, *fields: Tuple[int, int], optional: Tuple[int, ...] = ()) -> None:
    """Every (offset, width) inside a ``size``-byte struct; the ``optional`` offsets (one byte
    each) may also be -1, a field the kernel did not place, which is not read."""
    for at, width in fields + tuple((at, 1) for at in optional if at != -1):
        if not 0 <= at <= size - width:
            raise LogBufError(f"struct {struct_name}: a {width}-byte field at offset {at} does not fit "
                              f"its {size} bytes (the layout the kernel gave is corrupted)")


# ---------------------------------------------------------------------------- 3.5 .. 5.9: log_buf
@dataclass(frozen=True)
class RecordLayout:
    """Where the fields of ``struct printk_log`` are (Linux's by default).  ``level`` and
    ``facility`` are -1 when unknown (VMCOREINFO does not say): those records read level 0."""

    header_size: int = 16
    ts_nsec: int = 0
    len: int = 8
    text_len: int = 10
    facility: int = 14
    level: int = 15             # the byte of ``u8 flags:5, level:3``
    level_shift: int = 5


def parse_log_buffer(buf: bytes, first_idx: int, next_idx: int, first_seq: Optional[int] = None,
                     next_seq: Optional[int] = None, layout: RecordLayout = RecordLayout()) -> LogRecords:
    """The records from ``log_first_idx`` to ``log_next_idx`` (pure: ``buf`` is the whole log_buf).

    With the sequence numbers too (DWARF finds ``log_first_seq`` and ``log_next_seq``; VMCOREINFO
    does not export them) it reads exactly ``next_seq - first_seq`` records and checks that they end
    at ``log_next_idx``.  The indices come from the guest, so a corrupted dump can say anything:
    reading stops at a record that does not fit the buffer, at a second wrap marker, or once the
    records read would not fit in the buffer any more.
    """
    _check_fields("printk_log", layout.header_size, (layout.ts_nsec, 8), (layout.len, 2), (layout.text_len, 2),
                  optional=(layout.facility, layout.level))
    out = LogRecords()
    idx, size, hdr = first_idx, len(buf), layout.header_size
    want = None if first_seq is None or next_seq is None else max(0, next_seq - first_seq)
    used = 0
    wrapped = False
    while (len(out) < want) if want is not None else (idx != next_idx):
        if idx < 0 or idx + hdr > size:
            return out.stop(f"log_buf index {idx} leaves no room for a {hdr}-byte record header "
                            f"in the {size}-byte buffer")
        rlen = struct.unpack_from("<H", buf, idx + layout.len)[0]
        if rlen == 0:                       # the wrap marker: the record is at the start
            if wrapped or idx == 0:
                return out.stop(f"log_buf wraps twice (at index {idx}) after {len(out)} records")
            wrapped, idx = True, 0
            continue
        text_len = struct.unpack_from("<H", buf, idx + layout.text_len)[0]
        if idx + rlen > size or hdr + text_len > rlen:
            return out.stop(f"printk_log at index {idx}: len {rlen}, text_len {text_len} do not fit "
                            f"the {size}-byte buffer")
        used += rlen
        if used > size:
            return out.stop(f"more records than the {size}-byte buffer holds (stopped after {len(out)}): "
                            + (f"log_first_seq {first_seq} .. log_next_seq {next_seq} are corrupted"
                               if want is not None else f"log_next_idx {next_idx} is never reached"))
        ts = struct.unpack_from("<Q", buf, idx + layout.ts_nsec)[0]
        fl = buf[idx + layout.level] if layout.level >= 0 else 0
        out.append(LogRecord(ts, bytes(buf[idx + hdr:idx + hdr + text_len]), fl >> layout.level_shift,
                             buf[idx + layout.facility] if layout.facility >= 0 else 0,
                             fl & ((1 << layout.level_shift) - 1)))
        idx += rlen
        if want is not None and idx == next_idx and len(out) < want:
            return out.stop(f"log_next_idx {next_idx} reached after {len(out)} of the {want} records "
                            "log_first_seq .. log_next_seq count")
    return out


# ---------------------------------------------------------------------------- 5.10+: the lockless ring
@dataclass(frozen=True)
class PrbLayout:
    """Sizes and offsets of the lockless ring's structures (6.1's by default)."""

    desc_size: int = 24
    state_var: int = 0
    text_blk_lpos: int = 8
    lpos_begin: int = 0
    lpos_next: int = 8
    info_size: int = 88
    info_ts_nsec: int = 8
    info_text_len: int = 16
    info_facility: int = -1      # -1: unknown (DWARF has these two, VMCOREINFO not)
    info_level: int = -1         # the byte of ``u8 flags:5, level:3``
    level_shift: int = 5


def parse_prb(descs: bytes, infos: bytes, text: bytes, count: int, tail_id: int, head_id: int,
              layout: PrbLayout = PrbLayout()) -> LogRecords:
    """The records from ``tail_id`` to ``head_id`` (both included), as makedumpfile's
    ``dump_lockless_dmesg`` walks them (pure: the three arrays are whole, ``count`` descriptors).

    Records not committed or finalized (being written, or reused), and records with no text, are
    skipped, as makedumpfile does.  Ids that never reach ``head_id`` stop the walk after one lap.
    """
    _check_fields("prb_desc", layout.desc_size, (layout.state_var, 8), (layout.text_blk_lpos + layout.lpos_begin, 8),
                  (layout.text_blk_lpos + layout.lpos_next, 8))
    _check_fields("printk_info", layout.info_size, (layout.info_ts_nsec, 8), (layout.info_text_len, 2),
                  optional=(layout.info_facility, layout.info_level))
    if count <= 0 or len(descs) < count * layout.desc_size or len(infos) < count * layout.info_size:
        raise LogBufError(f"the descriptor ring of {count} entries does not fit the {len(descs)} bytes "
                          f"of descs and {len(infos)} bytes of infos read")
    size = len(text)
    if size == 0:
        raise LogBufError("the text ring is empty (size_bits gives 0 bytes)")
    out = LogRecords()
    ident = tail_id & DESC_ID_MASK
    for _ in range(count + 1):
        d = (ident % count) * layout.desc_size
        state_var = struct.unpack_from("<Q", descs, d + layout.state_var)[0]
        if state_var & DESC_ID_MASK == ident and state_var >> DESC_FLAGS_SHIFT in (DESC_COMMITTED, DESC_FINALIZED):
            lpos = d + layout.text_blk_lpos
            begin = struct.unpack_from("<Q", descs, lpos + layout.lpos_begin)[0] % size
            nxt = struct.unpack_from("<Q", descs, lpos + layout.lpos_next)[0] % size
            if begin != nxt:
                i = (ident % count) * layout.info_size
                text_len = struct.unpack_from("<H", infos, i + layout.info_text_len)[0]
                ts = struct.unpack_from("<Q", infos, i + layout.info_ts_nsec)[0]
                if begin > nxt:                  # the block wrapped: its text is at the start
                    begin = 0
                begin += 8                       # skip the copy of the descriptor id
                if nxt >= begin and nxt - begin < text_len:
                    text_len = nxt - begin       # a truncated message
                fl = infos[i + layout.info_level] if layout.info_level >= 0 else 0
                out.append(LogRecord(ts, bytes(text[begin:begin + text_len]), fl >> layout.level_shift,
                                     infos[i + layout.info_facility] if layout.info_facility >= 0 else 0,
                                     fl & ((1 << layout.level_shift) - 1)))
        if ident == head_id & DESC_ID_MASK:
            return out
        ident = (ident + 1) & DESC_ID_MASK
    return out.stop(f"the descriptor ring never reaches head_id {head_id:#x} from tail_id {tail_id:#x} "
                    f"in {count} steps: the ids are corrupted")


# ---------------------------------------------------------------------------- the reader
def read_log(read: ReadFn, facts: KernelFacts) -> LogRecords:
    """The kernel log in memory ``read`` (a dump's or a machine's), laid out as ``facts`` say.

    >>> read_log(dump.read, VmcoreinfoFacts(dump.vmcoreinfo))[-1].text    # doctest: +SKIP
    b'Kernel panic - not syncing: sysrq triggered crash'
    """
    # 5.10+ still has a log_buf pointer (into the prb's text ring), but no log_first_idx
    lockless = facts.has_symbol("prb") and not (facts.has_symbol("log_buf") and facts.has_symbol("log_first_idx"))
    try:
        return _read_prb(read, facts) if lockless else _read_log_buf(read, facts)
    except KeyError as e:         # a symbol or offset the kernel did not give
        raise LogBufError(f"cannot find the kernel log{' (lockless ring)' if lockless else ''}: {e}") from None


def _u32(read: ReadFn, addr: int) -> int:
    return int.from_bytes(read(addr, 4), "little")


def _u64(read: ReadFn, addr: int) -> int:
    return int.from_bytes(read(addr, 8), "little")


def _bits(facts: KernelFacts, struct_name: str, member: str) -> Tuple[int, int]:
    return facts.bits(struct_name, member) or (-1, 5)


def _read_log_buf(read: ReadFn, facts: KernelFacts) -> LogRecords:
    level, shift = _bits(facts, "printk_log", "level")
    layout = RecordLayout(facts.size("printk_log"), facts.offset("printk_log", "ts_nsec"),
                          facts.offset("printk_log", "len"), facts.offset("printk_log", "text_len"),
                          _bits(facts, "printk_log", "facility")[0], level, shift)
    base = _u64(read, facts.symbol("log_buf"))           # char *log_buf (points at __log_buf)
    size = _u32(read, facts.symbol("log_buf_len"))
    if not 0 < size <= MAX_LOG_BUF_LEN:
        raise LogBufError(f"log_buf_len is {size}: not a plausible ring buffer size")
    seqs: Tuple[Optional[int], Optional[int]] = (None, None)
    if facts.has_symbol("log_first_seq") and facts.has_symbol("log_next_seq"):
        seqs = (_u64(read, facts.symbol("log_first_seq")), _u64(read, facts.symbol("log_next_seq")))
    return parse_log_buffer(read(base, size), _u32(read, facts.symbol("log_first_idx")),
                            _u32(read, facts.symbol("log_next_idx")), *seqs, layout=layout)


def _read_prb(read: ReadFn, facts: KernelFacts) -> LogRecords:
    off = facts.offset
    level, shift = _bits(facts, "printk_info", "level")
    layout = PrbLayout(facts.size("prb_desc"), off("prb_desc", "state_var"), off("prb_desc", "text_blk_lpos"),
                       off("prb_data_blk_lpos", "begin"), off("prb_data_blk_lpos", "next"),
                       facts.size("printk_info"), off("printk_info", "ts_nsec"), off("printk_info", "text_len"),
                       _bits(facts, "printk_info", "facility")[0], level, shift)
    rb = _u64(read, facts.symbol("prb"))                  # struct printk_ringbuffer *prb
    dr = rb + off("printk_ringbuffer", "desc_ring")
    tr = rb + off("printk_ringbuffer", "text_data_ring")
    count_bits = _u32(read, dr + off("prb_desc_ring", "count_bits"))
    size_bits = _u32(read, tr + off("prb_data_ring", "size_bits"))
    if not 0 < count_bits <= MAX_COUNT_BITS:
        raise LogBufError(f"prb desc_ring.count_bits is {count_bits}: not a plausible descriptor ring")
    if not 0 < size_bits <= MAX_SIZE_BITS:
        raise LogBufError(f"prb text_data_ring.size_bits is {size_bits}: not a plausible text ring")
    count = 1 << count_bits
    return parse_prb(read(_u64(read, dr + off("prb_desc_ring", "descs")), count * layout.desc_size),
                     read(_u64(read, dr + off("prb_desc_ring", "infos")), count * layout.info_size),
                     read(_u64(read, tr + off("prb_data_ring", "data")), 1 << size_bits), count,
                     _u64(read, dr + off("prb_desc_ring", "tail_id")),
                     _u64(read, dr + off("prb_desc_ring", "head_id")), layout)


# ---------------------------------------------------------------------------- what the log says
# The lines that say why the kernel died, in crash 8's order (task.c get_panicmsg): panic()'s own
# line; then an oops's header (``Oops: 0002 [#1] ...``) or a BUG()'s place; then what crash does
# not look for but drgn does (6.1's ``BUG: kernel NULL pointer dereference``, die()'s other headers).
# Real crash 8.0.2 on a real 6.1 dump of an oops that went straight to kdump (oops=panic) says
# ``PANIC: "Oops: 0002 [#1] PREEMPT SMP NOPTI"``, not the ``BUG:`` line above it.
PANIC_PREFIX = "Kernel panic - not syncing: "        # what panic() prints before its message
_PANIC_LINES = (
    r"Kernel panic - .*",
    r"Oops: .*|[Kk]ernel BUG at .*|Unable to handle kernel .*|BUG: unable to handle kernel .*",
    r"BUG: .*|general protection fault.*|invalid opcode: .*",
)
_PANIC_LINE = re.compile("|".join(f"({p})" for p in _PANIC_LINES))
_TIME_STAMP = re.compile(r"\[\s*\d+\.\d+\] ")


def panic_message(log: str) -> Optional[str]:
    """Why the kernel died, as crash's ``sys`` shows it after PANIC: (pure; None if nothing says).

    ``log`` is the kernel log or a console, time stamps and all.  The answer is the first
    ``Kernel panic - not syncing: ...`` line; with none (an oops that went straight to kdump,
    say), the oops's header line (``Oops: ...``, ``kernel BUG at ...``), as crash says it.  The
    first, because a panic can set off more messages, never the other way round: crash takes the
    first line of the best-ranked kind that matches (task.c get_panicmsg).

    >>> panic_message("[ 1.0] BUG: kernel NULL pointer dereference, address: 0\\n[ 1.0] Oops: 0002 [#1]")
    'Oops: 0002 [#1]'
    >>> panic_message("[ 1.0] sysrq: Trigger a crash") is None
    True
    """
    best: Optional[Tuple[int, str]] = None
    for line in log.replace("\r", "").split("\n"):
        stamp = _TIME_STAMP.search(line)
        m = _PANIC_LINE.match(line, stamp.end() if stamp else 0)
        if m and m.lastindex is not None and (best is None or m.lastindex < best[0]):
            best = (m.lastindex, m.group().rstrip())
            if m.lastindex == 1:
                break
    return best[1] if best else None
