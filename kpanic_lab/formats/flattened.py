"""The flattened format: a dump written to a pipe (``makedumpfile -F``), rebuilt with ``-R``.

A pipe cannot seek, so makedumpfile sends each write as a record that carries its file offset:

    makedumpfile_header   4096 bytes: "makedumpfile" (16 bytes, NUL padded), type 1, version 1
    data header           int64 offset, int64 buf_size, then buf_size bytes of data ... repeated
    end marker            offset -1, buf_size -1

The header's numbers and every data header are big-endian (makedumpfile byte-swaps them "for
sending dump data to a different architecture").  ``makedumpfile -R OUT < FLAT`` writes each
record's bytes at its offset of OUT, giving back the kdump-compressed (or ELF) file.

>>> import io; out = io.BytesIO(); w = FlattenedWriter(out); w.write_at(0, b"KDUMP   "); w.close()
>>> back = io.BytesIO(); rebuild(io.BytesIO(out.getvalue()), back)
8
>>> back.getvalue()
b'KDUMP   '
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator, Tuple

from kpanic_lab.formats.errors import DumpError
from kpanic_lab.formats.sink import Bytes

MDF_SIGNATURE = b"makedumpfile"
MDF_HEADER_SIZE = 4096
TYPE_FLAT_HEADER = 1
VERSION_FLAT_HEADER = 1
END_FLAG = -1
_HEADER = struct.Struct(">16sqq")
_DATA = struct.Struct(">qq")
MAX_RECORD = 1 << 30      # makedumpfile never writes more than its cache size at once
_COPY = 1 << 20
MAX_OFFSET = 1 << 42      # 4 TiB: no dump of a machine this lab (or a student's server) makes is larger


def is_flattened(head: bytes) -> bool:
    return head[:16] == MDF_SIGNATURE + bytes(4)


class FlattenedWriter:
    """A Sink that turns each ``write_at`` into a flattened record; ``close`` ends the stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.written = 0
        self.closed = False
        head = _HEADER.pack(MDF_SIGNATURE, TYPE_FLAT_HEADER, VERSION_FLAT_HEADER)
        stream.write(head + bytes(MDF_HEADER_SIZE - len(head)))

    def write_at(self, offset: int, data: Bytes) -> None:
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        if n == 0:
            return
        self.stream.write(_DATA.pack(offset, n))
        self.stream.write(data)
        self.written += n

    def close(self) -> None:
        if not self.closed:
            self.stream.write(_DATA.pack(END_FLAG, END_FLAG))
            self.stream.flush()
            self.closed = True


def _record_heads(stream: BinaryIO, name: str) -> Iterator[Tuple[int, int, int]]:
    """(offset, size, stream position) of each record, the stream left at the record's data,
    which the caller must consume before asking for the next one."""
    head = stream.read(MDF_HEADER_SIZE)
    if not head:
        raise DumpError(name, 0, "zero-length: no makedumpfile header")
    if len(head) < _HEADER.size:
        raise DumpError(name, 0, f"truncated: {len(head)} bytes of the 4096-byte makedumpfile header")
    sig, typ, ver = _HEADER.unpack_from(head)
    if sig != MDF_SIGNATURE + bytes(4):
        raise DumpError(name, 0, f"wrong magic {sig[:12]!r}: not a flattened makedumpfile stream")
    if typ != TYPE_FLAT_HEADER or ver != VERSION_FLAT_HEADER:
        raise DumpError(name, 16, f"unknown flattened format type {typ} version {ver} (expected 1, 1)")
    if len(head) < MDF_HEADER_SIZE:
        raise DumpError(name, len(head), "truncated: the makedumpfile header is cut short")
    pos = MDF_HEADER_SIZE
    while True:
        dh = stream.read(_DATA.size)
        if len(dh) < _DATA.size:
            raise DumpError(name, pos, "truncated: the stream ends without the end marker "
                            "(the dump was cut off; it is not a whole vmcore)")
        offset, size = _DATA.unpack(dh)
        if offset == END_FLAG and size == END_FLAG:
            return
        if offset < 0 or size <= 0 or size > MAX_RECORD or offset + size > MAX_OFFSET:
            raise DumpError(name, pos, f"corrupted data header: offset {offset}, size {size}")
        yield offset, size, pos + _DATA.size
        pos += _DATA.size + size


def iter_records(stream: BinaryIO, name: str = "flattened dump") -> Iterator[Tuple[int, bytes]]:
    """(offset, data) of each record, checked; the end marker ends the iteration.

    A stream that stops before the end marker raises DumpError ("truncated"): a dump cut off
    mid-transfer must not pass for a whole one.
    """
    for offset, size, at in _record_heads(stream, name):
        data = stream.read(size)
        if len(data) < size:
            raise DumpError(name, at, f"truncated: record of {size} bytes has only {len(data)}")
        yield offset, data


def rebuild(flat: BinaryIO, out: BinaryIO, name: str = "flattened dump") -> int:
    """``makedumpfile -R``: write every record at its offset of ``out`` (seekable); returns the size.

    A record is copied in pieces of at most 1 MiB, so memory stays bounded whatever the
    stream says a record's size is.
    """
    end = 0
    for offset, size, at in _record_heads(flat, name):
        try:
            out.seek(offset)
        except OSError as e:
            raise DumpError(name, None, f"cannot seek to offset 0x{offset:x} of the rebuilt dump: "
                            f"{e.strerror or e}") from None
        left = size
        while left:
            piece = flat.read(min(left, _COPY))
            if not piece:
                raise DumpError(name, at, f"truncated: record of {size} bytes has only {size - left}")
            try:
                out.write(piece)
            except OSError as e:
                raise DumpError(name, None, f"cannot write {len(piece)} bytes at offset "
                                f"0x{offset + size - left:x} of the rebuilt dump: {e.strerror or e}") from None
            left -= len(piece)
        end = max(end, offset + size)
    out.truncate(end)
    out.flush()
    return end
