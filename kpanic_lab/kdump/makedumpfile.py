"""makedumpfile: filter and compress the old kernel's memory into a dump file.

    makedumpfile [-c|-l|-p|-z] [-d N] [-E] [-F] [--message-level N] VMCORE DUMPFILE
    makedumpfile -R DUMPFILE < FLATTENED
    makedumpfile --dump-dmesg VMCORE LOGFILE

The steps and their progress lines are makedumpfile's: "Checking for memory holes" (the 1st
bitmap: which page frames are RAM), "Excluding unnecessary pages" (the 2nd bitmap: -d drops
pages by what their struct page says, see pageclass.py), "Copying data" (each kept page is
compressed on its own, zero pages share one copy with -d 1).  Output: kdump-compressed by
default, ELF with -E, either one flattened with -F.

The library never prints: it returns a ``Result`` whose ``messages`` carry makedumpfile's
wording with their message-level bit, and calls ``progress(step, done, total)``; ``render``
picks what ``--message-level`` lets through, the CLI prints it.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from kpanic_lab.errors import LabError
from kpanic_lab.formats.codecs import CODECS, Codec, get_codec
from kpanic_lab.formats.diskdump import DiskDumpHeader, KdumpSubHeader, Utsname, write_kdump
from kpanic_lab.formats.dump import Dump
from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, write_elf_core
from kpanic_lab.formats.flattened import FlattenedWriter, rebuild
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.formats.source import PAGE_SIZE
from kpanic_lab.kdump.dmesg import format_dmesg, read_dmesg
from kpanic_lab.kdump.pageclass import (DL_EXCLUDE_ZERO, KINDS, MAX_DUMP_LEVEL, Exclusion, PageClassError,
                                        PageLayout, classify_pages, zero_pages)

ML_PRINT_PROGRESS, ML_PRINT_COMMON_MSG, ML_PRINT_ERROR_MSG, ML_PRINT_DEBUG_MSG, ML_PRINT_REPORT_MSG = 1, 2, 4, 8, 16
DEFAULT_MSG_LEVEL = 7
MAX_MSG_LEVEL = 31
PROGRESS_MAXLEN = 50
PROGRESS_HOLES = "Checking for memory holes"
PROGRESS_UNN_PAGES = "Excluding unnecessary pages"
PROGRESS_COPY = "Copying data"
PFN_EXCLUDED = 256          # -E drops a run of excluded pages only when it is this long
LATEST_KERNEL = (6, 0)      # makedumpfile 1.7.2 knows kernels up to 6.0 (the reference capture warns on 6.1)
_CHUNK = 4096               # pages per batch
_SPINNER = "/|\\-"

ProgressFn = Callable[[str, int, int], None]


class MakedumpfileError(LabError):
    """A makedumpfile invocation that cannot work (bad option mix, missing VMCOREINFO ...)."""


@dataclass
class Message:
    level: int              # ML_PRINT_* bit that lets it through
    text: str
    stream: str = "stdout"  # makedumpfile: common/report/debug to stdout, progress/errors to stderr


@dataclass
class Result:
    output: str
    fmt: str = "kdump"                  # "kdump", "elf", "dmesg", "rebuild"
    flattened: bool = False
    dump_level: int = 0
    compression: Optional[str] = None
    counts: Dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    max_mapnr: int = 0
    memory_hole: int = 0
    elf_excluded: Optional[int] = None
    pages_written: int = 0
    write_bytes: int = 0
    messages: List[Message] = field(default_factory=list)
    seconds: float = 0.0
    exclusion: Optional[Exclusion] = None

    @property
    def original_pages(self) -> int:
        return self.max_mapnr - self.memory_hole

    @property
    def excluded_pages(self) -> int:
        return sum(self.counts.values())

    def report(self) -> str:
        """The report makedumpfile prints with --message-level 16 (print_report)."""
        if self.fmt not in ("kdump", "elf"):
            return ""
        c, orig, excl = self.counts, self.original_pages, self.excluded_pages
        lines = ["", f"Original pages  : 0x{orig:016x}", f"  Excluded pages   : 0x{excl:016x}"]
        if self.elf_excluded is not None:
            lines.append(f"     in ELF format : 0x{self.elf_excluded:016x}")
        for key, words in (("zero", "Pages filled with zero "), ("cache", "Non-private cache pages"),
                           ("cache_private", "Private cache pages    "), ("user", "User process data pages"),
                           ("free", "Free pages             "), ("hwpoison", "Hwpoison pages         "),
                           ("offline", "Offline pages          ")):
            lines.append(f"    {words} : 0x{c[key]:016x}")
        lines.append(f"  Remaining pages  : 0x{orig - excl:016x}")
        if self.elf_excluded is not None:
            lines.append(f"     in ELF format : 0x{orig - self.elf_excluded:016x}")
            excl = self.elf_excluded
        if orig:
            lines.append(f"  (The number of pages is reduced to {(orig - excl) * 100 // orig}%.)")
        lines += [f"Memory Hole     : 0x{self.memory_hole:016x}", "-" * 50,
                  f"Total pages     : 0x{self.max_mapnr:016x}", f"Write bytes     : {self.write_bytes}", ""]
        return "\n".join(lines) + "\n"

    def render(self, message_level: int = DEFAULT_MSG_LEVEL) -> Tuple[str, str]:
        """(stdout, stderr) text as makedumpfile would print it at ``message_level``."""
        out: List[str] = []
        err: List[str] = []
        for m in self.messages:
            if m.level & message_level:
                (out if m.stream == "stdout" else err).append(m.text)
        return "".join(out), "".join(err)


def format_progress(step: str, current: int, total: int, elapsed: Optional[float], lapse: int) -> str:
    """One progress line, as print_progress: ``Copying data        : [ 14.7 %] \\  eta: 0s``."""
    promille = 1000 if total <= 0 or current >= total else current * 1000 // total
    eta = " "
    if elapsed is not None and promille:
        secs = int(elapsed * 1000 / promille - elapsed)
        eta = "eta: " + (f"{secs}s" if secs < 100 else f"{secs // 60}m{secs % 60}s" if secs < 6000
                         else f"{secs // 3600}h{secs // 60 % 60}m")
    spin = _SPINNER[lapse % 4]
    return f"{step:<{PROGRESS_MAXLEN}}: [{promille // 10:3d}.{promille % 10} %] {spin}  {eta:>16}"


def check_release(release: Optional[str]) -> List[Message]:
    """makedumpfile's warning for a kernel newer than it knows."""
    m = re.match(r"(\d+)\.(\d+)", release or "")
    if m and (int(m.group(1)), int(m.group(2))) > LATEST_KERNEL:
        return [Message(ML_PRINT_COMMON_MSG, "The kernel version is not supported.\n"),
                Message(ML_PRINT_COMMON_MSG, "The makedumpfile operation may be incomplete.\n")]
    return []


