"""Memory maps (matplotlib): the first kernel and the capture kernel side by side.

From what the library and the guest report, never from numbers typed here:

- the first kernel: its ``/proc/iomem`` (e820 RAM and reserved ranges, Kernel code / rodata /
  data / bss, the ``Crash kernel`` reservation) and the ``crash_notes`` kexec found;
- the capture kernel: the e820 map it printed at boot ("BIOS-e820: ..."), and the old
  kernel's memory it does not own but reads through /proc/vmcore;
- the segments ``kexec -p`` loaded (``KdumpRun.kexec_plan``): purgatory, the kernel,
  its page tables, the boot parameters and the ELF core header, in a zoom of the reservation.

The dump-level control that colours pages by kind is ``pagekinds.PageKindView`` (also
importable from here).

>>> run = KdumpRun("sysrq-c").load()                   # doctest: +SKIP
>>> view = MemoryMapView(run); view                    # first kernel + the loaded segments  # doctest: +SKIP
>>> view.update(run.run())                             # + the capture kernel's own map      # doctest: +SKIP
"""
from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

import ipywidgets as w
import traitlets as t
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Patch, Rectangle

from kpanic_lab.i18n import N_, _
from kpanic_lab.kdump.kexec import KexecPlan, parse_iomem
from kpanic_lab.viz._common import ViewError, error_html, error_widget, esc, guarded
from kpanic_lab.viz.cjk import use_cjk_fonts
from kpanic_lab.viz.pagekinds import PageKindView  # noqa: F401  (re-exported: the dump-level control)

MiB = 1 << 20
STYLE = {   # kind: (face colour, hatch, words for the legend)
    "ram": ("#c8e6c9", "", N_("System RAM (e820 usable)")),
    "reserved": ("#e0e0e0", "", N_("reserved")),
    "Kernel code": ("#1565c0", "", N_("kernel text")),
    "Kernel rodata": ("#42a5f5", "", N_("kernel rodata")),
    "Kernel data": ("#64b5f6", "", N_("kernel data")),
    "Kernel bss": ("#bbdefb", "", N_("kernel bss")),
    "crash": ("#ffcc80", "//", N_("crashkernel= reservation")),
    "notes": ("#d81b60", "", N_("crash_notes (NT_PRSTATUS per CPU)")),
    "oldmem": ("#fff3e0", "xx", N_("old kernel's memory: read via /proc/vmcore")),
    "unknown": ("#ffffff", "..", N_("not booted yet")),
    "purgatory": ("#8e24aa", "", N_("purgatory")),
    "kernel": ("#1e88e5", "", N_("capture kernel image")),
    "pgt": ("#00897b", "", N_("boot page tables, GDT")),
    "bootparams": ("#6d4c41", "", N_("boot parameters (cmdline, e820)")),
    "elfcorehdr": ("#e53935", "", N_("ELF core header (elfcorehdr=)")),
}
BAR = 0.3                        # the columns' bars are [0, BAR] wide; labels to their right
LABEL_GAP = 0.05                 # labels at least this far apart (of the column's height): they never overlap
_LAYER = {"ram": 1, "reserved": 1, "unknown": 1, "oldmem": 1, "crash": 2}    # everything else: 3, drawn inside
_E820_LINE = re.compile(r"BIOS-e820: \[mem 0x([0-9a-fA-F]+)-0x([0-9a-fA-F]+)\] (\w+)")


@dataclass(frozen=True)
class Region:
    start: int
    end: int            # exclusive
    kind: str           # a STYLE key
    label: str


@dataclass
class MemoryLayout:
    """What the two columns and the zoom show (pure data, built by ``memory_layout``)."""

    size: int
    first: List[Region]
    capture: List[Region]
    segments: List[Region] = field(default_factory=list)
    crash: Optional[Tuple[int, int]] = None       # [start, end)
    capture_booted: bool = False
    capture_cmdline: str = ""


def parse_e820_lines(console: str) -> List[Tuple[int, int, str]]:
    """The "BIOS-e820: [mem A-B] type" lines a kernel prints at boot: (start, end exclusive, type).

    >>> parse_e820_lines("BIOS-e820: [mem 0x0000000000001000-0x000000000009fbff] usable")
    [(4096, 654336, 'usable')]
    """
    return [(int(a, 16), int(b, 16) + 1, kind) for a, b, kind in _E820_LINE.findall(console)]


def _segment_kind(what: str) -> str:
    for word, kind in (("purgatory", "purgatory"), ("ELF core", "elfcorehdr"), ("boot param", "bootparams"),
                       ("page tables", "pgt"), ("kernel", "kernel")):
        if word in what:
            return kind
    return "kernel"


