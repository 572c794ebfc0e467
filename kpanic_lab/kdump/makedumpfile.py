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

import errno
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from kpanic_lab.dumplevel import DL_EXCLUDE_ZERO, MAX_DUMP_LEVEL
from kpanic_lab.errors import LabError
from kpanic_lab.formats.codecs import CODECS, Codec, CompressedBatch, compress_batch, get_codec
from kpanic_lab.formats.diskdump import DiskDumpHeader, KdumpSubHeader, KdumpWriter, Utsname
from kpanic_lab.formats.dump import Dump
from kpanic_lab.formats.elfcore import ElfLoad, build_vmcore_notes, mark_elf_incomplete, write_elf_core
from kpanic_lab.formats.flattened import FlattenedWriter, rebuild
from kpanic_lab.formats.sink import StreamSink
from kpanic_lab.guest.headers import PAGE_SIZE, START_KERNEL_MAP
from kpanic_lab.kdump.pageclass import (KIND_REPORT, KINDS, Exclusion, PageClassError, PageLayout, classify_pages,
                                        zero_pages)
from kpanic_lab.kdump.pagestream import DEFAULT_CYCLIC_BUFFER, CycleWalk, PageReader, PageStreamError

if TYPE_CHECKING:
    from concurrent.futures import Future

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
_BATCH = 512                # pages per compression job (2 MiB raw)
_POOL_MIN = 4 * _BATCH      # default threads only past this many pages to copy: below, starting them costs more
DEFAULT_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
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
    cycles: int = 0                     # cycles of the cyclic walk (makedumpfile's cyclic mode)
    threads: int = 0                    # compression threads (0: the main thread only)

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
        for key in KINDS:
            lines.append(f"    {KIND_REPORT[key]:<23} : 0x{c[key]:016x}")
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


def _progress_messages(result: "Result", on_message: Optional["MessageFn"],
                       progress: Optional[ProgressFn]) -> ProgressFn:
    """``progress`` plus print_progress's lines on stderr (ML_PRINT_PROGRESS): each step's first
    and last update, each after a carriage return as makedumpfile writes them (its once-a-second
    updates in between depend on the host's speed: left out, so the output is deterministic).
    Copying data shows its eta, which on the lab's dumps is 0s."""
    seen: Dict[str, int] = {}

    def prog(step: str, done: int, total: int) -> None:
        if progress is not None:
            progress(step, done, total)
        n = seen.get(step, 0)
        seen[step] = n + 1
        if n == 0 or done >= total:
            line = format_progress(step, done, total, 0.0 if step == PROGRESS_COPY else None, sum(seen.values()) - 1)
            end = "\n" if step == PROGRESS_COPY and done >= total else ""
            _say(result, on_message, Message(ML_PRINT_PROGRESS, f"\r{line}{end}", "stderr"))

    return prog


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