MessageFn = Callable[[Message], None]


def _say(result: Result, on_message: Optional[MessageFn], *messages: Message) -> None:
    for m in messages:
        result.messages.append(m)
        if on_message is not None:
            on_message(m)


def _done(result: Result, what: str, on_message: Optional[MessageFn] = None) -> None:
    if result.fmt in ("kdump", "elf"):
        _say(result, on_message, Message(ML_PRINT_REPORT_MSG, result.report()))
    _say(result, on_message, Message(ML_PRINT_COMMON_MSG, f"\n{what}\n\nmakedumpfile Completed.\n"))


# ------------------------------------------------------------------ the steps
def exclude_pages(dump: Dump, dump_level: int, ram: np.ndarray) -> Exclusion:
    """The struct-page part of -d (2, 4, 8, 16) over ``dump``'s mem_map."""
    if not dump_level & ~DL_EXCLUDE_ZERO & MAX_DUMP_LEVEL:
        return classify_pages(np.zeros(0, np.uint8), _NO_LAYOUT, 0, ram)
    if not dump.vmcoreinfo:
        raise MakedumpfileError(f"-d {dump_level} needs the kernel's VMCOREINFO to read struct page, "
                                f"and {dump.name} has none (only -d 0 or -d 1 work without it)")
    try:
        layout = PageLayout.from_vmcoreinfo(dump.vmcoreinfo)
        mem_map = dump.read_u64(dump.vmcoreinfo.symbol("mem_map"))
    except (PageClassError, LabError) as e:
        raise MakedumpfileError(f"-d {dump_level}: {e}") from None
    n = len(ram)
    raw = np.frombuffer(dump.read(mem_map, n * layout.size), dtype=np.uint8)
    return classify_pages(raw, layout, dump_level, ram)