def memory_layout(iomem: str, plan: Optional[KexecPlan] = None, capture_console: Optional[str] = None) -> MemoryLayout:
    """Both kernels' maps from /proc/iomem, the kexec plan and the capture kernel's boot log (pure)."""
    ranges = parse_iomem(iomem)
    if not ranges:
        raise ViewError("/proc/iomem is empty")
    size = max(r.end + 1 for r in ranges)
    first: List[Region] = []
    crash = None
    for r in ranges:
        if r.depth == 0:
            kind = "ram" if r.name == "System RAM" else "reserved"
            first.append(Region(r.start, r.end + 1, kind, r.name))
        elif r.name == "Crash kernel":
            crash = (r.start, r.end + 1)
            first.append(Region(r.start, r.end + 1, "crash", f"Crash kernel ({r.size // MiB} MiB)"))
        elif r.name in STYLE:
            first.append(Region(r.start, r.end + 1, r.name, r.name))
    segments: List[Region] = []
    if plan is not None:
        for addr, n in plan.notes:
            first.append(Region(addr, addr + n, "notes", "crash_notes"))
        for s in plan.segments:
            segments.append(Region(s.mem, s.mem + s.memsz, _segment_kind(s.what), s.what))
        crash = crash or (plan.crash[0], plan.crash[1] + 1)
    capture: List[Region] = []
    e820 = parse_e820_lines(capture_console or "")
    if e820:
        for a, b, kind in e820:
            words = "RAM of the capture kernel" if kind == "usable" else kind
            capture.append(Region(a, b, "ram" if kind == "usable" else "reserved", words))
        owned = [(a, b) for a, b, _ in e820]
        for reg in (x for x in first if x.kind == "ram"):
            for a, b in _subtract((reg.start, reg.end), owned):
                capture.append(Region(a, b, "oldmem", N_("old memory (/proc/vmcore)")))
    elif crash is not None:
        capture.append(Region(crash[0], crash[1], "crash", N_("reserved for it")))
        for a, b in _subtract((0, size), [crash]):
            capture.append(Region(a, b, "unknown", N_("(the capture kernel has not booted)")))
    capture.sort(key=lambda r: r.start)
    line = next((ln.split("Command line:", 1)[1].strip() for ln in (capture_console or "").splitlines()
                 if "Command line:" in ln), plan.cmdline if plan else "")
    return MemoryLayout(size, first, capture, segments, crash, bool(e820), line)


