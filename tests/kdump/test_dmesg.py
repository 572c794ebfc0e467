"""makedumpfile --dump-dmesg: the log found through VMCOREINFO alone, in makedumpfile's text.
The ring itself is read by formats/printk.py (tests/formats/test_printk.py)."""
from __future__ import annotations

import dataclasses
import doctest
import io
import struct

import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.printk import LogRecord
from kpanic_lab.kdump import dmesg
from kpanic_lab.kdump.dmesg import format_dmesg, read_dmesg
from kpanic_lab.kdump.makedumpfile import MakedumpfileError, dump_dmesg


def test_docstring_examples():
    assert doctest.testmod(dmesg).failed == 0


def test_synthetic_log(synthetic):
    recs = read_dmesg(open_dump(synthetic.elf))
    assert [(r.ts_nsec, r.text) for r in recs] == synthetic.log and recs.error is None
    assert format_dmesg(recs).splitlines()[1] == "[    0.002000] sysrq: Trigger a crash"


def test_unprintable_bytes_are_escaped():
    assert format_dmesg([LogRecord(1_500_000_000, b"a\x01b")]) == "[    1.500000] a\\x01b\n"


def test_continuation_lines_are_indented_as_makedumpfile_does():
    text = format_dmesg([LogRecord(0, b"clocksource: a\n  \"trace_clock=local\"\non the line")])
    assert text == ("[    0.000000] clocksource: a\n"
                    "                 \"trace_clock=local\"\n"
                    "               on the line\n")


def test_a_corrupted_record_fails_after_the_lines_before_it(synthetic):
    """makedumpfile writes each record as it reads it, and fails at the bad one: the lines before
    it are in the file (kdump.sh keeps it as vmcore-dmesg-incomplete.txt)."""
    from tests.formats import synth

    mem = bytearray(synthetic.memory)
    log_buf = synth.LOG_BUF_PFN * synth.PAGE
    second = log_buf + struct.unpack_from("<H", mem, log_buf + 8)[0]
    struct.pack_into("<H", mem, second + 10, 5000)                 # text_len far past len
    dump = open_dump(synth.elf_bytes(dataclasses.replace(synthetic, memory=mem)))
    out = io.BytesIO()
    with pytest.raises(MakedumpfileError, match=r"--dump-dmesg: printk_log at index \d+: .*text_len 5000"
                                                r".*\(1 records written before it\)"):
        dump_dmesg(dump, out)
    assert out.getvalue().decode() == format_dmesg([LogRecord(*synthetic.log[0])])
