from __future__ import annotations

import io

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.describe import describe_dump, file_description
from kpanic_lab.kdump.makedumpfile import makedumpfile


def test_describe_elf_and_kdump(synthetic):
    elf = open_dump(synthetic.elf, "vmcore.elf")
    text = describe_dump(elf)
    assert text.startswith("vmcore.elf: ELF 64-bit LSB core file, x86-64")
    assert "kernel      6.1.0-synth" in text and "CRASHTIME 1700000000" in text
    assert "dump level  not recorded (ELF)" in text and "CPU 0       pid 1" in text
    out = io.BytesIO()
    makedumpfile(elf, out, 16, "zlib")
    k = open_dump(out.getvalue(), "vmcore")
    assert file_description(k) == ("Kdump compressed dump v6, system Linux, node (none), release 6.1.0-synth, "
                                   "machine x86_64, domain (none)")
    assert "dump level  16: dropped free pages" in describe_dump(k)
    assert "112 excluded" in describe_dump(k)