def _subtract(span: Tuple[int, int], holes: Sequence[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out = [span]
    for ha, hb in holes:
        nxt = []
        for a, b in out:
            if hb <= a or ha >= b:
                nxt.append((a, b))
                continue
            if a < ha:
                nxt.append((a, ha))
            if hb < b:
                nxt.append((hb, b))
        out = nxt
    return out


# ---------------------------------------------------------------------------- drawing
def _spread(ys: List[float], gap: float, lo: float, hi: float) -> List[float]:
    """Label positions near ``ys`` (sorted), at least ``gap`` apart, inside [lo, hi]."""
    out: List[float] = []
    for y in ys:
        out.append(max(y, out[-1] + gap) if out else max(y, lo))
    over = (out[-1] - hi) if out else 0
    if over > 0:
        out = [y - over for y in out]
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    return out


MIN_FRACTION = 0.035           # on a broken axis, the least height a range gets (of the column)
MAX_FRACTION = 0.22            # and the most: a longer stretch is shortened and marked with a break


def broken_scale(bounds: Sequence[int], lo: int, hi: int) -> Tuple[Callable[[float], float], List[Tuple[int, int]]]:
    """A broken axis over [lo, hi]: (address -> height in 0..1, the stretches shortened).

    Each stretch between two consecutive ``bounds`` gets a height in proportion to its size, but
    at least MIN_FRACTION (a 4 KiB note stays visible next to 256 MiB of RAM) and at most
    MAX_FRACTION (a long run of plain RAM does not squeeze everything else); the stretches cut
    short are returned, to be drawn with a break mark.  Inside a stretch the scale is linear.

    >>> f, cut = broken_scale([0, 4096, 1 << 28], 0, 1 << 28)
    >>> round(f(0), 3), round(f(1 << 28), 3), f(4096) > 0.03, cut
    (0.0, 1.0, True, [(4096, 268435456)])
    """
    pts = sorted({lo, hi, *[b for b in bounds if lo < b < hi]})
    total = float(hi - lo)
    weights = [min(max((b - a) / total, MIN_FRACTION), MAX_FRACTION) for a, b in zip(pts, pts[1:])]
    norm = sum(weights)
    tops = [0.0]
    for wgt in weights:
        tops.append(tops[-1] + wgt / norm)
    cut = [(a, b) for a, b in zip(pts, pts[1:]) if (b - a) / total > MAX_FRACTION]

    def f(addr: float) -> float:
        if addr <= pts[0]:
            return 0.0
        if addr >= pts[-1]:
            return 1.0
        k = bisect.bisect_right(pts, addr) - 1
        a, b = pts[k], pts[k + 1]
        return tops[k] + (tops[k + 1] - tops[k]) * (addr - a) / (b - a)
    return f, cut


def _column(ax: Any, regions: Sequence[Region], lo: int, hi: int, title: str, unit: int = MiB,
            unit_name: str = "MiB", base: int = 0, broken: bool = False) -> Callable[[float], float]:
    """Draw one column; returns its address -> y mapping (for lines drawn across columns).

    ``broken``: a broken axis (``broken_scale``), ticks in hex at the ranges' edges; otherwise to
    scale in ``unit`` from ``base``."""
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if broken:
        edges = [x for r in regions for x in (r.start, r.end)]
        f, cut = broken_scale(edges, lo, hi)
        ax.set_ylim(0, 1)
        ticks: List[float] = []
        labels: List[str] = []
        for x in sorted({lo, hi, *[e for e in edges if lo < e < hi]}):
            if not ticks or f(x) - ticks[-1] >= 0.03:
                ticks.append(f(x))
                labels.append(f"{x:#x}")
        ax.set_yticks(ticks, labels, fontsize=6)
        ax.set_ylabel(_("physical address (broken axis: ≈ marks a stretch shortened)"), fontsize=8)
        for a, b in cut:        # the break mark, on the axis, in the middle of the stretch cut short
            ax.text(0, f((a + b) / 2), "≈", ha="center", va="center", fontsize=12, color="#455a64",
                    clip_on=False, zorder=5, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0})
    else:
        def f(addr: float) -> float:
            return (addr - base) / unit
        ax.set_ylim(f(lo), f(hi))
        unit_text = unit_name + (_(" from {base}").format(base=hex(base)) if base else "")
        ax.set_ylabel(_("physical address ({unit})").format(unit=unit_text), fontsize=8)
    y_lo, y_hi = f(lo), f(hi)
    span = y_hi - y_lo
    labelled = []
    for r in regions:
        a, b = max(r.start, lo), min(r.end, hi)
        if b <= a:
            continue
        face, hatch, _words = STYLE[r.kind]
        layer = _LAYER.get(r.kind, 3)
        x0, x1 = (0.05, 0.25) if layer == 3 else (0.0, BAR)
        ax.add_patch(Rectangle((x0, f(a)), x1 - x0, max(f(b) - f(a), span * 0.004), facecolor=face,
                               hatch=hatch, edgecolor="#546e7a", linewidth=0.5, zorder=layer))
        labelled.append(((f(a) + f(b)) / 2, r, a, b))
    labelled.sort(key=lambda x: x[0])
    ys = _spread([m for m, *_ in labelled], span * LABEL_GAP, y_lo, y_hi)
    for y, (mid, r, a, b) in zip(ys, labelled):
        size = b - a
        size_text = f"{size / MiB:.1f} MiB" if size >= MiB else f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} B"
        ax.annotate(f"{_(r.label)}  {a:#x}  ({size_text})", xy=(BAR, mid), xytext=(BAR + 0.05, y),
                    fontsize=7, va="center", arrowprops={"arrowstyle": "-", "color": "#90a4ae", "lw": 0.5})
    return f


