"""``crashkernel=``: parse every upstream form, and reserve the memory as Linux 6.1 x86-64 does.

Forms (kernel/crash_core.c; the last ``crashkernel=`` on the command line wins):

    crashkernel=size[@offset]                       192M, 256M@4G, 0x10000000
    crashkernel=start-[end]:size[,start-[end]:size...][@offset]
                                                    1G-4G:192M,4G-64G:256M,64G-:512M
                                                    (the range holding System RAM, rounded up to
                                                    128 MiB, picks the size; end is exclusive)
    crashkernel=size,high   [crashkernel=size,low]  above 4 GiB, plus low memory for DMA

``crashkernel=auto`` was a RHEL/CentOS patch and never existed upstream.

Reservation (arch/x86/kernel/setup.c reserve_crashkernel, 6.1): with no offset, memblock finds
the highest 16 MiB-aligned free block below 4 GiB (then below 64 TiB); ``,high`` goes straight
above; an offset must be free as given.  A reservation at or above 4 GiB also takes low memory
(``,low`` or 256 MiB).  The messages are Linux's.

>>> parse_crashkernel("console=ttyS0 crashkernel=1G-4G:192M,4G-:256M", 2 << 30).size >> 20
192
>>> r = reserve_crashkernel("crashkernel=64M", [(0x1000, 0x9fc00), (0x100000, 0xffe0000)],
...                         reserved=[(0x1000000, 0x1100000)])
>>> r.messages[-1]
'Reserving 64MB of memory at 176MB for crashkernel (System RAM: 255MB)'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from kpanic_lab.errors import LabError

SZ_1M = 1 << 20
SZ_128M = 128 << 20
CRASH_ALIGN = 16 << 20
CRASH_ADDR_LOW_MAX = 4 << 30
CRASH_ADDR_HIGH_MAX = 64 << 40
DEFAULT_LOW = 256 << 20             # max(swiotlb 64M + 8M, 256M) in reserve_crashkernel_low
ULLONG_MAX = (1 << 64) - 1
_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}

AUTO_EXPLAINED = ("crashkernel=auto was a RHEL/CentOS extension (their kernels sized the reservation "
                  "from the RAM); upstream Linux never had it and RHEL 9 removed it. Upstream prints "
                  "'crashkernel: memory value expected' and reserves nothing. Give a size "
                  "(crashkernel=256M) or RAM-dependent ranges (crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M)")


class CrashkernelError(LabError, ValueError):
    """A malformed crashkernel= value: ``position`` is the index in the value, ``kernel_message``
    what Linux prints for it."""

    def __init__(self, value: str, position: int, why: str, kernel_message: str) -> None:
        self.value, self.position, self.why, self.kernel_message = value, position, why, kernel_message
        super().__init__(f"crashkernel={value}: at position {position}: {why} "
                         f"(Linux prints \"{kernel_message}\")")


@dataclass(frozen=True)
class CrashkernelRange:
    start: int
    end: Optional[int]      # None: open-ended ("64G-")
    size: int


@dataclass(frozen=True)
class Crashkernel:
    """One parsed crashkernel= setting; ``size`` 0 means nothing is reserved."""

    form: str                               # "simple", "ranges", "high"
    size: int
    offset: int = 0                         # 0: let the kernel choose
    ranges: Tuple[CrashkernelRange, ...] = ()
    low: Optional[int] = None               # crashkernel=Y,low
    text: str = ""

    @property
    def high(self) -> bool:
        return self.form == "high"


def memparse(s: str, pos: int = 0) -> Tuple[int, int]:
    """Linux memparse(): a number (0x hex, 0 octal, decimal) and a K/M/G/T/P/E suffix.
    Returns (value, position after it); no digits gives (0, pos)."""
    i, base = pos, 10
    if s[i:i + 1] == "0" and s[i + 1:i + 2].lower() == "x" and s[i + 2:i + 3] and s[i + 2] in "0123456789abcdefABCDEF":
        base, i = 16, i + 2
    elif s[i:i + 1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    start, val = i, 0
    while i < len(s) and s[i].lower() in digits:
        val = (val * base + int(s[i], 16)) & ULLONG_MAX
        i += 1
    if i == start:
        return 0, pos
    if i < len(s) and s[i].lower() in _SHIFT:
        val = (val << _SHIFT[s[i].lower()]) & ULLONG_MAX
        i += 1
    return val, i


def _end_of_word(s: str, pos: int) -> bool:
    return pos >= len(s) or s[pos] == " "


def parse_crashkernel_value(value: str, system_ram: int, suffix: Optional[str] = None) -> Crashkernel:
    """Parse the text after ``crashkernel=`` (one word) as Linux does; CrashkernelError if malformed."""
    if value.strip().lower() == "auto":
        raise CrashkernelError(value, 0, AUTO_EXPLAINED, "crashkernel: memory value expected")
    if suffix is not None:
        size, cur = memparse(value, 0)
        if cur == 0:
            raise CrashkernelError(value, 0, "a size is expected", "crashkernel: memory value expected")
        if not value.startswith(suffix, cur):
            ch = value[cur:cur + 1] or "\\0"
            raise CrashkernelError(value, cur, f"expected {suffix!r}, found {ch!r}",
                                   f"crashkernel: unrecognized char: {ch}")
        cur += len(suffix)
        if not _end_of_word(value, cur):
            raise CrashkernelError(value, cur, f"unexpected {value[cur]!r} after {suffix!r}",
                                   f"crashkernel: unrecognized char: {value[cur]}")
        return Crashkernel("high" if suffix == ",high" else "low", size, text=value)
    colon, space = value.find(":"), value.find(" ")
    if colon >= 0 and (space < 0 or colon < space):
        return _parse_ranges(value, system_ram)
    size, cur = memparse(value, 0)
    if cur == 0:
        raise CrashkernelError(value, 0, "a size is expected (a number with K, M or G)",
                               "crashkernel: memory value expected")
    offset = 0
    if cur < len(value) and value[cur] == "@":
        offset, _ = memparse(value, cur + 1)
    elif not _end_of_word(value, cur):
        raise CrashkernelError(value, cur, f"unexpected {value[cur]!r} after the size",
                               f"crashkernel: unrecognized char: {value[cur]}")
    return Crashkernel("simple", size, offset, text=value)


def _parse_ranges(value: str, system_ram: int) -> Crashkernel:
    total = -(-system_ram // SZ_128M) * SZ_128M
    cur, chosen, ranges = 0, 0, []
    while True:
        start, nxt = memparse(value, cur)
        if nxt == cur:
            raise CrashkernelError(value, cur, "a range start is expected", "crashkernel: Memory value expected")
        cur = nxt
        if value[cur:cur + 1] != "-":
            raise CrashkernelError(value, cur, "'-' is expected after a range start", "crashkernel: '-' expected")
        cur += 1
        end: Optional[int] = None
        if value[cur:cur + 1] != ":":
            end, nxt = memparse(value, cur)
            if nxt == cur:
                raise CrashkernelError(value, cur, "a range end (or ':') is expected",
                                       "crashkernel: Memory value expected")
            cur = nxt
            if end <= start:
                raise CrashkernelError(value, cur, f"the range ends ({end:#x}) at or before it starts ({start:#x})",
                                       "crashkernel: end <= start")
        if value[cur:cur + 1] != ":":
            raise CrashkernelError(value, cur, "':' is expected after a range", "crashkernel: ':' expected")
        cur += 1
        size, nxt = memparse(value, cur)
        if nxt == cur:
            raise CrashkernelError(value, cur, "a size is expected after ':'", "Memory value expected")
        cur = nxt
        if size >= total:
            raise CrashkernelError(value, cur, f"size {size >> 20}M is not below the System RAM "
                                   f"({total >> 20}M rounded up to 128M)", "crashkernel: invalid size")
        ranges.append(CrashkernelRange(start, end, size))
        if total >= start and total < (ULLONG_MAX if end is None else end):
            chosen = size
            break
        if value[cur:cur + 1] != ",":
            break
        cur += 1
    offset = 0
    if chosen > 0:
        while cur < len(value) and value[cur] not in " @":
            cur += 1
        if value[cur:cur + 1] == "@":
            offset, nxt = memparse(value, cur + 1)
            if nxt == cur + 1:
                raise CrashkernelError(value, cur + 1, "an offset is expected after '@'",
                                       "Memory value expected after '@'")
    return Crashkernel("ranges", chosen, offset, tuple(ranges), text=value)


def _last_crashkernel(cmdline: str, suffix: Optional[str]) -> Optional[str]:
    """get_last_crashkernel(): the value of the last crashkernel= (with or without a suffix)."""
    found, p = None, cmdline.find("crashkernel=")
    while p >= 0:
        end = cmdline.find(" ", p)
        word = cmdline[p:end if end >= 0 else len(cmdline)]
        has_suffix = word.endswith(",high") or word.endswith(",low")
        if (suffix is None and not has_suffix) or (suffix is not None and word.endswith(suffix)):
            found = word[len("crashkernel="):]
        p = cmdline.find("crashkernel=", p + 1)
    return found


def parse_crashkernel(cmdline: str, system_ram: int) -> Optional[Crashkernel]:
    """The crashkernel= setting of a whole command line (None if there is none).

    As reserve_crashkernel: the plain form first; if it is absent or gives 0, ``,high``; a
    ``,low`` is attached to the result.  Malformed text raises CrashkernelError.
    """
    plain = _last_crashkernel(cmdline, None)
    ck = parse_crashkernel_value(plain, system_ram) if plain is not None else None
    if ck is None or ck.size == 0:
        high = _last_crashkernel(cmdline, ",high")
        if high is not None:
            ck = parse_crashkernel_value(high, system_ram, ",high")
    low = _last_crashkernel(cmdline, ",low")
    if ck is not None and low is not None:
        ck = Crashkernel(ck.form, ck.size, ck.offset, ck.ranges,
                         parse_crashkernel_value(low, system_ram, ",low").size, ck.text)
    return ck


# ------------------------------------------------------------------ reservation
@dataclass
class Reservation:
    """What reserve_crashkernel decided, and the lines it printed."""

    base: int = 0
    size: int = 0
    low_base: int = 0
    low_size: int = 0
    messages: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.size > 0

    @property
    def end(self) -> int:
        return self.base + self.size


def _free(ram: Sequence[Tuple[int, int]], reserved: Sequence[Tuple[int, int]]) -> List[Tuple[int, int]]:
    free = sorted(ram)
    for ra, rb in sorted(reserved):
        nxt = []
        for a, b in free:
            if rb <= a or ra >= b:
                nxt.append((a, b))
                continue
            if a < ra:
                nxt.append((a, ra))
            if rb < b:
                nxt.append((rb, b))
        free = nxt
    return free


def memblock_alloc_range(free: Sequence[Tuple[int, int]], size: int, align: int, start: int, end: int) -> int:
    """memblock_phys_alloc_range, top-down: the highest aligned block in [start, end); 0 = none."""
    if size <= 0:
        return 0
    for a, b in sorted(free, reverse=True):
        lo, hi = max(a, start, align), min(b, end)
        if hi - lo < size:
            continue
        cand = (hi - size) // align * align
        if cand >= lo:
            return cand
    return 0


def reserve_crashkernel(cmdline: str, ram: Sequence[Tuple[int, int]],
                        reserved: Sequence[Tuple[int, int]] = ()) -> Reservation:
    """Reserve crash kernel memory as Linux 6.1 x86-64 does at boot; never raises for bad input."""
    res = Reservation()
    total = sum(b - a for a, b in ram)
    try:
        ck = parse_crashkernel(cmdline, total)
    except CrashkernelError as e:
        res.messages.append(e.kernel_message)
        return res
    if ck is None:
        return res
    if ck.form == "ranges" and ck.size == 0:
        res.messages.append("crashkernel size resulted in zero bytes")
        return res
    if ck.size == 0:
        return res
    free = _free(ram, reserved)
    base = ck.offset
    if base == 0:
        if not ck.high:
            base = memblock_alloc_range(free, ck.size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_LOW_MAX)
        if base == 0:
            base = memblock_alloc_range(free, ck.size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_HIGH_MAX)
        if base == 0:
            res.messages.append("crashkernel reservation failed - No suitable area found.")
            return res
    elif memblock_alloc_range(free, ck.size, SZ_1M, base, base + ck.size) != base:
        res.messages.append("crashkernel reservation failed - memory is in use.")
        return res
    if base >= CRASH_ADDR_LOW_MAX:
        low_size = DEFAULT_LOW if ck.low is None else ck.low
        if low_size:
            free_low = _free(free, [(base, base + ck.size)])
            low_base = memblock_alloc_range(free_low, low_size, CRASH_ALIGN, CRASH_ALIGN, CRASH_ADDR_LOW_MAX)
            if low_base == 0:
                res.messages.append(f"Cannot reserve {low_size >> 20}MB crashkernel low memory, "
                                    "please try smaller size.")
                return res
            res.low_base, res.low_size = low_base, low_size
            res.messages.append(f"Reserving {low_size >> 20}MB of low memory at {low_base >> 20}MB for "
                                f"crashkernel (low RAM limit: {min(total, CRASH_ADDR_LOW_MAX) >> 20}MB)")
    res.base, res.size = base, ck.size
    res.messages.append(f"Reserving {ck.size >> 20}MB of memory at {base >> 20}MB for crashkernel "
                        f"(System RAM: {total >> 20}MB)")
    return res