def _compress_batch(codec: Optional[Codec], pages: np.ndarray) -> Tuple[List[bytes], np.ndarray, np.ndarray]:
    """(stored bytes, size, flags) of each page: compressed when that makes it smaller."""
    raw = [p.tobytes() for p in pages]
    if codec is None:
        return raw, np.full(len(raw), PAGE_SIZE, np.uint32), np.zeros(len(raw), np.uint32)
    comp = codec.compress_many(raw)
    blobs, sizes, flags = [], np.empty(len(raw), np.uint32), np.empty(len(raw), np.uint32)
    for i, (r, c) in enumerate(zip(raw, comp)):
        if len(c) < PAGE_SIZE:
            blobs.append(c)
            sizes[i], flags[i] = len(c), codec.flag
        else:
            blobs.append(r)
            sizes[i], flags[i] = PAGE_SIZE, 0
    return blobs, sizes, flags


def makedumpfile(dump: Dump, out: BinaryIO, dump_level: int = 0, compression: Optional[str] = None,
                 fmt: str = "kdump", flatten: bool = False, progress: Optional[ProgressFn] = None,
                 output_name: str = "DUMPFILE", timestamp: Optional[Tuple[int, int]] = None,
                 on_message: Optional[MessageFn] = None) -> Result:
    """Filter ``dump`` at ``dump_level`` and write it to ``out`` (kdump-compressed or "elf").

    ``progress(step, done, total)`` is called as each step goes; ``on_message(message)`` as each
    message is made (they are in ``Result.messages`` too, in the order makedumpfile prints them).
    """
    t0 = time.monotonic()
    if not 0 <= dump_level <= MAX_DUMP_LEVEL:
        raise MakedumpfileError(f"dump level {dump_level} is out of range (0 .. {MAX_DUMP_LEVEL})")
    if fmt not in ("kdump", "elf"):
        raise MakedumpfileError(f"unknown output format {fmt!r} (kdump or elf)")
    if fmt == "elf" and compression:
        raise MakedumpfileError("-E cannot be used with -c, -l, -p or -z: an ELF dump is not compressed")
    codec = get_codec(compression) if compression else None
    if codec is not None:
        codec.compress(bytes(PAGE_SIZE))            # CodecUnavailable now, not after the scan
    res = Result(output_name, fmt, flatten, dump_level, compression)
    _say(res, on_message, *check_release(dump.vmcoreinfo.osrelease))
    prog = progress or (lambda step, done, total: None)
    src = dump.source
    prog(PROGRESS_HOLES, 0, 1)
    ram = src.ram_bitmap()
    res.max_mapnr = len(ram)
    res.memory_hole = int(len(ram) - np.count_nonzero(ram))
    prog(PROGRESS_HOLES, 1, 1)
    prog(PROGRESS_UNN_PAGES, 0, 1)
    exc = exclude_pages(dump, dump_level, ram)
    res.exclusion = exc
    res.counts.update(exc.counts)
    keep = src.saved_bitmap() & ~exc.excluded
    prog(PROGRESS_UNN_PAGES, 1, 1)
    sink = FlattenedWriter(out) if flatten else StreamSink(out)
    if fmt == "kdump":
        _write_kdump(dump, sink, res, ram, keep, codec, prog, timestamp)
    else:
        _write_elf(dump, sink, res, keep, prog)
    sink.close()
    res.write_bytes = sink.written
    res.seconds = time.monotonic() - t0
    _done(res, f"The dumpfile is saved to {output_name}.", on_message)
    return res


