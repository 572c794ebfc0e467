"""Pages by kind, and what a makedumpfile dump level keeps: a dump-level control over a real dump.

Every decision is the library's: ``makedumpfile.exclude_pages`` reads the dump's ``struct page``
array (free, cache, private cache, user), ``pageclass.zero_pages`` finds the zero pages, and the
vmcore's size is what ``makedumpfile.makedumpfile`` really writes at that level and compression
(to a counter, not to disk).  The view only colours the page frames, one pixel each, 1 MiB a row.

A level change must feel live (the slider, the check boxes, keyboard arrows), so the view
classifies the pages once and then a level is arithmetic (``LevelModel``): which pages go is a
mask over the kinds, and the vmcore's size is a fixed prefix (headers, bitmaps, calibrated on one
real makedumpfile run per compression) + 24 bytes of descriptor per kept page + each kept page's
stored size (compressed once, page by page, as makedumpfile stores it).  The page maps are drawn
as small PNGs straight from numpy (no matplotlib per change).  Changes from the controls are
debounced: a burst of key presses is one update, for the last level asked for.

>>> view = PageKindView("vmcore")          # an unfiltered dump: ELF, -d 0   # doctest: +SKIP
>>> view.set_level(31); view.vmcore_bytes  # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import io
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import ipywidgets as w
import numpy as np
import traitlets as t
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from kpanic_lab.dumplevel import DUMP_LEVEL_BITS, dump_level_words
from kpanic_lab.errors import LabError
from kpanic_lab.formats import open_dump
from kpanic_lab.i18n import N_, _
from kpanic_lab.formats.dump import Dump
from kpanic_lab.formats.codecs import CODECS, get_codec
from kpanic_lab.guest.headers import PAGE_SIZE
from kpanic_lab.kdump.makedumpfile import available_compressions, exclude_pages, makedumpfile
from kpanic_lab.kdump.pageclass import KINDS, PageLayout, classify_pages, zero_pages
from kpanic_lab.viz._common import ViewError, error_html, error_widget, esc, guarded
from kpanic_lab.viz.cjk import use_cjk_fonts
from kpanic_lab.viz.progress import ProgressView

ROW = 256                         # pages per image row: 1 MiB
# What a page is, as the view colours it (index = the value in the image).
PAGE_KINDS = ("kernel", "zero", "cache", "cache_private", "user", "free", "other", "not saved", "hole")
COLOURS = ("#1565c0", "#fff176", "#66bb6a", "#2e7d32", "#ab47bc", "#cfd8dc", "#ff7043", "#ef9a9a", "#ffffff")
WORDS = {"kernel": N_("kernel (always kept)"), "zero": N_("zero-filled"), "cache": N_("page cache"),
         "cache_private": N_("page cache with private data"), "user": N_("user process data"),
         "free": N_("free (buddy)"), "other": N_("hwpoison / offline"),
         "not saved": N_("excluded when this dump was saved"),
         "hole": N_("not in the dump (no RAM, or crashkernel=)")}
KEPT = "#37474f"
DESC_BYTES = 24                   # one kdump page descriptor (offset, size, flags, page_flags)
DEBOUNCE_SECONDS = 0.04           # a burst of control changes closer than this is one update (key repeat: ~33 ms)


def _option(codec: Optional[str]) -> str:
    """makedumpfile's option for a compression ("-z" for zstd), "" for none."""
    return CODECS[codec].option if codec else ""


