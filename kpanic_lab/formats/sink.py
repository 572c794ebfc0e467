"""Where the dump writers put bytes: at an offset of the file they describe.

makedumpfile writes every piece of a dump at its file offset (``write_buffer(fd, offset, ..)``).
To a file it seeks; to a pipe (``-F``) it writes a flattened-format record instead, and
``makedumpfile -R`` puts the records back at their offsets.  The writers here do the same
through a ``Sink``: ``StreamSink`` for a plain stream, ``flattened.FlattenedWriter`` for ``-F``.
"""
from __future__ import annotations

from typing import BinaryIO, Protocol, Union

Bytes = Union[bytes, bytearray, memoryview]
_ZEROS = bytes(1 << 16)


class Sink(Protocol):
    def write_at(self, offset: int, data: Bytes) -> None: ...

    def close(self) -> None: ...


class StreamSink:
    """Writes at offsets of a stream: a seekable one (a file) seeks, as makedumpfile's
    ``write_buffer`` does, so a writer can reserve room and back-fill it; on a pipe the writes
    must come in offset order, and a gap is filled with zeros."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.position = 0
        self.written = 0
        try:
            self.seekable = bool(stream.seekable())
        except (AttributeError, ValueError, OSError):
            self.seekable = False

    def write_at(self, offset: int, data: Bytes) -> None:
        if offset != self.position and self.seekable:
            self.stream.seek(offset)
            self.position = offset
        if offset < self.position:
            raise ValueError(f"StreamSink writes forward only: offset 0x{offset:x} < 0x{self.position:x}")
        while self.position < offset:
            n = min(offset - self.position, len(_ZEROS))
            self.stream.write(_ZEROS[:n])
            self.position += n
        self.stream.write(data)
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.position += n
        self.written += n

    def close(self) -> None:
        self.stream.flush()
