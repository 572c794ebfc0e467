"""Dump file formats: the ELF vmcore, kdump-compressed, flattened, VMCOREINFO.

``open_dump`` gives a ``Dump`` whatever the format; it reads memory like the live machine
(``read(addr, size, physical=...)``), so the analysis layer cannot tell the two apart.
"""
from kpanic_lab.dumplevel import dump_level_words
from kpanic_lab.formats.dump import Dump, detect_format, open_dump
from kpanic_lab.formats.errors import DumpError, PageExcluded
from kpanic_lab.formats.prstatus import USER_REGS, PrStatus
from kpanic_lab.formats.vmcoreinfo import VmcoreInfo, VmcoreInfoError, parse_vmcoreinfo

__all__ = ["Dump", "open_dump", "detect_format", "DumpError", "PageExcluded", "dump_level_words",
           "PrStatus", "USER_REGS", "VmcoreInfo", "VmcoreInfoError", "parse_vmcoreinfo"]
