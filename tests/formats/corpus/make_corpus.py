"""Rebuild the fuzz corpus: python -m tests.formats.corpus.make_corpus (from the repository root).

Three tiny dumps of one 3-page memory range, one per format; the fuzz test mutates them.
"""
from __future__ import annotations

import io
import pathlib

from kpanic_lab.formats import open_dump
from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, write_elf_core
from kpanic_lab.formats.prstatus import PrStatus
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.guest.headers import PAGE_OFFSET
from kpanic_lab.kdump.makedumpfile import makedumpfile

HERE = pathlib.Path(__file__).resolve().parent
VMCOREINFO = ("OSRELEASE=6.1.0-tiny\nPAGESIZE=4096\nSYMBOL(log_buf)=ffff888000001000\n"
              "SYMBOL(log_buf_len)=ffff888000001008\nSYMBOL(log_first_idx)=ffff88800000100c\n"
              "SYMBOL(log_next_idx)=ffff888000001010\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\n"
              "OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\nNUMBER(phys_base)=0\n")


def tiny_elf() -> bytes:
    mem = bytearray(3 * 4096)
    mem[0x1000:0x1008] = (PAGE_OFFSET + 0x2000).to_bytes(8, "little")
    mem[0x1008:0x1014] = (4096).to_bytes(4, "little") + (0).to_bytes(4, "little") + (24).to_bytes(4, "little")
    mem[0x2000:0x2018] = (1000).to_bytes(8, "little") + (24).to_bytes(2, "little") + (5).to_bytes(2, "little") + bytes(4) + b"hello\0\0\0"
    out = io.BytesIO()
    write_elf_core(StreamSink(out), build_vmcore_notes([PrStatus(pid=1, regs={"rip": 1})], VMCOREINFO),
                   [ElfLoad(0x1000, PAGE_OFFSET + 0x1000, 0x2000, 0x2000)],
                   lambda ld: [bytes(mem[ld.paddr:ld.paddr + ld.filesz])])
    return out.getvalue()


def main() -> None:
    elf = tiny_elf()
    (HERE / "tiny.elf").write_bytes(elf)
    for name, kw in (("tiny.kdump", dict(compression="zlib")), ("tiny.flat", dict(compression="zstd", flatten=True))):
        out = io.BytesIO()
        makedumpfile(open_dump(elf), out, 1, **kw)
        (HERE / name).write_bytes(out.getvalue())


if __name__ == "__main__":
    main()