def makedumpfile(dump: Dump, out: BinaryIO, dump_level: int = 0, compression: Optional[str] = None,
                 fmt: str = "kdump", flatten: bool = False, progress: Optional[ProgressFn] = None,
                 output_name: str = "DUMPFILE", timestamp: Optional[Tuple[int, int]] = None,
                 on_message: Optional[MessageFn] = None, *, num_threads: Optional[int] = None,
                 cyclic_buffer: int = DEFAULT_CYCLIC_BUFFER, record_exclusion: bool = False) -> Result:
    """Filter ``dump`` at ``dump_level`` and write it to ``out`` (kdump-compressed or "elf").

    Memory stays bounded whatever the dump's size: pages are classified cycle by cycle (each
    cycle's state fits ``cyclic_buffer`` bytes, as makedumpfile's ``--cyclic-buffer``), then
    read, compressed and written batch by batch; the kdump-compressed format's bitmaps and page
    descriptors, which come before the data in the file, are back-filled at offsets reserved
    after a first counting pass.  ``out`` must be seekable unless ``flatten``.
    ``num_threads`` compresses batches in that many threads (None: the host's cores, up to 4,
    when there are more than 2048 pages to copy; 0 or 1: the main thread, as makedumpfile without
    ``--num-threads``); the output is the same byte for byte.  ``record_exclusion`` keeps every
    pfn's kind in ``Result.exclusion`` (one byte per page frame: for views and tests, not for big
    dumps).

    ``progress(step, done, total)`` is called as each step goes; ``on_message(message)`` as each
    message is made (they are in ``Result.messages`` too, in the order makedumpfile prints them).
    When the dump runs out of disk (ENOSPC), its header is marked before the OSError goes up, as
    makedumpfile does: DUMP_DH_COMPRESSED_INCOMPLETE in a kdump-compressed one, DUMP_ELF_INCOMPLETE
    in an ELF one's e_flags (the OSError then has ``incomplete_dump`` set).
    """
    t0 = time.monotonic()
    if not 0 <= dump_level <= MAX_DUMP_LEVEL:
        raise MakedumpfileError(f"dump level {dump_level} is out of range (0 .. {MAX_DUMP_LEVEL})")
    if fmt not in ("kdump", "elf"):
        raise MakedumpfileError(f"unknown output format {fmt!r} (kdump or elf)")
    if fmt == "elf" and compression:
        raise MakedumpfileError("-E cannot be used with -c, -l, -p or -z: an ELF dump is not compressed")
    threads = DEFAULT_THREADS if num_threads is None else int(num_threads)
    if threads < 0:
        raise MakedumpfileError(f"--num-threads {threads}: it is 0 or more")
    if cyclic_buffer <= 0:
        raise MakedumpfileError(f"--cyclic-buffer {cyclic_buffer}: it is a size in bytes, more than 0")
    if not flatten and not _seekable(out):
        raise MakedumpfileError(f"{output_name} cannot seek (a pipe?): the dump file is written at offsets; "
                                "to a pipe, write the flattened format (-F) and rebuild it with -R")
    codec = get_codec(compression) if compression else None
    if codec is not None:
        codec.compress(bytes(PAGE_SIZE))            # CodecUnavailable now, not after the scan
    # re-filtering a dump that was filtered already: what it left out cannot come back, so the
    # level grows to take the old one in, and makedumpfile says so first (without a newline)
    created = dump.dump_level or 0              # None for an ELF input: nothing left out yet
    classify_level = dump_level & ~created      # struct page is read only for what the input kept
    said = check_release(dump.vmcoreinfo.osrelease)
    if dump_level | created != dump_level:
        said.insert(0, Message(ML_PRINT_COMMON_MSG, f"dump_level is changed to {dump_level | created}, because "
                                                    f"{dump.name} was created by dump_level({created})."))
        dump_level |= created
    res = Result(output_name, fmt, flatten, dump_level, compression)
    res.threads = threads if threads > 1 and fmt == "kdump" and codec is not None else 0
    _say(res, on_message, *said)
    prog = _progress_messages(res, on_message, progress)
    prog(PROGRESS_HOLES, 0, 1)
    try:
        walk = CycleWalk(dump, dump_level, cyclic_buffer, classify_level=classify_level)
    except PageStreamError as e:
        raise MakedumpfileError(str(e)) from None
    res.max_mapnr = walk.max_mapnr
    res.cycles = walk.ncycles
    prog(PROGRESS_HOLES, 1, 1)
    ndump, kept = _count(walk, res, prog, record_exclusion, cyclic_buffer)
    if num_threads is None and ndump <= _POOL_MIN:
        res.threads = 0
    sink = FlattenedWriter(out) if flatten else StreamSink(out)
    if fmt == "kdump":
        _write_kdump(dump, walk, kept, sink, res, ndump, codec, prog, timestamp, res.threads)
    else:
        _write_elf(dump, walk, kept, sink, res, prog)
    sink.close()
    res.write_bytes = sink.written
    res.seconds = time.monotonic() - t0
    _done(res, f"The dumpfile is saved to {output_name}.", on_message)
    return res


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


KeptBits = Optional[List[Tuple[int, int, np.ndarray]]]


