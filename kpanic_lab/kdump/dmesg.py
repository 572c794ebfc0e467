"""The kernel log from a dump's printk ring buffer (``makedumpfile --dump-dmesg``).

The guest keeps the record format of Linux 3.5 .. 5.9 that makedumpfile and crash read:

    log_buf -> | struct printk_log | text | pad | struct printk_log | text | pad | ... |
                 ^ log_first_idx (oldest)                 log_next_idx (next free) ^
    struct printk_log { u64 ts_nsec; u16 len; u16 text_len; u16 dict_len; u8 facility;
                        u8 flags:5, level:3; }          a record with len == 0 means "wrap to 0"

Every number comes from VMCOREINFO: SYMBOL(log_buf) (a pointer), SYMBOL(log_buf_len),
SYMBOL(log_first_idx), SYMBOL(log_next_idx), SIZE(printk_log), OFFSET(printk_log.ts_nsec),
OFFSET(printk_log.len), OFFSET(printk_log.text_len).  Each line is printed as makedumpfile does:
``[%5lld.%06ld] text``.

Linux 5.10 and later (6.1 included) keep the log in the lockless ring instead (``SYMBOL(prb)``, no
``log_buf``); :func:`read_dmesg` reads that one as makedumpfile's printk.c does (see
:func:`parse_prb`):

    prb -> struct printk_ringbuffer { desc_ring { count_bits, descs, infos, head_id, tail_id },
                                      text_data_ring { size_bits, data } }
    descs[id % count].state_var   the record's id and state in the top 2 bits (committed, finalized)
    descs[id % count].text_blk_lpos {begin, next}   where its text is in data (begin > next: wrapped
                                                    to 0); the text follows an 8-byte copy of the id
    infos[id % count]             ts_nsec, text_len, ...

>>> rec = LogRecord(4493858000, b"sysrq: Trigger a crash")
>>> format_dmesg([rec])
'[    4.493858] sysrq: Trigger a crash\\n'
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List, Sequence

from kpanic_lab.errors import LabError
from kpanic_lab.formats.vmcoreinfo import VmcoreInfoError


class LogBufError(LabError):
    """The printk ring buffer in the dump is not what its indices say (or cannot be found)."""


@dataclass(frozen=True)
class LogLayout:
    header_size: int = 16
    ts_nsec: int = 0
    len: int = 8
    text_len: int = 10


@dataclass(frozen=True)
class LogRecord:
    ts_nsec: int
    text: bytes
    level: int = 0
    facility: int = 0


def parse_log_buf(buf: bytes, first_idx: int, next_idx: int, layout: LogLayout = LogLayout()) -> List[LogRecord]:
    """The records from ``first_idx`` to ``next_idx`` (pure: ``buf`` is the whole log_buf)."""
    out: List[LogRecord] = []
    idx, hdr = first_idx, layout.header_size
    wrapped = False
    for _ in range(len(buf) // max(hdr, 1) + 2):
        if idx == next_idx:
            return out
        if idx < 0 or idx + hdr > len(buf):
            raise LogBufError(f"log_buf index {idx} leaves no room for a {hdr}-byte record header "
                              f"in the {len(buf)}-byte buffer")
        rec_len = struct.unpack_from("<H", buf, idx + layout.len)[0]
        if rec_len == 0:              # the end-of-buffer marker: continue at the start
            if wrapped or idx == 0:
                raise LogBufError(f"log_buf wraps twice (at index {idx}) before reaching log_next_idx {next_idx}")
            idx, wrapped = 0, True
            continue
        text_len = struct.unpack_from("<H", buf, idx + layout.text_len)[0]
        if hdr + text_len > rec_len or idx + rec_len > len(buf):
            raise LogBufError(f"printk_log at index {idx}: len {rec_len}, text_len {text_len} do not fit")
        ts = struct.unpack_from("<Q", buf, idx + layout.ts_nsec)[0]
        lv = buf[idx + 15] if hdr >= 16 else 0
        fac = buf[idx + 14] if hdr >= 16 else 0
        out.append(LogRecord(ts, bytes(buf[idx + hdr: idx + hdr + text_len]), lv >> 5, fac))
        idx += rec_len
    raise LogBufError(f"log_buf never reaches log_next_idx {next_idx}: the indices are corrupted")


def _printable(text: bytes, indent: int = 0) -> str:
    """``text`` as makedumpfile writes it: printable and space characters kept, a newline followed by
    ``indent`` spaces (the continuation lines line up under the text), anything else as ``\\xNN``."""
    out = []
    for b in text:
        ch = chr(b)
        if ch == "\n":
            out.append("\n" + " " * indent)
        else:
            out.append(ch if (32 <= b < 127 or ch in "\t\v\f\r") else f"\\x{b:02x}")
    return "".join(out)


def format_dmesg(records: Sequence[LogRecord]) -> str:
    """The log as makedumpfile --dump-dmesg writes it.

    >>> print(format_dmesg([LogRecord(0, b"two\\nlines")]), end="")
    [    0.000000] two
                   lines
    """
    lines = []
    for r in records:
        secs, nanos = divmod(r.ts_nsec, 1_000_000_000)
        prefix = f"[{secs:5d}.{nanos // 1000:06d}] "
        lines.append(f"{prefix}{_printable(r.text, len(prefix))}\n")
    return "".join(lines)


def read_dmesg(dump) -> List[LogRecord]:  # type: ignore[no-untyped-def]
    """The log of ``dump`` (a Dump, or anything with ``read`` and ``vmcoreinfo``)."""
    vi = dump.vmcoreinfo
    if "SYMBOL(log_buf)" not in vi and "SYMBOL(prb)" in vi:
        return read_prb(dump)
    try:
        layout = LogLayout(vi.size("printk_log"), vi.offset("printk_log", "ts_nsec"),
                           vi.offset("printk_log", "len"), vi.offset("printk_log", "text_len"))
        buf_ptr = dump.read_u64(vi.symbol("log_buf"))
        buf_len = int.from_bytes(dump.read(vi.symbol("log_buf_len"), 4), "little")
        first = int.from_bytes(dump.read(vi.symbol("log_first_idx"), 4), "little")
        nxt = int.from_bytes(dump.read(vi.symbol("log_next_idx"), 4), "little")
    except VmcoreInfoError as e:
        raise LogBufError(f"cannot find the kernel log: {e}") from None
    if not 0 < buf_len <= 1 << 28:
        raise LogBufError(f"log_buf_len is {buf_len}: not a plausible ring buffer size")
    return parse_log_buf(dump.read(buf_ptr, buf_len), first, nxt, layout)


# ---------------------------------------------------------------------- the lockless ring (5.10+)
DESC_FLAGS_SHIFT = 62
DESC_ID_MASK = (1 << 64) - 1 - (3 << DESC_FLAGS_SHIFT)
DESC_COMMITTED, DESC_FINALIZED = 1, 2
MAX_COUNT_BITS = 24          # 16M descriptors: far above any real log (6.1's default is 2^12 or so)
MAX_SIZE_BITS = 30           # a 1 GiB text ring: log_buf_len= accepts at most 2 GiB, nobody uses it


@dataclass(frozen=True)
class PrbLayout:
    """Sizes and offsets of the lockless ring's structures (VMCOREINFO's, 6.1's by default)."""

    desc_size: int = 24
    state_var: int = 0
    text_blk_lpos: int = 8
    lpos_begin: int = 0
    lpos_next: int = 8
    info_size: int = 88
    info_ts_nsec: int = 8
    info_text_len: int = 16
    info_level: int = -1         # the byte of ``u8 flags:5, level:3`` (DWARF has it, VMCOREINFO not)
    level_shift: int = 5