class _Counter(io.RawIOBase):
    """A write-only, seekable stream that keeps no bytes: ``n`` is the size of the file written."""

    def __init__(self) -> None:
        self.n = 0
        self._pos = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = offset if whence == io.SEEK_SET else (self._pos + offset if whence == io.SEEK_CUR
                                                           else self.n + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def write(self, b: Any) -> int:
        k = memoryview(b).nbytes
        self._pos += k
        self.n = max(self.n, self._pos)
        return k


@dataclass
class Classified:
    """Per page frame: its kind (index into PAGE_KINDS), and the dump's bitmaps."""

    kind: np.ndarray
    ram: np.ndarray
    saved: np.ndarray
    zero: np.ndarray


def classify(dump: Dump) -> Classified:
    """What each page frame of ``dump`` is, from the library's classification (struct-page kinds
    at -d 30, then zero pages among the rest)."""
    src = dump.source
    ram, saved = src.ram_bitmap(), src.saved_bitmap()
    kind = np.full(len(ram), PAGE_KINDS.index("hole"), dtype=np.uint8)
    struct = np.full(len(ram), 255, dtype=np.uint8)
    if dump.vmcoreinfo:
        struct = exclude_pages(dump, 30, ram).kind
    zero = np.zeros(len(ram), dtype=bool)
    pfns = np.nonzero(ram & saved)[0]
    for i in range(0, len(pfns), 4096):
        batch = pfns[i:i + 4096]
        zero[batch] = zero_pages(src.read_pages(batch))
    kind[ram] = PAGE_KINDS.index("kernel")
    kind[ram & zero] = PAGE_KINDS.index("zero")
    kind[ram & ~saved] = PAGE_KINDS.index("not saved")
    for k in ("cache", "cache_private", "user", "free"):
        kind[struct == KINDS.index(k)] = PAGE_KINDS.index(k)
    kind[(struct == KINDS.index("hwpoison")) | (struct == KINDS.index("offline"))] = PAGE_KINDS.index("other")
    return Classified(kind, ram, saved, zero)


def level_exclusion(dump: Dump, c: Classified, level: int) -> Tuple[np.ndarray, Dict[str, int]]:
    """(why each page is excluded at ``level`` as an index into KINDS, 255 = kept; counts).

    The struct-page part is ``exclude_pages``; zero pages are those -d 1 finds among the pages
    still kept, as makedumpfile finds them while copying.
    """
    exc = exclude_pages(dump, level, c.ram)
    why = exc.kind.copy()
    counts = dict(exc.counts)
    if level & 1:
        z = c.zero & (why == 255) & c.saved
        why[z] = KINDS.index("zero")
        counts["zero"] = int(np.count_nonzero(z))
    return why, counts


@dataclass
class LevelModel:
    """Every dump level of one dump as arithmetic over its pages, classified once.

    ``why(level)`` is ``level_exclusion``'s answer: the library's own ``classify_pages`` over the
    dump's ``struct page`` array, read once, plus the zero pages found once; ``size(level, codec)``
    is the kdump-compressed vmcore's size: a prefix measured on one real makedumpfile run, plus a
    descriptor and the stored bytes of each page kept (a zero page at -d 1 shares one copy).
    tests/viz check both against makedumpfile itself.
    """

    dump: Dump
    c: Classified
    mem_map: np.ndarray                                              # the raw struct page array
    layout: Any                                                      # its PageLayout (None: no VMCOREINFO)
    stored: Dict[str, np.ndarray] = field(default_factory=dict)     # codec -> bytes stored per pfn
    prefix: Dict[str, int] = field(default_factory=dict)            # codec -> fixed bytes
    _why: Dict[int, Tuple[np.ndarray, Dict[str, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, dump: Dump, c: Classified) -> "LevelModel":
        layout, raw = None, np.zeros(0, np.uint8)
        try:
            if dump.vmcoreinfo:
                layout = PageLayout.from_vmcoreinfo(dump.vmcoreinfo)
                mem_map = dump.read_u64(dump.vmcoreinfo.symbol("mem_map"))
                raw = np.frombuffer(dump.read(mem_map, len(c.ram) * layout.size), dtype=np.uint8)
        except LabError:            # why() then asks exclude_pages, which says what is wrong
            layout, raw = None, np.zeros(0, np.uint8)
        return cls(dump, c, raw, layout)

    def why(self, level: int) -> Tuple[np.ndarray, Dict[str, int]]:
        """(why each pfn is excluded, a KINDS index or 255 for kept; counts by kind) at ``level``."""
        if level not in self._why:
            if level & 30 and self.layout is None:
                exclude_pages(self.dump, level, self.c.ram)          # raises makedumpfile's own error
            exc = (classify_pages(self.mem_map, self.layout, level, self.c.ram) if level & 30
                   else exclude_pages(self.dump, level, self.c.ram))
            why, counts = exc.kind.copy(), dict(exc.counts)
            if level & 1:
                z = self.c.zero & (why == 255) & self.c.saved
                why[z] = KINDS.index("zero")
                counts["zero"] = int(np.count_nonzero(z))
            self._why[level] = (why, counts)
        why, counts = self._why[level]
        return why, dict(counts)

    def _stored(self, codec: str) -> np.ndarray:
        """Bytes makedumpfile stores for each saved page with ``codec`` (computed once per codec)."""
        if codec not in self.stored:
            size = np.zeros(len(self.c.ram), dtype=np.int64)
            pfns = np.nonzero(self.c.ram & self.c.saved)[0]
            impl = get_codec(codec) if codec else None
            for i in range(0, len(pfns), 4096):
                batch = pfns[i:i + 4096]
                if impl is None:
                    size[batch] = PAGE_SIZE
                    continue
                pages = self.dump.source.read_pages(batch)
                comp = impl.compress_many([p.tobytes() for p in pages])
                size[batch] = np.minimum([len(x) for x in comp], PAGE_SIZE)
            self.stored[codec] = size
        return self.stored[codec]

    def variable_bytes(self, level: int, codec: str) -> int:
        """The part of the vmcore's size that depends on the level (descriptors and page data)."""
        why, _counts = self.why(level)
        shared = (why == KINDS.index("zero"))                 # -d 1: kept, one shared copy
        keep = self.c.ram & self.c.saved & ((why == 255) | shared)
        own = keep & ~shared
        n = int(np.count_nonzero(keep))
        return DESC_BYTES * n + (PAGE_SIZE if level & 1 else 0) + int(self._stored(codec)[own].sum())

    def calibrate(self, level: int, codec: str, real_size: int) -> None:
        """Learn the fixed part from one real makedumpfile run at ``level``."""
        self.prefix[codec] = real_size - self.variable_bytes(level, codec)

    def size(self, level: int, codec: str) -> Optional[int]:
        """The vmcore's size at ``level`` with ``codec``; None until ``calibrate`` has run for it."""
        if codec not in self.prefix:
            return None
        return self.prefix[codec] + self.variable_bytes(level, codec)


def page_png(values: np.ndarray, palette: List[str], fill: int) -> bytes:
    """A page map as a PNG, one pixel a page, 1 MiB a row, low addresses at the bottom (pure numpy
    and zlib: drawn in a few milliseconds, scaled up by the browser without smoothing)."""
    grid = _grid(values, fill)[::-1]
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in palette], dtype=np.uint8)[grid]
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)
    h, w_ = grid.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big"))
    ihdr = w_.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def kept_map(c: Classified, why: np.ndarray) -> np.ndarray:
    """What -d keeps, as palette indices: KEPT (len(COLOURS)) where written, the kind where dropped."""
    shown = np.full(len(c.kind), len(COLOURS), dtype=np.uint8)
    shown[~c.ram] = PAGE_KINDS.index("hole")
    shown[c.ram & ~c.saved] = PAGE_KINDS.index("not saved")
    for k in ("zero", "cache", "cache_private", "user", "free"):
        shown[why == KINDS.index(k)] = PAGE_KINDS.index(k)
    shown[(why == KINDS.index("hwpoison")) | (why == KINDS.index("offline"))] = PAGE_KINDS.index("other")
    return shown