def _count(walk: CycleWalk, res: Result, prog: ProgressFn, record: bool,
           cyclic_buffer: int) -> Tuple[int, KeptBits]:
    """The first pass: pages per excluded kind, memory holes, and the 2nd bitmap's size.

    When the whole 2nd bitmap (one bit per pfn) fits in ``cyclic_buffer``, it is kept, packed, for
    the writing pass, as makedumpfile keeps it when it fits its buffer; otherwise the writing pass
    classifies each cycle again.  Returns the pages to dump and the kept bits (lo, hi, packed) or None.
    """
    ndump, ram_pages, kinds = 0, 0, []
    kept: KeptBits = [] if walk.max_mapnr // 8 <= cyclic_buffer else None
    totals = [0] * len(KINDS)
    prog(PROGRESS_UNN_PAGES, 0, walk.ncycles)
    try:
        for i, c in enumerate(walk):
            keep = c.keep
            ndump += int(np.count_nonzero(keep))
            ram_pages += int(np.count_nonzero(c.ram))
            totals = [a + b for a, b in zip(totals, c.counts())]
            if kept is not None:
                kept.append((c.lo, c.hi, np.packbits(keep, bitorder="little")))
            if record:
                kinds.append(c.kind)
            prog(PROGRESS_UNN_PAGES, i + 1, walk.ncycles)
    except PageStreamError as e:
        raise MakedumpfileError(str(e)) from None
    res.memory_hole = walk.max_mapnr - ram_pages
    res.counts.update(zip(KINDS, totals))
    if record:
        res.exclusion = Exclusion(np.concatenate(kinds) if kinds else np.zeros(0, np.uint8), dict(zip(KINDS, totals)))
    return ndump, kept


def _keeps(walk: CycleWalk, kept: KeptBits) -> Iterator[Tuple[int, np.ndarray]]:
    """Each cycle's (lo, 2nd bitmap before zero pages): from the first pass's bits, or walked again."""
    if kept is None:
        for c in walk:
            yield c.lo, c.keep
        return
    for lo, hi, packed in kept:
        yield lo, np.unpackbits(packed, count=hi - lo, bitorder="little").view(bool)


def _write_kdump(dump: Dump, walk: CycleWalk, kept: KeptBits, sink: Union[StreamSink, FlattenedWriter], res: Result, ndump: int,
                 codec: Optional[Codec], prog: ProgressFn, timestamp: Optional[Tuple[int, int]],
                 threads: int) -> None:
    """The second pass: each cycle's bitmaps, then its kept pages compressed batch by batch."""
    vi = dump.vmcoreinfo
    uts = utsname_of(dump, walk.reader)
    header = DiskDumpHeader(uts, timestamp=timestamp or (vi.crashtime or int(time.time()), 0),
                            status=codec.flag if codec else 0, nr_cpus=max(1, dump.nr_cpus))
    sub = KdumpSubHeader(phys_base=dump.phys_base, dump_level=res.dump_level)
    notes, vmi_at = _notes_of(dump)
    zero_level = bool(res.dump_level & DL_EXCLUDE_ZERO)
    writer = KdumpWriter(sink, header, sub, notes, vmi_at, walk.max_mapnr, ndump, zero_level)
    reader = walk.reader
    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor     # here: -E and one thread need neither (~5 ms)

        pool = ThreadPoolExecutor(threads, thread_name_prefix="makedumpfile")
    # each pending batch: its compressed pages (or the future of them) and the read buffer it holds
    pending: Deque[Tuple[Union["Future[CompressedBatch]", CompressedBatch], Optional[np.ndarray]]] = deque()
    # read buffers: a fixed few, each free again once its batch is compressed (no fresh 2 MiB per batch)
    free = [np.empty((_BATCH, PAGE_SIZE), dtype=np.uint8) for _ in range(threads + 2 if pool is not None else 1)]
    done = [0]

    def put(limit: int) -> None:
        """Write the oldest batches, in order: while more than ``limit`` wait (waiting for each),
        then every one at the head that is already compressed."""
        while pending and (len(pending) > limit or isinstance(pending[0][0], CompressedBatch) or pending[0][0].done()):
            item, buf = pending.popleft()
            b = item if isinstance(item, CompressedBatch) else item.result()
            if buf is not None:
                free.append(buf)
            writer.pages(b.sizes, b.flags, b.shared, b.blob)
            res.counts["zero"] += int(np.count_nonzero(b.shared))
            done[0] += len(b.sizes)
            if done[0] < ndump:
                prog(PROGRESS_COPY, done[0], ndump)

    prog(PROGRESS_COPY, 0, ndump)
    try:
        for lo, hi in walk.bounds():            # as makedumpfile: the whole 1st bitmap first,
            writer.bitmap1(lo, reader.ram(lo, hi))
        for lo, keep in _keeps(walk, kept):     # then each cycle's 2nd bitmap and its pages
            writer.bitmap2(lo, keep)
            pfns = np.nonzero(keep)[0] + lo
            for s in range(0, len(pfns), _BATCH):
                batch = pfns[s:s + _BATCH]
                while not free:
                    put(len(pending) - 1)
                buf = free.pop()
                pages = reader.read(batch, buf[:len(batch)])
                busy = sum(1 for item, _ in pending if not isinstance(item, CompressedBatch) and not item.done())
                if pool is not None and busy < threads:
                    pending.append((pool.submit(compress_batch, codec, pages, zero_level), buf))
                else:                           # every thread is busy (or none): this one compresses
                    pending.append((compress_batch(codec, pages, zero_level), None))
                    free.append(buf)
                put(2 * threads)
        put(0)
        writer.finish()
    except OSError as e:
        _mark_incomplete(e, sink, writer.mark_incomplete)
        raise
    except PageStreamError as e:
        raise MakedumpfileError(str(e)) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    prog(PROGRESS_COPY, ndump, ndump)
    res.pages_written = ndump