def parse_prb(descs: bytes, infos: bytes, text: bytes, count: int, tail_id: int, head_id: int,
              layout: PrbLayout = PrbLayout()) -> List[LogRecord]:
    """The records from ``tail_id`` to ``head_id`` (both included), as makedumpfile's
    ``dump_lockless_dmesg`` walks them (pure: the three arrays are whole, ``count`` descriptors).

    Records not committed or finalized (being written, or reused), and records with no text, are
    skipped, as makedumpfile does.
    """
    if count <= 0 or len(descs) < count * layout.desc_size or len(infos) < count * layout.info_size:
        raise LogBufError(f"the descriptor ring of {count} entries does not fit the {len(descs)} bytes "
                          f"of descs and {len(infos)} bytes of infos read")
    size = len(text)
    if size == 0:
        raise LogBufError("the text ring is empty (size_bits gives 0 bytes)")
    out: List[LogRecord] = []
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
                level = infos[i + layout.info_level] >> layout.level_shift if layout.info_level >= 0 else 0
                out.append(LogRecord(ts, bytes(text[begin:begin + text_len]), level))
        if ident == head_id & DESC_ID_MASK:
            return out
        ident = (ident + 1) & DESC_ID_MASK
    raise LogBufError(f"the descriptor ring never reaches head_id {head_id:#x} from tail_id {tail_id:#x} "
                      f"in {count} steps: the ids are corrupted")