def _grid(values: np.ndarray, fill: int) -> np.ndarray:
    rows = -(-len(values) // ROW)
    out = np.full(rows * ROW, fill, dtype=values.dtype)
    out[:len(values)] = values
    return out.reshape(rows, ROW)


def draw_pages(c: Classified, why: np.ndarray, level: int, counts: Dict[str, int]) -> Figure:
    """Two page maps: what each page is | what -d ``level`` keeps (dark) and drops (by kind)."""
    use_cjk_fonts()                     # Chinese labels drawn with Noto Sans CJK SC, not boxes
    fig = Figure(figsize=(11, 5.2))
    fig.subplots_adjust(left=0.07, right=0.99, top=0.94, bottom=0.2, wspace=0.06)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    cmap = ListedColormap(list(COLOURS))
    extent = (0, ROW, 0, -(-len(c.kind) // ROW))
    ax1.imshow(_grid(c.kind, PAGE_KINDS.index("hole")), cmap=cmap, vmin=0, vmax=len(COLOURS) - 1,
               origin="lower", aspect="auto", interpolation="nearest", extent=extent)
    ax1.set_title(_("what each page frame is"), fontsize=10)
    ax1.set_ylabel(_("physical address (MiB)"))
    shown = np.full(len(c.kind), len(COLOURS), dtype=np.uint8)          # kept
    shown[~c.ram] = PAGE_KINDS.index("hole")
    shown[c.ram & ~c.saved] = PAGE_KINDS.index("not saved")
    for k in ("zero", "cache", "cache_private", "user", "free"):
        shown[why == KINDS.index(k)] = PAGE_KINDS.index(k)
    shown[(why == KINDS.index("hwpoison")) | (why == KINDS.index("offline"))] = PAGE_KINDS.index("other")
    ax2.imshow(_grid(shown, PAGE_KINDS.index("hole")), cmap=ListedColormap(list(COLOURS) + [KEPT]), vmin=0,
               vmax=len(COLOURS), origin="lower", aspect="auto", interpolation="nearest", extent=extent)
    ax2.set_title(_("makedumpfile -d {level}: dark = written, colour = excluded").format(level=level), fontsize=10)
    for ax in (ax1, ax2):
        ax.set_xlabel(_("page within the MiB"))
    present = set(np.unique(c.kind).tolist())
    handles = [Patch(facecolor=COLOURS[i], edgecolor="#90a4ae", label=_(WORDS[k])) for i, k in enumerate(PAGE_KINDS)
               if i in present]
    handles.append(Patch(facecolor=KEPT, label=_("written to the vmcore")))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


class PageKindView(w.VBox):
    """A dump-level control over a real dump: pages by kind, what is excluded, the vmcore's size."""

    dump_level = t.Int(31)
    compression = t.Unicode("", help="'' for none, else lzo / zlib / snappy / zstd")
    counts = t.Dict(help="pages excluded at this level, by kind (makedumpfile's report)")
    excluded_pages = t.Int(0)
    kept_pages = t.Int(0)
    vmcore_bytes = t.Int(0, help="the size makedumpfile writes at this level and compression")
    updates = t.Int(0, help="how many times the view was redrawn (a debounced burst counts once)")
    error = t.Unicode("")

    def __init__(self, dump: Any, *, level: int = 31, compression: Optional[str] = "lzo", **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.dump: Optional[Dump] = None
        self.classified: Optional[Classified] = None
        self.model: Optional[LevelModel] = None
        self._syncing = False
        self._pending: Optional[asyncio.TimerHandle] = None
        self._wanted = level
        self.last_update_seconds = 0.0
        self.progress = ProgressView("makedumpfile")
        pixelated = w.Layout(width="100%", max_width="30em", height="auto")
        self.kinds_image = w.Image(format="png", layout=pixelated)
        self.image = w.Image(format="png", layout=w.Layout(width="100%", max_width="30em", height="auto"))
        for im in (self.kinds_image, self.image):
            im.add_class("kpanic-pixelated")
        self.summary = w.HTML("")
        self.summary.add_class("kpanic-level-summary")
        self.legend = w.HTML("")
        self.slider = w.IntSlider(value=level, min=0, max=31, description="-d", continuous_update=False)
        self.boxes = [w.Checkbox(value=bool(level & bit), description=f"{bit}: {_(words)}",
                                 indent=False, layout=w.Layout(width="auto")) for bit, words in DUMP_LEVEL_BITS]
        have = [c for c, ok in available_compressions().items() if ok]
        options = [(_("none"), "")] + [(f"{_option(c)} {c}", c) for c in have]
        self.codec = w.Dropdown(options=options, value=compression if compression in have else "",
                                description=_("compression"))
        self.slider.observe(lambda ch: self._from_slider(), "value")
        for b in self.boxes:
            b.observe(lambda ch: self._from_boxes(), "value")
        self.codec.observe(lambda ch: None if self._syncing else self.set_compression(ch["new"]), "value")
        controls = w.VBox([w.HBox([self.slider, self.codec]),
                           w.HBox(self.boxes, layout=w.Layout(flex_flow="row wrap"))])
        titles = w.HBox([w.HTML(f"<b>{_('what each page frame is')}</b>", layout=w.Layout(width="50%")),
                         w.HTML(_("<b>what this level writes</b> (dark) <b>and drops</b> (by kind)"),
                                layout=w.Layout(width="50%"))])
        maps = w.HBox([w.Box([self.kinds_image], layout=w.Layout(width="50%")),
                       w.Box([self.image], layout=w.Layout(width="50%"))])
        css = w.HTML("<style>.kpanic-pixelated img, img.kpanic-pixelated {image-rendering: pixelated;}</style>")
        super().__init__([css, self._error_box, controls, self.progress, self.summary, titles, maps, self.legend],
                         **kwargs)
        self.add_class("kpanic-page-kinds")
        self._open(dump, level, self.codec.value)

    @guarded
    def _open(self, dump: Any, level: int, compression: str) -> None:
        self.dump = _as_dump(dump)
        self.classified = classify(self.dump)
        self.model = LevelModel.of(self.dump, self.classified)
        self.kinds_image.value = page_png(self.classified.kind, list(COLOURS), PAGE_KINDS.index("hole"))
        present = set(np.unique(self.classified.kind).tolist())
        swatches = [(COLOURS[i], _(WORDS[k])) for i, k in enumerate(PAGE_KINDS) if i in present]
        swatches.append((KEPT, _("written to the vmcore")))
        self.legend.value = ("<div style='line-height:1.6'>" + " ".join(
            f"<span style='white-space:nowrap; margin-right:1em'><span style='display:inline-block; width:0.9em; "
            f"height:0.9em; background:{col}; border:1px solid #90a4ae; vertical-align:middle'></span> "
            f"{esc(words)}</span>" for col, words in swatches) + "</div>"
            "<div class='kpanic-aside'>" + _("one pixel per 4 KiB page, 256 pages (1 MiB) a row, low addresses at "
                                              "the bottom") + "</div>")
        self.compression = compression
        self.set_level(level)

    # ------------------------------------------------------------------ controls
    def _from_slider(self) -> None:
        if not self._syncing:
            self._request(self.slider.value)

    def _from_boxes(self) -> None:
        if not self._syncing:
            self._request(sum(bit for (bit, _), b in zip(DUMP_LEVEL_BITS, self.boxes) if b.value))

    def _request(self, level: int) -> None:
        """A control asked for ``level``: debounced in a running event loop (a kernel), at once without.

        Each request replaces the one still waiting, so a burst of arrow keys is one redraw for the
        last level, and no stale level is drawn after a newer one was asked for.
        """
        self._wanted = level
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self.set_level(level)
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(DEBOUNCE_SECONDS, self._apply_wanted)

    def _apply_wanted(self) -> None:
        self._pending = None
        self.set_level(self._wanted)

    @guarded
    def set_compression(self, codec: Optional[str]) -> None:
        """Size the vmcore with this compression ('' or None: none)."""
        codec = codec or ""
        if codec not in [v for _, v in self.codec.options]:
            raise ViewError(f"compression {codec!r} is not available here; choose one of "
                            + ", ".join(v or "none" for _, v in self.codec.options))
        self.compression = codec
        self._syncing = True
        try:
            self.codec.value = codec
        finally:
            self._syncing = False
        self._update()

    @guarded
    def set_level(self, level: int) -> None:
        """Show dump level ``level`` (0..31): the page map, the counts, the vmcore's size."""
        if not 0 <= level <= 31:
            raise ViewError(f"dump level {level} is out of range (0 .. 31)")
        self._wanted = level
        self.dump_level = level
        self._syncing = True
        try:
            self.slider.value = level
            for (bit, _words), b in zip(DUMP_LEVEL_BITS, self.boxes):
                b.value = bool(level & bit)
        finally:
            self._syncing = False
        self._update()

    def _update(self) -> None:
        if self.dump is None or self.classified is None or self.model is None:
            raise ViewError(self.error or "no dump open")
        t0 = time.perf_counter()
        level, c = self.dump_level, self.classified
        why, counts = self.model.why(level)
        self.counts = counts
        self.excluded_pages = int(sum(counts.values()))
        self.kept_pages = int(np.count_nonzero(c.ram & c.saved & (why == 255)))
        self.image.value = page_png(kept_map(c, why), list(COLOURS) + [KEPT], PAGE_KINDS.index("hole"))
        self.vmcore_bytes = self._vmcore_size(level, self.compression)
        self.summary.value = self._summary()
        self.updates += 1
        self.last_update_seconds = time.perf_counter() - t0

    @property
    def figure(self) -> Figure:
        """The two page maps as one matplotlib figure (for a report or a slide; the view shows PNGs)."""
        assert self.classified is not None and self.model is not None
        why, counts = self.model.why(self.dump_level)
        return draw_pages(self.classified, why, self.dump_level, counts)

    def _vmcore_size(self, level: int, codec: str) -> int:
        assert self.dump is not None and self.model is not None
        saved_at = self.dump.dump_level or 0
        if saved_at & ~level:
            self.progress.fail(f"this dump was saved at -d {saved_at}: the pages it dropped are gone, so -d {level} "
                               f"cannot be made from it; choose a level that drops them too, or open an "
                               f"unfiltered dump")
            return 0
        size = self.model.size(level, codec)
        if size is None:            # the first time with this codec: one real run calibrates the rest
            self.progress.bar.bar_style = "info"
            out = _Counter()
            makedumpfile(self.dump, out, level, codec or None, progress=self.progress)  # type: ignore[arg-type]
            self.model.calibrate(level, codec, out.n)
            self.progress.finish(f"makedumpfile -d {level} {_option(codec)}".rstrip()
                                 + ": one real run; other levels are computed from the classified pages")
            return out.n
        self.progress.label.value = esc(f"-d {level} {_option(codec)}".rstrip()
                                        + ": computed from the pages classified once (no makedumpfile run)")
        return size

    def _summary(self) -> str:
        ram = int(np.count_nonzero(self.classified.ram)) if self.classified is not None else 0
        rows = "".join(f"<tr><td>{esc(_(WORDS.get(k, k)))}</td><td align=right>{n}</td>"
                       f"<td align=right>{n * PAGE_SIZE / (1 << 20):.1f} MiB</td></tr>"
                       for k, n in self.counts.items() if n)
        size = (_("<b>{n:,} bytes</b> ({mib:.2f} MiB)").format(n=self.vmcore_bytes, mib=self.vmcore_bytes / (1 << 20))
                if self.vmcore_bytes else f"<i>{_('not computed')}</i>")
        flag = _option(self.compression)
        return (_("<b>-d {level}</b> drops {words}.").format(level=self.dump_level,
                                                              words=esc(dump_level_words(self.dump_level)))
                + "<br>" + _("{ram} pages of RAM: {excluded} excluded, {kept} written.").format(
                    ram=ram, excluded=self.excluded_pages, kept=self.kept_pages)
                + f" vmcore (<code>makedumpfile {flag + ' ' if flag else ''}-d {self.dump_level}</code>): {size}"
                + (f"<table><tr><th align=left>{_('excluded as')}</th><th>{_('pages')}</th><th>{_('size')}</th></tr>"
                   f"{rows}</table>" if rows else ""))

def _as_dump(obj: Any) -> Dump:
    """A Dump from a Dump, a path, a KdumpResult or its CaptureOutcome."""
    if isinstance(obj, Dump):
        return obj
    if isinstance(obj, (str, Path)):
        return open_dump(obj)
    outcome = getattr(obj, "outcome", obj)
    if hasattr(outcome, "vmcore") and hasattr(outcome, "status"):
        if outcome.vmcore is None:
            raise ViewError(f"the capture saved no vmcore (status {outcome.status}: {outcome.error or 'no error given'})")
        return open_dump(outcome.vmcore)
    if obj is not None and getattr(obj, "outcome", "missing") is None:
        raise ViewError("this run never reached a capture kernel, so there is no vmcore: load one with kexec -p "
                        "(KdumpRun(...).load()) before the crash")
    raise ViewError(f"pages are classified from a vmcore (a Dump, a path, a KdumpResult), not {type(obj).__name__}")
