"""VMCOREINFO: the KEY=VALUE text a kernel leaves for dump tools (kernel/crash_core.c).

The crashed kernel writes it into a note named "VMCOREINFO" (type 0); makedumpfile and crash
read symbol addresses, struct sizes, member offsets and flag numbers from it, so they need no
vmlinux.  The lines and their number formats are Linux's macros:

    OSRELEASE=6.1.0          VMCOREINFO_OSRELEASE
    BUILD-ID=974c24...       VMCOREINFO_BUILD_ID (40 hex digits)
    PAGESIZE=4096            VMCOREINFO_PAGESIZE (decimal)
    SYMBOL(mem_map)=ffff...  VMCOREINFO_SYMBOL (hex, no 0x)
    SIZE(page)=56            VMCOREINFO_SIZE / STRUCT_SIZE (decimal)
    OFFSET(page.flags)=0     VMCOREINFO_OFFSET (decimal)
    LENGTH(zone.free_area)=11  VMCOREINFO_LENGTH (decimal)
    NUMBER(PG_lru)=4         VMCOREINFO_NUMBER (signed decimal)
    CRASHTIME=1700000000     crash_save_vmcoreinfo (decimal)
    KERNELOFFSET=0           x86 arch_crash_save_vmcoreinfo (hex)

>>> info = parse_vmcoreinfo("OSRELEASE=6.1.0\\nSYMBOL(mem_map)=ffffffff81069100\\nNUMBER(phys_base)=0\\n")
>>> hex(info.symbol("mem_map")), info.number("phys_base"), info.osrelease
('0xffffffff81069100', 0, '6.1.0')
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, Optional, Tuple, Union

from kpanic_lab.errors import LabError
from kpanic_lab.guest.headers import PAGE_SIZE

_KEY = re.compile(r"^[A-Za-z0-9_\-]+(\([A-Za-z0-9_.\-]+\))?$")


class VmcoreInfoError(LabError, KeyError):
    """A malformed VMCOREINFO line, or a key a tool needs that the kernel did not export."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class VmcoreInfo(Dict[str, str]):
    """The parsed VMCOREINFO: a dict of KEY -> raw value text, with typed accessors."""

    name: str = "VMCOREINFO"

    def _get(self, key: str) -> str:
        try:
            return self[key]
        except KeyError:
            raise VmcoreInfoError(f"{self.name} has no {key}: the kernel did not export it") from None

    def _int(self, key: str, base: int) -> int:
        raw = self._get(key)
        try:
            return int(raw, base)
        except ValueError:
            raise VmcoreInfoError(f"{self.name}: {key}={raw!r} is not a base-{base} number") from None

    def symbol(self, name: str) -> int:
        """``SYMBOL(name)``: an address (hex)."""
        return self._int(f"SYMBOL({name})", 16)

    def size(self, name: str) -> int:
        """``SIZE(name)``: sizeof, in bytes."""
        return self._int(f"SIZE({name})", 10)

    def offset(self, struct: str, member: str) -> int:
        """``OFFSET(struct.member)``: offsetof, in bytes."""
        return self._int(f"OFFSET({struct}.{member})", 10)

    def length(self, name: str) -> int:
        """``LENGTH(name)``: the number of elements of an array."""
        return self._int(f"LENGTH({name})", 10)

    def number(self, name: str) -> int:
        """``NUMBER(name)``: a constant (signed decimal)."""
        return self._int(f"NUMBER({name})", 10)

    def has(self, key: str) -> bool:
        return key in self

    @property
    def osrelease(self) -> Optional[str]:
        return self.get("OSRELEASE")

    @property
    def build_id(self) -> Optional[str]:
        return self.get("BUILD-ID")

    @property
    def pagesize(self) -> int:
        return self._int("PAGESIZE", 10) if "PAGESIZE" in self else PAGE_SIZE

    @property
    def crashtime(self) -> Optional[int]:
        return self._int("CRASHTIME", 10) if "CRASHTIME" in self else None

    @property
    def kerneloffset(self) -> int:
        return self._int("KERNELOFFSET", 16) if "KERNELOFFSET" in self else 0

    @property
    def phys_base(self) -> int:
        return self.number("phys_base") if "NUMBER(phys_base)" in self else 0


def parse_vmcoreinfo(text: Union[str, bytes], name: str = "VMCOREINFO") -> VmcoreInfo:
    """Parse VMCOREINFO text (trailing NULs from the note's padding are ignored).

    A line without ``=`` or with a key that is not ``NAME`` or ``KIND(name)`` is an error
    naming the line; a later line for the same key wins, as in crash.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text).rstrip(b"\0")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as e:
            raise VmcoreInfoError(f"{name}: byte {e.start} is not ASCII (0x{raw[e.start]:02x})") from None
    info = VmcoreInfo()
    info.name = name
    for lineno, line in enumerate(text.rstrip("\0").split("\n"), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.match(key):
            raise VmcoreInfoError(f"{name} line {lineno}: {line[:60]!r} is not KEY=VALUE")
        info[key] = value
    return info


class VmcoreInfoWriter:
    """Emit VMCOREINFO lines in Linux's formats, in the order they are added.

    >>> w = VmcoreInfoWriter(); w.symbol("mem_map", 0xffffffff81069100); w.offset("page", "flags", 0)
    >>> w.number("PAGE_BUDDY_MAPCOUNT_VALUE", -129); print(w.text(), end="")
    SYMBOL(mem_map)=ffffffff81069100
    OFFSET(page.flags)=0
    NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129
    """

    def __init__(self) -> None:
        self.lines: list = []

    def raw(self, key: str, value: str) -> None:
        self.lines.append(f"{key}={value}")

    def osrelease(self, release: str) -> None:
        self.raw("OSRELEASE", release)

    def build_id(self, hex_id: str) -> None:
        self.raw("BUILD-ID", hex_id)

    def pagesize(self, size: int) -> None:
        self.raw("PAGESIZE", str(size))

    def symbol(self, name: str, address: int) -> None:
        self.raw(f"SYMBOL({name})", f"{address:x}")

    def size(self, name: str, size: int) -> None:
        self.raw(f"SIZE({name})", str(size))

    def offset(self, struct: str, member: str, offset: int) -> None:
        self.raw(f"OFFSET({struct}.{member})", str(offset))

    def length(self, name: str, length: int) -> None:
        self.raw(f"LENGTH({name})", str(length))

    def number(self, name: str, value: int) -> None:
        self.raw(f"NUMBER({name})", str(value))

    def crashtime(self, seconds: int) -> None:
        self.raw("CRASHTIME", str(seconds))

    def kerneloffset(self, offset: int) -> None:
        self.raw("KERNELOFFSET", f"{offset:x}")

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def emit_vmcoreinfo(entries: Iterable[Tuple[str, str]]) -> str:
    """KEY=VALUE lines from (key, raw value) pairs: the inverse of ``parse_vmcoreinfo``."""
    return "".join(f"{k}={v}\n" for k, v in entries)