def _mark_incomplete(e: OSError, sink: Union[StreamSink, FlattenedWriter], mark: Callable[[], None]) -> None:
    """On ENOSPC, mark the dump's header incomplete (makedumpfile's check_and_modify_headers) and say
    so on ``e``; a flattened stream (-F) cannot be marked, as makedumpfile does not mark it."""
    if e.errno == errno.ENOSPC and isinstance(sink, StreamSink) and sink.seekable:
        try:
            mark()
            e.incomplete_dump = True            # type: ignore[attr-defined]
        except OSError:
            pass


def utsname_of(dump: Dump, reader: Optional[PageReader] = None) -> Utsname:
    """The kernel's ``struct new_utsname``, found as makedumpfile's check_release finds it:
    SYMBOL(system_utsname), else SYMBOL(init_uts_ns) + OFFSET(uts_namespace.name) (or + 4, the
    kref before it).  Without either, only the release from VMCOREINFO is known."""
    vi = dump.vmcoreinfo
    fallback = Utsname(release=vi.osrelease or "")
    try:
        if "SYMBOL(system_utsname)" in vi:
            base = vi.symbol("system_utsname")
        elif "SYMBOL(init_uts_ns)" in vi:
            base = vi.symbol("init_uts_ns") + (vi.offset("uts_namespace", "name")
                                               if "OFFSET(uts_namespace.name)" in vi else 4)
        else:
            return fallback
        raw = (reader or PageReader(dump)).read_virtual(base, 6 * 65).tobytes()
    except LabError:
        return fallback
    return Utsname(*(raw[i * 65:(i + 1) * 65].split(b"\0", 1)[0].decode("latin-1") for i in range(6)))


