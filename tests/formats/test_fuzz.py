"""Fuzz the dump readers: mutated corpus files must give a LabError, never another exception.

Bounded: KPANIC_FUZZ_EXAMPLES examples per format (default 150, a few seconds); CI can raise it.
Each failing input hypothesis finds is printed; add it to tests/formats/corpus/ as a regression.
"""
from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kpanic_lab.errors import LabError
from kpanic_lab.formats import open_dump
from kpanic_lab.kdump.dmesg import read_dmesg

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".elf", ".kdump", ".flat"))
EXAMPLES = int(os.environ.get("KPANIC_FUZZ_EXAMPLES", "150"))


def exercise(data: bytes) -> None:
    """Everything a student's session does with a dump; only LabError may come out."""
    try:
        d = open_dump(data, "fuzzed")
    except LabError:
        return
    try:
        _ = (d.vmcoreinfo.osrelease, [p.regs for p in d.prstatus], d.dump_level, repr(d))
        for a, b in d.ranges[:4]:
            for addr in range(a, min(b, a + 4 * 4096), 4096):
                try:
                    d.read(addr, 64, physical=True)
                except LabError:
                    pass
        try:
            read_dmesg(d)
        except LabError:
            pass
    finally:
        d.close()


def mutations(base: bytes):
    flip = st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255))
    return st.one_of(
        st.integers(0, len(base)).map(lambda n: base[:n]),                                   # truncation
        st.lists(flip, min_size=1, max_size=8).map(lambda fl: _flip(base, fl)),              # byte changes
        st.tuples(st.integers(0, min(len(base) - 1, 8192)), st.binary(min_size=1, max_size=64))
          .map(lambda t: base[:t[0]] + t[1] + base[t[0] + len(t[1]):]),                      # overwritten run
    )


def _flip(base: bytes, flips) -> bytes:
    b = bytearray(base)
    for off, val in flips:
        b[off] = val
    return bytes(b)


def test_corpus_is_valid():
    assert FILES, "empty corpus"
    for f in FILES:
        with open_dump(f) as d:
            assert d.vmcoreinfo.osrelease == "6.1.0-tiny"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_mutated_dumps_fail_cleanly(path):
    base = path.read_bytes()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("KPANIC_FUZZ_RANDOM"),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutations(base))
    def run(data: bytes) -> None:
        exercise(data)

    run()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(st.binary(max_size=512))
def test_random_bytes_fail_cleanly(data):
    for prefix in (b"", b"\x7fELF\x02\x01\x01\x00", b"KDUMP   ", b"makedumpfile\0\0\0\0"):
        exercise(prefix + data)
