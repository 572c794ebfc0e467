"""The four page compressors of the kdump-compressed format, as makedumpfile calls them.

Each page is compressed on its own and kept only if it got smaller (else stored raw, flag 0):

    flag  option  library call in makedumpfile      here
    0x01  -c      compress2(.., Z_BEST_SPEED)        zlib (stdlib), level 1, zlib wrapper
    0x02  -l      lzo1x_1_compress                   the same, in the system's liblzo2 (ctypes); else
                                                     lzallright (its LZO1X-999, also LZO1X)
    0x04  -p      snappy_compress                    cramjam.snappy raw (no framing)
    0x20  -z      ZSTD_compressCCtx(.., level 1)     zstandard, level 1, one frame

A codec whose Python package is missing is still listed; using it raises ``CodecUnavailable``
naming the option and the package to install.

>>> c = get_codec("zstd"); data = bytes(4096)
>>> c.decompress(c.compress(data), 4096) == data
True
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import ctypes
import threading
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from kpanic_lab.errors import LabError
from kpanic_lab.formats.compression import OPTION_OF, OPTIONS
from kpanic_lab.guest.headers import PAGE_SIZE

DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20
COMPRESSION_MASK = (DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY
                    | DUMP_DH_COMPRESSED_ZSTD)


class CodecUnavailable(LabError):
    """A compression the lab cannot do here: its Python package is not installed."""


class CodecError(LabError):
    """Compressed data that does not decompress to one page."""


@dataclass(frozen=True)
class Codec:
    name: str               # "zlib", "lzo", "snappy", "zstd"
    flag: int               # DUMP_DH_COMPRESSED_*
    option: str             # makedumpfile's option: -c, -l, -p, -z
    package: str            # the Python package that provides it
    _load: Callable[[], "_Impl"]

    @property
    def available(self) -> bool:
        try:
            self._load()
            return True
        except CodecUnavailable:
            return False

    def compress(self, page: bytes) -> bytes:
        return self._load().compress(page)

    def compress_many(self, pages: List[bytes]) -> List[bytes]:
        """Compress pages one by one (zstd does them in parallel threads)."""
        return self._load().compress_many(pages)

    def local(self) -> "_Impl":
        """This thread's own compressor (the libraries' contexts are not shared between threads)."""
        impls: Dict[str, _Impl] = _THREAD.__dict__.setdefault("impls", {})
        if self.name not in impls:
            impls[self.name] = type(self._load())()
        return impls[self.name]

    def zero_page(self) -> bytes:
        """The compressed form of a page of zeros (the same bytes every time: it is cached)."""
        if self.name not in _ZERO:
            _ZERO[self.name] = self.compress(bytes(PAGE_SIZE))
        return _ZERO[self.name]

    def decompress(self, data: bytes, size: int) -> bytes:
        try:
            out = self._load().decompress(data, size)
        except CodecUnavailable:
            raise
        except Exception as e:  # each library has its own error types
            raise CodecError(f"{self.name} data does not decompress ({e})") from None
        if len(out) != size:
            raise CodecError(f"{self.name} data decompresses to {len(out)} bytes, not a {size}-byte page")
        return out


class _Impl(ABC):
    """One codec's binding: every codec implements both."""

    @abstractmethod
    def compress(self, page: bytes) -> bytes: ...

    @abstractmethod
    def decompress(self, data: bytes, size: int) -> bytes: ...

    def compress_many(self, pages: Sequence[bytes], threads: int = -1) -> List[bytes]:
        c = self.compress
        return [c(p) for p in pages]


class _Zlib(_Impl):
    def compress(self, page: bytes) -> bytes:
        return zlib.compress(page, 1)

    def decompress(self, data: bytes, size: int) -> bytes:
        d = zlib.decompressobj()
        out = d.decompress(data, size + 1)
        if not d.eof:
            raise CodecError("zlib stream is cut short")
        return out


