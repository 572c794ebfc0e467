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


def _printable(text: bytes) -> str:
    out = []
    for b in text:
        ch = chr(b)
        out.append(ch if (32 <= b < 127 or ch in "\t\n") else f"\\x{b:02x}")
    return "".join(out)


def format_dmesg(records: Sequence[LogRecord]) -> str:
    """The log as makedumpfile --dump-dmesg writes it."""
    lines = []
    for r in records:
        secs, nanos = divmod(r.ts_nsec, 1_000_000_000)
        lines.append(f"[{secs:5d}.{nanos // 1000:06d}] {_printable(r.text)}\n")
    return "".join(lines)


def read_dmesg(dump) -> List[LogRecord]:  # type: ignore[no-untyped-def]
    """The log of ``dump`` (a Dump, or anything with ``read`` and ``vmcoreinfo``)."""
    vi = dump.vmcoreinfo
    if "SYMBOL(log_buf)" not in vi and "SYMBOL(prb)" in vi:
        raise LogBufError("this kernel keeps its log in the lockless printk ring buffer (SYMBOL(prb), "
                          "Linux 5.10+); only the printk_log format is read here")
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