def _write_kdump(dump: Dump, sink, res: Result, ram: np.ndarray, keep: np.ndarray,  # type: ignore[no-untyped-def]
                 codec: Optional[Codec], prog: ProgressFn, timestamp: Optional[Tuple[int, int]]) -> None:
    src = dump.source
    pfns = np.nonzero(keep)[0]
    n = len(pfns)
    sizes, flags = np.empty(n, np.uint32), np.empty(n, np.uint32)
    shared = np.zeros(n, dtype=bool)
    blobs: List[bytes] = []
    zero_level = bool(res.dump_level & DL_EXCLUDE_ZERO)
    for start in range(0, n, _CHUNK):
        prog(PROGRESS_COPY, start, n)
        batch = pfns[start:start + _CHUNK]
        pages = src.read_pages(batch)
        if zero_level:
            z = zero_pages(pages)
            shared[start:start + len(batch)] = z
            res.counts["zero"] += int(np.count_nonzero(z))
            pages = pages[~z]
        b, s, f = _compress_batch(codec, pages)
        own = ~shared[start:start + len(batch)]
        sizes[start:start + len(batch)][own], flags[start:start + len(batch)][own] = s, f
        sizes[start:start + len(batch)][~own], flags[start:start + len(batch)][~own] = PAGE_SIZE, 0
        blobs += b
    prog(PROGRESS_COPY, n, n)
    vi = dump.vmcoreinfo
    uts = Utsname(release=vi.osrelease or "", version=_uts_version(dump))
    header = DiskDumpHeader(uts, timestamp=timestamp or (vi.crashtime or int(time.time()), 0),
                            status=codec.flag if codec else 0, nr_cpus=max(1, dump.nr_cpus))
    sub = KdumpSubHeader(phys_base=dump.phys_base, dump_level=res.dump_level)
    notes, vmi_at = _notes_of(dump)
    write_kdump(sink, header, sub, notes, vmi_at, ram, keep, sizes, flags, shared, blobs, zero_level)
    res.pages_written = n


def _uts_version(dump: Dump) -> str:
    vi = dump.vmcoreinfo
    try:
        base = vi.symbol("init_uts_ns") + (vi.offset("uts_namespace", "name") if "OFFSET(uts_namespace.name)" in vi else 4)
        return dump.read(base + 3 * 65, 65).split(b"\0", 1)[0].decode("latin-1")
    except LabError:
        return ""