class _Zstd(_Impl):
    def __init__(self) -> None:
        import zstandard
        self._zstd = zstandard
        self._c = zstandard.ZstdCompressor(level=1, write_content_size=True)
        self._d = zstandard.ZstdDecompressor()

    def compress(self, page: bytes) -> bytes:
        return self._c.compress(page)

    def compress_many(self, pages: Sequence[bytes], threads: int = -1) -> List[bytes]:
        if len(pages) < 64:
            return [self._c.compress(p) for p in pages]
        out = self._c.multi_compress_to_buffer(list[Union[bytes, bytearray, memoryview]](pages), threads=threads)
        return [out[i].tobytes() for i in range(len(out))]

    def decompress(self, data: bytes, size: int) -> bytes:
        return self._d.decompress(data, max_output_size=size)


class _Lzo(_Impl):
    """LZO1X.  makedumpfile calls liblzo2's lzo1x_1_compress; when the system's liblzo2 is there
    (Debian's liblzo2-2, which makedumpfile itself needs) the lab calls the same function through
    ctypes and writes the same bytes.  Without it, lzallright compresses (its LZO1X-999: a valid
    LZO1X stream any reader decompresses, smaller but about 30 times slower)."""

    def __init__(self) -> None:
        self._lib = _liblzo2()
        if self._lib is not None:
            self._wrkmem = ctypes.create_string_buffer(_LZO1X_1_MEM_COMPRESS)
            self._out = ctypes.create_string_buffer(PAGE_SIZE + PAGE_SIZE // 16 + 64 + 3)
            self._outlen = ctypes.c_size_t()
            return
        import lzallright
        self._mod = lzallright
        self._c = lzallright.LZOCompressor()

    def compress(self, page: bytes) -> bytes:
        if self._lib is None:
            return self._c.compress(page)
        if len(page) + len(page) // 16 + 67 > len(self._out):
            self._out = ctypes.create_string_buffer(len(page) + len(page) // 16 + 67)
        rc = self._lib.lzo1x_1_compress(page, len(page), self._out, ctypes.byref(self._outlen), self._wrkmem)
        if rc != 0:
            raise CodecError(f"lzo1x_1_compress failed ({rc})")
        return self._out.raw[:self._outlen.value]

    def decompress(self, data: bytes, size: int) -> bytes:
        if self._lib is None:
            return self._mod.LZOCompressor.decompress(data, output_size_hint=size)
        out = ctypes.create_string_buffer(size + 1)
        n = ctypes.c_size_t(size + 1)
        rc = self._lib.lzo1x_decompress_safe(data, len(data), out, ctypes.byref(n), None)
        if rc != 0:
            raise CodecError(f"lzo1x_decompress_safe: error {rc}")
        return out.raw[:n.value]


_LZO1X_1_MEM_COMPRESS = 16384 * ctypes.sizeof(ctypes.c_void_p)
_LZO_LIB: List[Optional[ctypes.CDLL]] = []


def _liblzo2() -> Optional[ctypes.CDLL]:
    """The system's liblzo2 (what makedumpfile links), or None."""
    if not _LZO_LIB:
        lib: Optional[ctypes.CDLL] = None
        try:
            lib = ctypes.CDLL("liblzo2.so.2")          # the soname first: find_library runs ldconfig
        except OSError:
            from ctypes.util import find_library

            name = find_library("lzo2")
            try:
                lib = ctypes.CDLL(name) if name else None
            except OSError:
                lib = None
        if lib is not None:
            for fn in (lib.lzo1x_1_compress, lib.lzo1x_decompress_safe):
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                               ctypes.c_void_p]
        _LZO_LIB.append(lib)
    return _LZO_LIB[0]


class _Snappy(_Impl):
    def __init__(self) -> None:
        import cramjam
        self._s = cramjam.snappy

    def compress(self, page: bytes) -> bytes:
        return bytes(self._s.compress_raw(page))

    def decompress(self, data: bytes, size: int) -> bytes:
        return bytes(self._s.decompress_raw(data))


_LOADED: Dict[str, _Impl] = {}
_THREAD = threading.local()
_ZERO: Dict[str, bytes] = {}


def _loader(name: str, package: str, make: Callable[[], _Impl]) -> Callable[[], _Impl]:
    option = OPTION_OF[name]

    def load() -> _Impl:
        if name not in _LOADED:
            try:
                _LOADED[name] = make()
            except ImportError:
                raise CodecUnavailable(
                    f"makedumpfile {option} compresses pages with {name}, but its Python binding is not "
                    f"installed here: pip install {package}  (or choose another of {', '.join(OPTIONS)})") from None
        return _LOADED[name]
    return load


CODECS: Dict[str, Codec] = {
    c.name: c for c in (
        Codec("zlib", DUMP_DH_COMPRESSED_ZLIB, OPTION_OF["zlib"], "zlib (stdlib)", _loader("zlib", "zlib", _Zlib)),
        Codec("lzo", DUMP_DH_COMPRESSED_LZO, OPTION_OF["lzo"], "lzallright", _loader("lzo", "lzallright", _Lzo)),
        Codec("snappy", DUMP_DH_COMPRESSED_SNAPPY, OPTION_OF["snappy"], "cramjam",
              _loader("snappy", "cramjam", _Snappy)),
        Codec("zstd", DUMP_DH_COMPRESSED_ZSTD, OPTION_OF["zstd"], "zstandard", _loader("zstd", "zstandard", _Zstd)),
    )
}


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (zlib, lzo, snappy, zstd); it may still be unavailable."""
    try:
        return CODECS[name]
    except KeyError:
        raise CodecUnavailable(f"unknown compression {name!r} (known: {', '.join(CODECS)})") from None


def codec_for_flags(flags: int) -> Optional[Codec]:
    """The codec a page_desc's flags name, None for a raw page, CodecError for a mix."""
    bits = flags & COMPRESSION_MASK
    if bits == 0:
        return None
    for c in CODECS.values():
        if bits == c.flag:
            return c
    raise CodecError(f"page flags 0x{flags:x} name more than one compression")


@dataclass
class CompressedBatch:
    """A batch of pages as the kdump-compressed format stores them."""

    blob: bytes             # the stored bytes of every page that is not a shared zero page, in order
    sizes: np.ndarray       # uint32 per page: stored size (PAGE_SIZE for a raw or shared zero page)
    flags: np.ndarray       # uint32 per page: the codec's flag, or 0 for a raw page
    shared: np.ndarray      # bool per page: a zero page that points at the one shared zero page


def compress_batch(codec: Optional[Codec], pages: np.ndarray, share_zero: bool) -> CompressedBatch:
    """Compress each page of a (k, 4096) uint8 block on its own, keeping it only if smaller.

    This is makedumpfile's rule per page (a page that does not shrink is stored raw, flag 0).
    ``share_zero`` (-d 1): zero pages are not stored, they point at the shared zero page.  Safe
    to call from several threads at once: each thread uses its own compressor, and the codecs
    release the GIL while they work, so batches compress in parallel.
    """
    k = len(pages)
    zero: np.ndarray = np.asarray(~pages.view(np.uint64).any(axis=1), dtype=bool) if k else np.zeros(0, dtype=bool)
    shared: np.ndarray = zero if share_zero else np.zeros(k, dtype=bool)
    sizes = np.full(k, PAGE_SIZE, dtype=np.uint32)
    flags = np.zeros(k, dtype=np.uint32)
    own = np.nonzero(~shared)[0]
    if codec is None or len(own) == 0:
        return CompressedBatch(pages[own].tobytes(), sizes, flags, shared)
    own_zero = zero[own]
    zc = codec.zero_page()
    if own_zero.all():                              # all zeros (most of an idle machine's RAM at -d 0)
        if len(zc) >= PAGE_SIZE:
            return CompressedBatch(bytes(len(own) * PAGE_SIZE), sizes, flags, shared)
        sizes[own] = len(zc)
        flags[own] = codec.flag
        return CompressedBatch(zc * len(own), sizes, flags, shared)
    raw = pages[own[~own_zero]].tobytes()           # the busy pages, one copy, cut page by page
    packed = codec.local().compress_many([raw[j:j + PAGE_SIZE] for j in range(0, len(raw), PAGE_SIZE)], 1)
    if own_zero.any():
        it = iter(packed)
        parts: List[bytes] = [zc if z else next(it) for z in own_zero.tolist()]
    else:
        parts = packed
    lens = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    small = lens < PAGE_SIZE
    for j in np.nonzero(~small)[0].tolist():        # did not shrink: stored raw, flag 0
        parts[j] = pages[own[j]].tobytes()
    sizes[own[small]] = lens[small]
    flags[own[small]] = codec.flag
    return CompressedBatch(b"".join(parts), sizes, flags, shared)
