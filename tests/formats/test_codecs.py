from __future__ import annotations

import ctypes
import ctypes.util
import os

import pytest

from kpanic_lab.formats.codecs import (CODECS, CodecError, CodecUnavailable, codec_for_flags, get_codec)

PAGE = bytes(range(256)) * 8 + bytes(2048)


@pytest.mark.parametrize("name", list(CODECS))
def test_round_trip_and_flags(name):
    c = get_codec(name)
    if not c.available:
        pytest.skip(f"{c.package} not installed")
    data = c.compress(PAGE)
    assert len(data) < len(PAGE)
    assert c.decompress(data, 4096) == PAGE
    assert codec_for_flags(c.flag) is c
    assert c.compress_many([PAGE] * 100) == [c.compress(PAGE)] * 100 or \
        [c.decompress(x, 4096) for x in c.compress_many([PAGE] * 100)] == [PAGE] * 100


def test_flags_are_makedumpfiles():
    assert {c.name: c.flag for c in CODECS.values()} == {"zlib": 1, "lzo": 2, "snappy": 4, "zstd": 0x20}
    assert {c.name: c.option for c in CODECS.values()} == {"zlib": "-c", "lzo": "-l", "snappy": "-p", "zstd": "-z"}
    assert codec_for_flags(0) is None
    with pytest.raises(CodecError):
        codec_for_flags(0x21)


@pytest.mark.parametrize("name", list(CODECS))
def test_garbage_is_a_codec_error(name):
    c = get_codec(name)
    if not c.available:
        pytest.skip(f"{c.package} not installed")
    with pytest.raises(CodecError):
        c.decompress(b"\x01\x02garbage" * 3, 4096)


def test_missing_binding_names_option_and_package(monkeypatch):
    import kpanic_lab.formats.codecs as codecs
    monkeypatch.delitem(codecs._LOADED, "lzo", raising=False)

    def fail():
        raise ImportError("no")
    codec = codecs.Codec("lzo", 2, "-l", "lzallright", codecs._loader("lzo", "lzallright", fail))
    with pytest.raises(CodecUnavailable, match=r"-l .*pip install lzallright  \(or choose another of -c, -l, -p, -z\)"):
        codec.compress(PAGE)
    assert not codec.available


def _lib(name):
    path = ctypes.util.find_library(name)
    return ctypes.CDLL(path) if path else None


def test_lzo_output_decodes_with_liblzo2():
    """The LZO binding must write what makedumpfile's lzo1x_decompress_safe reads."""
    lib = _lib("lzo2")
    if lib is None or not get_codec("lzo").available:
        pytest.skip("liblzo2 or lzallright not installed")
    data = get_codec("lzo").compress(PAGE)
    out = ctypes.create_string_buffer(4096)
    n = ctypes.c_size_t(4096)
    assert lib.lzo1x_decompress_safe(data, len(data), out, ctypes.byref(n), None) == 0
    assert out.raw[:n.value] == PAGE


def test_snappy_output_decodes_with_libsnappy():
    lib = _lib("snappy")
    if lib is None or not get_codec("snappy").available:
        pytest.skip("libsnappy or cramjam not installed")
    data = get_codec("snappy").compress(PAGE)
    out = ctypes.create_string_buffer(4096)
    n = ctypes.c_size_t(4096)
    assert lib.snappy_uncompress(data, len(data), out, ctypes.byref(n)) == 0
    assert out.raw[:n.value] == PAGE


@pytest.mark.parametrize("name", list(CODECS))
@pytest.mark.parametrize("share_zero", [False, True])
def test_compress_batch_is_each_page_on_its_own(name, share_zero):
    """compress_batch (vectorised) stores each page as makedumpfile does, one page at a time: the codec's
    output if smaller, else the raw page with flag 0; with share_zero a zero page is not stored at all."""
    import numpy as np

    from kpanic_lab.formats.codecs import compress_batch
    from kpanic_lab.guest.headers import PAGE_SIZE as PAGE

    c = CODECS[name]
    if not c.available:
        pytest.skip(f"{c.package} not installed")
    rng = np.random.default_rng(18)
    pages = np.zeros((9, PAGE), dtype=np.uint8)
    pages[[0, 4, 8]] = rng.integers(0, 256, (3, PAGE), dtype=np.uint8)     # do not shrink: stored raw
    pages[[1, 5], :300] = 7                                                 # shrink
    batch = compress_batch(c, pages, share_zero)
    blob, sizes, flags, shared = b"", [], [], []
    for page in pages:
        if share_zero and not page.any():
            sizes.append(PAGE), flags.append(0), shared.append(True)
            continue
        z = c.compress(page.tobytes())
        stored = z if len(z) < PAGE else page.tobytes()
        blob += stored
        sizes.append(len(stored)), flags.append(c.flag if len(z) < PAGE else 0), shared.append(False)
    assert batch.blob == blob
    assert batch.sizes.tolist() == sizes and batch.flags.tolist() == flags and batch.shared.tolist() == shared
    assert flags.count(0) == (3 + 4 * share_zero)