def _notes_of(dump: Dump) -> Tuple[bytes, Optional[Tuple[int, int]]]:
    """The ELF notes to copy into the dump, and where VMCOREINFO's text sits in them."""
    vmi = dump.source.vmcoreinfo_raw
    if vmi is None:
        return build_vmcore_notes(dump.prstatus, None), None
    notes = build_vmcore_notes(dump.prstatus, vmi.decode("latin-1"))
    desc_at = len(notes) - (-(-len(vmi) // 4) * 4)
    return notes, (desc_at, len(vmi))


def elf_loads(ranges: List[Tuple[int, int]], keep: np.ndarray, page_offset: int) -> Tuple[List[ElfLoad], int]:
    """PT_LOADs for -E: a range is cut where 256 or more excluded pages in a row start; shorter
    excluded runs stay in the file.  Returns the loads and the pages really left out."""
    loads, in_file, in_ranges = [], 0, 0
    for a, b in ranges:
        first, last = a // PAGE_SIZE, -(-b // PAGE_SIZE)
        in_ranges += last - first
        k = keep[first:last].astype(np.int8)
        edges = np.diff(np.concatenate(([1], k, [1])))
        gaps = [(int(s), int(e)) for s, e in zip(np.nonzero(edges == -1)[0], np.nonzero(edges == 1)[0])
                if e - s >= PFN_EXCLUDED]
        seg_start = a
        for s, e in gaps:
            cut, resume = max(a, (first + s) * PAGE_SIZE), min(b, (first + e) * PAGE_SIZE)
            kept = _last_kept_end(keep, seg_start, cut)
            loads.append(ElfLoad(seg_start, page_offset + seg_start, resume - seg_start, kept - seg_start))
            seg_start = resume
        if seg_start < b:
            kept = _last_kept_end(keep, seg_start, b)
            loads.append(ElfLoad(seg_start, page_offset + seg_start, b - seg_start, kept - seg_start))
    for ld in loads:
        if ld.filesz:
            in_file += -(-(ld.paddr + ld.filesz) // PAGE_SIZE) - ld.paddr // PAGE_SIZE
    return loads, in_ranges - in_file


def _last_kept_end(keep: np.ndarray, start: int, end: int) -> int:
    lo, hi = start // PAGE_SIZE, -(-end // PAGE_SIZE)
    idx = np.nonzero(keep[lo:hi])[0]
    return start if len(idx) == 0 else min(end, max(start, (lo + int(idx[-1]) + 1) * PAGE_SIZE))


def _write_elf(dump: Dump, sink, res: Result, keep: np.ndarray, prog: ProgressFn) -> None:  # type: ignore[no-untyped-def]
    src = dump.source
    if res.dump_level & DL_EXCLUDE_ZERO:
        cand = np.nonzero(keep)[0]
        for start in range(0, len(cand), _CHUNK):
            batch = cand[start:start + _CHUNK]
            z = zero_pages(src.read_pages(batch))
            keep[batch[z]] = False
            res.counts["zero"] += int(np.count_nonzero(z))
    ranges = [r for r in src.ranges]
    loads, res.elf_excluded = elf_loads(ranges, keep, src.page_offset or dump.page_offset)
    total = sum(ld.filesz for ld in loads)
    done = [0]

    def data(ld: ElfLoad) -> Iterator[bytes]:
        pos, end = ld.paddr, ld.paddr + ld.filesz
        while pos < end:
            n = min(end - pos, _CHUNK * PAGE_SIZE - pos % PAGE_SIZE)
            first, last = pos // PAGE_SIZE, -(-(pos + n) // PAGE_SIZE)
            block = src.read_pages(np.arange(first, last)).reshape(-1)
            yield block[pos - first * PAGE_SIZE: pos - first * PAGE_SIZE + n].tobytes()
            pos += n
            done[0] += n
            prog(PROGRESS_COPY, done[0], total)

    notes, _ = _notes_of(dump)
    prog(PROGRESS_COPY, 0, total)
    write_elf_core(sink, notes, loads, data)
    prog(PROGRESS_COPY, total, total)
    res.pages_written = int(np.count_nonzero(keep))


_NO_LAYOUT = PageLayout(1, 0, 0, 0, 0, 0, 0, 0, 0)


# ------------------------------------------------------------------ the other two modes
def dump_dmesg(dump: Dump, out_text: BinaryIO, output_name: str = "LOGFILE",
               on_message: Optional[MessageFn] = None) -> Result:
    """--dump-dmesg: the kernel log of ``dump`` as makedumpfile writes it."""
    res = Result(output_name, "dmesg")
    _say(res, on_message, *check_release(dump.vmcoreinfo.osrelease))
    try:
        text = format_dmesg(read_dmesg(dump))
    except LabError as e:
        raise MakedumpfileError(f"--dump-dmesg: {e}") from None
    data = text.encode("latin-1", "replace")
    out_text.write(data)
    res.write_bytes = len(data)
    _done(res, f"The dmesg log is saved to {output_name}.", on_message)
    return res


def rebuild_flattened(flat: BinaryIO, out: BinaryIO, output_name: str = "DUMPFILE",
                      on_message: Optional[MessageFn] = None) -> Result:
    """-R: turn a flattened stream back into the dump file it describes."""
    res = Result(output_name, "rebuild")
    res.write_bytes = rebuild(flat, out, "standard input")
    _done(res, f"The dumpfile is saved to {output_name}.", on_message)
    return res


def available_compressions() -> Dict[str, bool]:
    """Each compression and whether its binding is installed here (makedumpfile -h shows this)."""
    return {name: c.available for name, c in CODECS.items()}