def draw_memory_maps(layout: MemoryLayout) -> Figure:
    """The figure: first kernel | capture kernel | the reservation's first bytes, zoomed."""
    use_cjk_fonts()                     # Chinese labels drawn with Noto Sans CJK SC, not boxes
    fig = Figure(figsize=(15, 6.5), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1])
    ax1, ax2, ax3 = (fig.add_subplot(grid[0, i]) for i in range(3))
    _column(ax1, layout.first, 0, layout.size, _("first kernel (crashed): /proc/iomem"), broken=True)
    cap_title = _("capture kernel: its e820 map") if layout.capture_booted else _("capture kernel (not booted yet)")
    f2 = _column(ax2, layout.capture, 0, layout.size, cap_title, broken=True)
    if layout.segments and layout.crash:
        lo = layout.crash[0]
        hi = max(s.end for s in layout.segments)
        hi = min(layout.crash[1], hi + max((hi - lo) // 20, 4096))
        _column(ax3, layout.segments, lo, hi, _("kexec -p segments in the reservation"), unit=1024,
                unit_name="KiB", base=lo)
        for y in (lo, hi):
            fig.add_artist(ConnectionPatch(xyA=(BAR, f2(y)), coordsA=ax2.transData, xyB=(0, (y - lo) / 1024),
                                           coordsB=ax3.transData, color="#ef6c00", lw=0.8, ls="--"))
    else:
        ax3.axis("off")
        ax3.text(0.5, 0.5, _("no capture kernel loaded\n(kexec -p has not run)"), ha="center", va="center",
                 fontsize=10, color="#757575", transform=ax3.transAxes)
    kinds = {r.kind for r in layout.first + layout.capture + layout.segments}
    handles = [Patch(facecolor=STYLE[k][0], hatch=STYLE[k][1], edgecolor="#546e7a", label=_(STYLE[k][2]))
               for k in STYLE if k in kinds]
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=7, frameon=False)
    return fig


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ---------------------------------------------------------------------------- the widget
class MemoryMapView(w.VBox):
    """Both kernels' memory maps, from a KdumpRun (loaded), a KdumpResult, or a Machine."""

    has_plan = t.Bool(False, help="a capture kernel was loaded (kexec -p)")
    capture_booted = t.Bool(False, help="the capture kernel's own e820 map is shown")
    segment_names = t.List(t.Unicode())
    error = t.Unicode("")

    def __init__(self, source: Any = None, *, iomem: Optional[str] = None, **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.table = w.HTML("")
        self.layout_data: Optional[MemoryLayout] = None
        self.figure: Optional[Figure] = None
        self._iomem = iomem
        self._plan: Optional[KexecPlan] = None
        self._capture = ""
        super().__init__([self._error_box, self.image, self.table], **kwargs)
        self.add_class("kpanic-memory-map")
        self.update(source)

    @guarded
    def update(self, source: Any = None) -> None:
        """Read what ``source`` knows (a KdumpRun, a KdumpResult, a Machine) and redraw."""
        from kpanic_lab.kdump.run import KdumpResult, KdumpRun
        from kpanic_lab.machine import Machine

        machine: Optional[Machine]
        if isinstance(source, KdumpResult):
            self._capture = source.capture_console or self._capture
            self._plan = source.kexec_plan or self._plan
            machine = source.machine
        elif isinstance(source, KdumpRun):
            self._plan = source.kexec_plan or self._plan
            machine = source.session.machine
            if not source.session.started:
                raise ViewError("this KdumpRun has not booted: call run.load() first (it boots with "
                                "crashkernel= and runs kexec -p)")
        elif isinstance(source, Machine) or source is None:
            machine = source
        else:
            raise ViewError(f"a memory map is drawn from a KdumpRun, a KdumpResult or a Machine, "
                            f"not {type(source).__name__}")
        if machine is not None and self._iomem is None:
            self._iomem = _read_iomem(machine)
        if self._iomem is None:
            raise ViewError("no /proc/iomem to draw: pass a booted machine, or iomem=<text>")
        self.layout_data = memory_layout(self._iomem, self._plan, self._capture)
        self.has_plan = self._plan is not None
        self.capture_booted = self.layout_data.capture_booted
        self.segment_names = [s.label for s in self.layout_data.segments]
        self.figure = draw_memory_maps(self.layout_data)
        self.image.value = figure_png(self.figure)
        self.table.value = _segment_table(self.layout_data)
        if self.layout_data.crash is None:
            self.table.value = error_html("no crashkernel= reservation: /proc/iomem has no 'Crash kernel' "
                                          "range (boot with crashkernel=64M)") + self.table.value


def crashed(console: str) -> bool:
    """True when the console's last panic came after its last shell prompt (pure).

    >>> crashed("boot\\n# echo c\\nKernel panic - not syncing: x\\n"), crashed("Kernel panic - not syncing\\nboot\\n# ")
    (True, False)
    """
    return console.rfind("Kernel panic - not syncing") > max(console.rfind("\n# "), console.rfind("# ", 0, 2))


def _read_iomem(machine: Any) -> str:
    from kpanic_lab.machine import Machine

    if not isinstance(machine, Machine) or not machine.console_text:
        raise ViewError("the machine has not booted: boot it (or load a KdumpRun) first")
    if crashed(machine.console_text):
        raise ViewError("the machine has crashed, so its shell cannot 'cat /proc/iomem': draw the map before "
                        "the trigger, or pass iomem=<text>")
    text = machine.run_command("cat /proc/iomem")
    if "System RAM" not in text:
        raise ViewError(f"'cat /proc/iomem' did not answer with a memory map: {text.strip()[:120]!r}")
    return text


def _segment_table(layout: MemoryLayout) -> str:
    if not layout.segments:
        return ""
    rows = "".join(f"<tr><td><code>{s.start:#x}</code></td><td align=right>{(s.end - s.start) // 1024} KiB</td>"
                   f"<td>{esc(s.label)}</td></tr>" for s in sorted(layout.segments, key=lambda s: s.start))
    return ("<b>kexec -p segments</b> (what purgatory checks with SHA-256 before it starts the capture kernel)"
            "<table><tr><th align=left>physical</th><th>size</th><th align=left>segment</th></tr>" + rows +
            f"</table><b>capture kernel command line:</b> <code>{esc(layout.capture_cmdline)}</code>")
