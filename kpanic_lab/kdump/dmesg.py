"""The kernel log of a dump as ``makedumpfile --dump-dmesg`` writes it.

makedumpfile has no vmlinux: it finds the log through VMCOREINFO alone (``SYMBOL(log_buf)``,
``SIZE(printk_log)``, ``OFFSET(printk_log.len)`` ... or, on 5.10+, ``SYMBOL(prb)`` and the
lockless ring's sizes and offsets).  The records are read by
:func:`kpanic_lab.formats.printk.read_log`, the one reader crash's ``log`` uses too; what is
makedumpfile's own is the text: ``[%5lld.%06ld] text``, continuation lines indented under the
text, unprintable bytes as ``\\xNN``.

>>> format_dmesg([LogRecord(4493858000, b"sysrq: Trigger a crash")])
'[    4.493858] sysrq: Trigger a crash\\n'
"""
from __future__ import annotations

from typing import Any, Sequence

from kpanic_lab.formats.printk import LogRecord, LogRecords, VmcoreinfoFacts, read_log

__all__ = ["format_dmesg", "read_dmesg"]


def _printable(text: bytes, indent: int = 0) -> str:
    """``text`` as makedumpfile writes it: printable and space characters kept, a newline followed by
    ``indent`` spaces (the continuation lines line up under the text), anything else as ``\\xNN``."""
    out = []
    for b in text:
        ch = chr(b)
        if ch == "\n":
            out.append("\n" + " " * indent)
        else:
            out.append(ch if (32 <= b < 127 or ch in "\t\v\f\r") else f"\\x{b:02x}")
    return "".join(out)


def format_dmesg(records: Sequence[LogRecord]) -> str:
    """The log as makedumpfile --dump-dmesg writes it.

    >>> print(format_dmesg([LogRecord(0, b"two\\nlines")]), end="")
    [    0.000000] two
                   lines
    """
    lines = []
    for r in records:
        prefix = r.prefix()
        lines.append(f"{prefix}{_printable(r.text, len(prefix))}\n")
    return "".join(lines)


def read_dmesg(dump: Any) -> LogRecords:
    """The log of ``dump`` (a Dump, or anything with ``read`` and ``vmcoreinfo``), found as
    makedumpfile finds it: through VMCOREINFO alone (``error`` set where a record was bad)."""
    return read_log(dump.read, VmcoreinfoFacts(dump.vmcoreinfo))
