"""Human wording for dumps, kept apart from the parsing (pyelftools' descriptions.py habit).

>>> print(describe_dump(open_dump("vmcore")))               # doctest: +SKIP
vmcore: Kdump compressed dump v6, system Linux, node (none), release 6.1.0-kpanic, machine x86_64, domain (none)
  kernel      6.1.0-kpanic  build-id 974c2483dabfef4633670c6d21c7f73700a0b088
  crashed     2023-11-14 22:13:20 UTC (CRASHTIME 1700000000)
  dump level  31: dropped zero pages, non-private cache pages, ...
  CPU 0       pid 1      rip ffffffff8100c241  rsp ffffffff81038a98
  memory      2 ranges, 255.9 MiB of RAM; 1029 pages saved, 64382 excluded
"""
from __future__ import annotations

import datetime
from typing import List

from kpanic_lab.formats.dump import Dump
from kpanic_lab.formats.errors import dump_level_words


def file_description(dump: Dump) -> str:
    """What file(1) says about the dump."""
    src = dump.source
    if src.format == "kdump":
        h = src.header          # type: ignore[attr-defined]
        u = h.utsname
        parts = [f"Kdump compressed dump v{h.header_version}", f"system {u.sysname}", f"node {u.nodename}",
                 f"release {u.release}"] + ([f"version {u.version}"] if u.version else []) + \
                [f"machine {u.machine}", f"domain {u.domainname}"]
        return ", ".join(parts)
    return "ELF 64-bit LSB core file, x86-64, version 1 (SYSV), SVR4-style"


def describe_dump(dump: Dump) -> str:
    """A few lines a student reads first: what, which kernel, when, what was kept, each CPU."""
    vi = dump.vmcoreinfo
    kind = file_description(dump) + (" (flattened; rebuilt in memory)" if dump.format == "flattened" else "")
    lines: List[str] = [f"{dump.name}: {kind}"]
    if vi.osrelease:
        lines.append(f"  kernel      {vi.osrelease}" + (f"  build-id {vi.build_id}" if vi.build_id else ""))
    else:
        lines.append("  kernel      unknown: the dump has no VMCOREINFO")
    if vi.crashtime is not None:
        when = datetime.datetime.fromtimestamp(vi.crashtime, datetime.timezone.utc)
        lines.append(f"  crashed     {when:%Y-%m-%d %H:%M:%S} UTC (CRASHTIME {vi.crashtime})")
    level = dump.dump_level
    lines.append("  dump level  " + ("not recorded (ELF)" if level is None
                                      else f"{level}: dropped {dump_level_words(level)}"))
    for cpu, p in enumerate(dump.prstatus):
        lines.append(f"  CPU {cpu:<7} pid {p.pid:<6} rip {p.reg('rip'):016x}  rsp {p.reg('rsp'):016x}")
    ram = sum(b - a for a, b in dump.ranges)
    saved = int(dump.source.saved_bitmap().sum())
    total = int(dump.source.ram_bitmap().sum())
    lines.append(f"  memory      {len(dump.ranges)} ranges, {ram / (1 << 20):.1f} MiB of RAM; "
                 f"{saved} pages saved, {total - saved} excluded")
    return "\n".join(lines)