def _notes_of(dump: Dump) -> Tuple[bytes, Optional[Tuple[int, int]]]:
    """The ELF notes to copy into the dump, and where VMCOREINFO's text sits in them."""
    vmi = dump.source.vmcoreinfo_raw
    if vmi is None:
        return build_vmcore_notes(dump.prstatus, None), None
    notes = build_vmcore_notes(dump.prstatus, vmi.decode("latin-1"))
    desc_at = len(notes) - (-(-len(vmi) // 4) * 4)
    return notes, (desc_at, len(vmi))


class ElfLoadBuilder:
    """-E's PT_LOADs, built as the keep bits arrive cycle by cycle (makedumpfile's rule).

    A System RAM range becomes one PT_LOAD, cut where 256 or more pages in a row are not kept:
    the PT_LOAD before the cut ends its file part (``p_filesz``) at its last kept page and its
    memory part (``p_memsz``) where the next kept page starts a new PT_LOAD.  Shorter runs stay
    in the file: their pages are copied as the input holds them, zeros where it holds none.

    ``aliases``: PT_LOADs of the input that map memory a second time, (start, end, p_vaddr -
    p_paddr): the kernel text kexec-tools adds at __START_KERNEL_map.  makedumpfile writes every
    PT_LOAD of its input, so they come first, as in the input, and are cut the same way; the pages
    they leave out are already counted in the System RAM ranges.
    """

    def __init__(self, ranges: Sequence[Tuple[int, int]], page_offset: int,
                 aliases: Sequence[Tuple[int, int, int]] = ()) -> None:
        self.ranges = [(a, b) for a, b, _ in aliases] + list(ranges)
        self.voff = [v for _, _, v in aliases] + [page_offset] * len(ranges)
        self.nalias = len(aliases)
        self.loads: List[List[ElfLoad]] = [[] for _ in self.ranges]
        self.seg = [a for a, _ in self.ranges]                  # where each range's open PT_LOAD starts
        self.run: List[Optional[int]] = [None] * len(self.ranges)   # pfn where an open not-kept run starts
        self.span = [(a // PAGE_SIZE, -(-b // PAGE_SIZE)) for a, b in self.ranges]

    def feed(self, lo: int, keep: np.ndarray) -> None:
        """The keep bits of pfns lo .. lo+len-1 (fed in ascending pfn order)."""
        hi = lo + len(keep)
        for r, (first, last) in enumerate(self.span):
            s, e = max(lo, first), min(hi, last)
            if s < e:
                self._range_bits(r, s, keep[s - lo:e - lo])

    def _range_bits(self, r: int, p0: int, bits: np.ndarray) -> None:
        open_run = self.run[r]
        if open_run is not None and bits[0]:        # a run left open by the last cycle ends here
            self._close(r, open_run, p0)
        d = np.diff(np.concatenate(([1], bits.astype(np.int8), [1])))
        starts, ends = np.nonzero(d == -1)[0], np.nonzero(d == 1)[0]
        for s, e in zip(starts, ends):
            carried = self.run[r]
            rs = carried if s == 0 and carried is not None else p0 + int(s)
            if e == len(bits):                  # open: it may go on in the next cycle
                self.run[r] = rs
                return
            self._close(r, rs, p0 + int(e))

    def _close(self, r: int, rs: int, re_: int) -> None:
        """A run of not-kept pfns [rs, re_) ended at a kept page: cut there if it is long."""
        self.run[r] = None
        if re_ - rs < PFN_EXCLUDED:
            return
        a, b = self.ranges[r]
        seg = self.seg[r]
        cut = max(a, rs * PAGE_SIZE)
        resume = min(b, re_ * PAGE_SIZE)
        fe = max(seg, min(cut, rs * PAGE_SIZE))
        self.loads[r].append(ElfLoad(seg, self.voff[r] + seg, resume - seg, fe - seg))
        self.seg[r] = resume

    def finish(self) -> Tuple[List[ElfLoad], int]:
        """The PT_LOADs in range order, and the pages really left out of the file."""
        out: List[ElfLoad] = []
        in_ranges = in_file = 0
        for r, (a, b) in enumerate(self.ranges):
            seg, rs = self.seg[r], self.run[r]
            if seg < b:
                fe = b if rs is None else max(seg, min(b, rs * PAGE_SIZE))
                self.loads[r].append(ElfLoad(seg, self.voff[r] + seg, b - seg, fe - seg))
            out += self.loads[r]
            if r >= self.nalias:
                in_ranges += self.span[r][1] - self.span[r][0]
                in_file += sum(-(-(ld.paddr + ld.filesz) // PAGE_SIZE) - ld.paddr // PAGE_SIZE
                               for ld in self.loads[r] if ld.filesz)
        return out, in_ranges - in_file


def elf_loads(ranges: List[Tuple[int, int]], keep: np.ndarray, page_offset: int) -> Tuple[List[ElfLoad], int]:
    """PT_LOADs for -E: a range is cut where 256 or more excluded pages in a row start; shorter
    excluded runs stay in the file.  Returns the loads and the pages really left out."""
    b = ElfLoadBuilder(ranges, page_offset)
    b.feed(0, keep)
    return b.finish()


def _write_elf(dump: Dump, walk: CycleWalk, kept: KeptBits, sink: Union[StreamSink, FlattenedWriter], res: Result,
               prog: ProgressFn) -> None:
    """-E: a pass that finds the PT_LOADs (reading every kept page with -d 1, as makedumpfile
    must before the ELF header can be written), then the header and the pages, batch by batch."""
    reader = walk.reader
    zero_level = bool(res.dump_level & DL_EXCLUDE_ZERO)
    texts = [(s.paddr, s.paddr + s.memsz, s.vaddr - s.paddr) for s in getattr(dump.source, "loads", ())
             if s.vaddr >= START_KERNEL_MAP]
    builder = ElfLoadBuilder(reader.ranges, dump.source.page_offset or dump.page_offset, texts)
    nkept = 0
    buf = np.empty((_CHUNK if zero_level else _BATCH, PAGE_SIZE), dtype=np.uint8)   # every read goes here
    try:
        for lo, keep in _keeps(walk, kept):
            if zero_level:
                pfns = np.nonzero(keep)[0] + lo
                for s in range(0, len(pfns), _CHUNK):
                    batch = pfns[s:s + _CHUNK]
                    z = zero_pages(reader.read(batch, buf[:len(batch)]))
                    keep[batch[z] - lo] = False
                    res.counts["zero"] += int(np.count_nonzero(z))
            nkept += int(np.count_nonzero(keep))
            builder.feed(lo, keep)
    except PageStreamError as e:
        raise MakedumpfileError(str(e)) from None
    loads, res.elf_excluded = builder.finish()
    total = sum(ld.filesz for ld in loads)
    done = [0]

    def data(ld: ElfLoad) -> Iterator[memoryview]:
        """The load's bytes, batch by batch, each a view of ``buf`` (written before the next is read)."""
        pos, end = ld.paddr, ld.paddr + ld.filesz
        while pos < end:
            n = min(end - pos, _BATCH * PAGE_SIZE - pos % PAGE_SIZE)
            first, last = pos // PAGE_SIZE, -(-(pos + n) // PAGE_SIZE)
            block = reader.read(np.arange(first, last), buf[:last - first]).reshape(-1)
            yield memoryview(block[pos - first * PAGE_SIZE: pos - first * PAGE_SIZE + n])  # type: ignore[arg-type]
            pos += n
            done[0] += n
            prog(PROGRESS_COPY, done[0], total)

    notes, _ = _notes_of(dump)
    prog(PROGRESS_COPY, 0, total)
    try:
        write_elf_core(sink, notes, loads, data, packed=True)
    except OSError as e:
        _mark_incomplete(e, sink, lambda: mark_elf_incomplete(sink))
        raise
    prog(PROGRESS_COPY, total, total)
    res.pages_written = nkept


_NO_LAYOUT = PageLayout(1, 0, 0, 0, 0, 0, 0, 0, 0)


# ------------------------------------------------------------------ the other two modes
def dump_dmesg(dump: Dump, out_text: BinaryIO, output_name: str = "LOGFILE",
               on_message: Optional[MessageFn] = None) -> Result:
    """--dump-dmesg: the kernel log of ``dump`` as makedumpfile writes it.  At a corrupted record it
    fails as makedumpfile does, after writing the lines before it."""
    from kpanic_lab.kdump.dmesg import format_dmesg, read_dmesg       # here: the other modes need neither

    res = Result(output_name, "dmesg")
    _say(res, on_message, *check_release(dump.vmcoreinfo.osrelease))
    try:
        records = read_dmesg(dump)
    except LabError as e:
        raise MakedumpfileError(f"--dump-dmesg: {e}") from None
    data = format_dmesg(records).encode("latin-1", "replace")
    out_text.write(data)
    res.write_bytes = len(data)
    if records.error:
        raise MakedumpfileError(f"--dump-dmesg: {records.error} ({len(records)} records written before it)")
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