def _prb_layout(vi) -> PrbLayout:  # type: ignore[no-untyped-def]
    return PrbLayout(vi.size("prb_desc"), vi.offset("prb_desc", "state_var"),
                     vi.offset("prb_desc", "text_blk_lpos"), vi.offset("prb_data_blk_lpos", "begin"),
                     vi.offset("prb_data_blk_lpos", "next"), vi.size("printk_info"),
                     vi.offset("printk_info", "ts_nsec"), vi.offset("printk_info", "text_len"))


def read_prb(dump) -> List[LogRecord]:  # type: ignore[no-untyped-def]
    """The log of a 5.10+ kernel's ``dump``: its lockless ring, found through VMCOREINFO."""
    vi = dump.vmcoreinfo
    try:
        layout = _prb_layout(vi)
        rb = dump.read_u64(vi.symbol("prb"))                 # struct printk_ringbuffer *prb
        ring = dump.read(rb, vi.size("printk_ringbuffer"))
        dr, tr = vi.offset("printk_ringbuffer", "desc_ring"), vi.offset("printk_ringbuffer", "text_data_ring")
        count_bits = struct.unpack_from("<I", ring, dr + vi.offset("prb_desc_ring", "count_bits"))[0]
        descs_ptr, infos_ptr = (struct.unpack_from("<Q", ring, dr + vi.offset("prb_desc_ring", m))[0]
                                for m in ("descs", "infos"))
        head_id, tail_id = (struct.unpack_from("<Q", ring, dr + vi.offset("prb_desc_ring", m))[0]
                            for m in ("head_id", "tail_id"))
        size_bits = struct.unpack_from("<I", ring, tr + vi.offset("prb_data_ring", "size_bits"))[0]
        data_ptr = struct.unpack_from("<Q", ring, tr + vi.offset("prb_data_ring", "data"))[0]
    except VmcoreInfoError as e:
        raise LogBufError(f"cannot find the kernel log (lockless ring): {e}") from None
    except struct.error:
        raise LogBufError("SIZE(printk_ringbuffer) is too small for the offsets VMCOREINFO gives") from None
    if not 0 < count_bits <= MAX_COUNT_BITS:
        raise LogBufError(f"prb desc_ring.count_bits is {count_bits}: not a plausible descriptor ring")
    if not 0 < size_bits <= MAX_SIZE_BITS:
        raise LogBufError(f"prb text_data_ring.size_bits is {size_bits}: not a plausible text ring")
    count = 1 << count_bits
    return parse_prb(dump.read(descs_ptr, count * layout.desc_size), dump.read(infos_ptr, count * layout.info_size),
                     dump.read(data_ptr, 1 << size_bits), count, tail_id, head_id, layout)
