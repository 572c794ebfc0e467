"""Dump file formats: the ELF vmcore, kdump-compressed, flattened, VMCOREINFO.

``open_dump`` gives a ``Dump`` whatever the format; it reads memory like the live machine
(``read(addr, size, physical=...)``), so the analysis layer cannot tell the two apart.

The names below load on first use (PEP 562), so that importing one light module of the
package (``kpanic_lab.formats.codecs`` for the CLI's option table) does not load the dump
readers and numpy with it.
"""
from importlib import import_module
from typing import Any

_WHERE = {"dump_level_words": "kpanic_lab.dumplevel",
          "Dump": "kpanic_lab.formats.dump", "detect_format": "kpanic_lab.formats.dump",
          "open_dump": "kpanic_lab.formats.dump",
          "DumpError": "kpanic_lab.formats.errors", "PageExcluded": "kpanic_lab.formats.errors",
          "USER_REGS": "kpanic_lab.formats.prstatus", "PrStatus": "kpanic_lab.formats.prstatus",
          "VmcoreInfo": "kpanic_lab.formats.vmcoreinfo", "VmcoreInfoError": "kpanic_lab.formats.vmcoreinfo",
          "parse_vmcoreinfo": "kpanic_lab.formats.vmcoreinfo"}

__all__ = ["Dump", "open_dump", "detect_format", "DumpError", "PageExcluded", "dump_level_words",
           "PrStatus", "USER_REGS", "VmcoreInfo", "VmcoreInfoError", "parse_vmcoreinfo"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kpanic_lab.formats' has no attribute {name!r}")


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(__all__))
