"""The kexec handoff: one diagram across the two kernels, stepped with the panic stepper.

What runs where, which memory is kept, and what crosses from the crashed kernel to the
capture kernel (the registers in ``crash_notes``, VMCOREINFO, the ELF core header that
``elfcorehdr=`` points at).  ``handoff_digraph(stage_key, ...)`` draws it for one stage of a
trace (``CRASH_KEXEC``, ``CPU_STOPPED``, ``KEXEC`` ...) or for one of the steps after the jump,
which no panic trace records (``PURGATORY`` ... ``REBOOT``); addresses come from the kexec plan,
CPUs from the trace, the dump from the capture's outcome, when they are given.

>>> src = handoff_digraph("KEXEC").source
>>> 'class=active' in src and "purgatory" in src
True
>>> view = HandoffView(plan=run.kexec_plan)              # a KdumpRun after load()  # doctest: +SKIP
>>> view.link(stepper)                                   # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import graphviz
import ipywidgets as w
import traitlets as t

from kpanic_lab.i18n import N_, _
from kpanic_lab.viz._common import CURRENT, describe_exception, error_html, error_widget, esc, guarded, pre
from kpanic_lab.viz.cjk import GRAPH_FONT
from kpanic_lab.viz.stagegraph import render_svg

if TYPE_CHECKING:
    from kpanic_lab.kdump.run import KdumpResult, KdumpRun
    from kpanic_lab.viz.stepper import PanicStepper

# The handoff's phases, in order; a panic trace's stage keys map onto the first ones.
PHASES: Tuple[Tuple[str, str], ...] = (
    ("BEFORE", N_("The first kernel runs. kexec -p has loaded the capture kernel into the crashkernel= "
               "reservation and checksummed it; nothing has run there yet.")),
    ("PANIC", N_("panic() runs on one CPU, interrupts off. The capture kernel still waits, untouched.")),
    ("CRASH_KEXEC", N_("__crash_kexec(): a capture kernel is loaded, so kdump takes over now, before the "
                    "notifiers (unless crash_kexec_post_notifiers).")),
    ("CPU_STOPPED", N_("machine_crash_shutdown(): an NMI stops every other CPU; each saves its registers "
                    "as an NT_PRSTATUS note in its crash_notes, then halts. The panicking CPU saves its own.")),
    ("KEXEC", N_("machine_kexec(): the panicking CPU jumps to purgatory in the reservation. The old kernel is "
              "gone, but its memory is left exactly as it was.")),
    ("PURGATORY", N_("Purgatory checks the SHA-256 of every loaded segment (a corrupted capture kernel must not "
                  "run), then starts the capture kernel.")),
    ("CAPTURE_BOOT", N_("The capture kernel boots in the reservation on one CPU (nr_cpus=1): its e820 map holds "
                     "only low memory and the reservation, so it cannot overwrite the old memory.")),
    ("VMCORE", N_("elfcorehdr= points at the ELF core header: /proc/vmcore shows the old memory (PT_LOAD) and "
               "the notes (PT_NOTE: each CPU's registers, VMCOREINFO) as one ELF file.")),
    ("MAKEDUMPFILE", N_("The kdump service runs makedumpfile over /proc/vmcore: VMCOREINFO tells it where "
                     "struct page is, so it drops pages by kind and compresses the rest into the vmcore.")),
    ("REBOOT", N_("final_action: the capture kernel reboots the machine into a normal kernel; the vmcore "
               "waits on the dump target for crash.")),
)
PHASE_KEYS = [k for k, _text in PHASES]
_STAGE_TO_PHASE = {"": "BEFORE", "CRASH_KEXEC": "CRASH_KEXEC", "CPU_STOPPED": "CPU_STOPPED",
                   "CPUS_STOPPED": "CPU_STOPPED", "KEXEC": "KEXEC"}

# Which nodes and edges each phase lights up.
_FOCUS: Dict[str, Tuple[Sequence[str], Sequence[Tuple[str, str]]]] = {
    "BEFORE": (["first", "segments"], [("first", "segments")]),
    "PANIC": (["panic_cpu"], []),
    "CRASH_KEXEC": (["panic_cpu", "crash_kexec"], [("panic_cpu", "crash_kexec")]),
    "CPU_STOPPED": (["other_cpus", "notes"], [("crash_kexec", "other_cpus"), ("other_cpus", "notes"),
                                              ("crash_kexec", "notes")]),
    "KEXEC": (["crash_kexec", "purgatory"], [("crash_kexec", "purgatory")]),
    "PURGATORY": (["purgatory", "segments"], [("purgatory", "segments"), ("purgatory", "capture")]),
    "CAPTURE_BOOT": (["capture", "segments"], [("purgatory", "capture"), ("elfcorehdr", "capture")]),
    "VMCORE": (["proc_vmcore", "elfcorehdr", "oldmem", "notes"],
               [("elfcorehdr", "proc_vmcore"), ("oldmem", "proc_vmcore"), ("notes", "proc_vmcore")]),
    "MAKEDUMPFILE": (["makedumpfile", "dumpfile", "proc_vmcore"], [("proc_vmcore", "makedumpfile"),
                                                                   ("makedumpfile", "dumpfile")]),
    "REBOOT": (["reboot", "dumpfile"], [("makedumpfile", "reboot")]),
}


def phase_of(stage_key: str) -> str:
    """The handoff phase a trace stage (or a phase key) belongs to.

    >>> phase_of("IRQS_OFF"), phase_of("CPU_STOPPED"), phase_of("VMCORE"), phase_of("")
    ('PANIC', 'CPU_STOPPED', 'VMCORE', 'BEFORE')
    """
    if stage_key in PHASE_KEYS:
        return stage_key
    return _STAGE_TO_PHASE.get(stage_key, "PANIC")


def _cpus_from(trace: Any) -> Tuple[Optional[int], List[int]]:
    """(the CPU that ran panic(), the CPUs stopped by the crash NMI) from a trace."""
    if trace is None:
        return None, []
    stages = getattr(trace, "stages", trace)
    entry = next((s for s in stages if s.key in ("CPU_CLAIMED", "ENTRY")), None)
    stopped = sorted({s.args[0] for s in stages if s.key == "CPU_STOPPED" and s.args})
    return (entry.cpu if entry else None), stopped


def handoff_digraph(stage_key: str = "", plan: Any = None, trace: Any = None, result: Any = None) -> graphviz.Digraph:
    """The handoff diagram at ``stage_key`` (a trace stage key or a PHASES key)."""
    phase = phase_of(stage_key)
    order = PHASE_KEYS.index(phase)
    nodes, edges = _FOCUS[phase]
    panic_cpu, stopped = _cpus_from(trace)
    pc = f"CPU {panic_cpu}" if panic_cpu is not None else "the panicking CPU"
    others = ", ".join(f"CPU {c}" for c in stopped) if stopped else "the other CPUs"
    crash = f" {plan.crash[0]:#x}-{plan.crash[1]:#x}" if plan is not None else ""
    hdr = f" @ {plan.elfcorehdr:#x}" if plan is not None else ""
    notes = (", ".join(f"{a:#x}" for a, _ in plan.notes)) if plan is not None and plan.notes else "per CPU"
    outcome = getattr(result, "outcome", None)
    dumpfile = "vmcore on the dump target"
    if outcome is not None and getattr(outcome, "vmcore", None) is not None:
        res = getattr(outcome, "result", None)
        level = getattr(res, "dump_level", None)
        dumpfile = f"{outcome.vmcore.name} ({outcome.vmcore.stat().st_size // 1024} KiB" + (
            f", -d {level})" if level is not None else ")")

    d = graphviz.Digraph("handoff", graph_attr={"rankdir": "LR", "compound": "true", "bgcolor": "transparent",
                                                "fontname": GRAPH_FONT, "fontsize": "11", "nodesep": "0.25"},
                         node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff",
                                    "fontname": GRAPH_FONT, "fontsize": "10"},
                         edge_attr={"fontname": GRAPH_FONT, "fontsize": "9", "color": "#78909c"})

    def node(name: str, label: str, **kw: str) -> None:
        if name in nodes:
            kw.update(fillcolor=CURRENT, penwidth="2.5")
            kw["class"] = "active"
        d.node(name, label, **kw)

    def edge(a: str, b: str, label: str = "", **kw: str) -> None:
        if (a, b) in edges:
            kw.update(color="#ef6c00", penwidth="2.5", fontcolor="#e65100")
        d.edge(a, b, label=label, **kw)

    gone = order >= PHASE_KEYS.index("PURGATORY")
    with d.subgraph(name="cluster_first") as c:
        c.attr(label=_("first kernel (gone: only its memory is left)") if gone else _("first kernel (crashing)"),
               style="rounded,filled", fillcolor="#eceff1" if gone else "#e3f2fd", color="#90a4ae")
        node("first", _("kexec -p (before the crash):\nkexec_load(2) of the segments"), group="a")
        c.node("first")
        node("panic_cpu", f"{pc}: panic()\n{_('interrupts off')}")
        node("crash_kexec", f"{pc}: __crash_kexec()\nmachine_crash_shutdown()\nmachine_kexec()")
        node("other_cpus", f"{others}: crash NMI\ncrash_nmi_callback(), halt")
        for n in ("panic_cpu", "crash_kexec", "other_cpus"):
            c.node(n)
    with d.subgraph(name="cluster_memory") as c:
        c.attr(label=_("memory (kept across the jump)"), style="rounded,dashed", color="#8d6e63")
        node("oldmem", _("old System RAM\n(left as it was)"), shape="folder", fillcolor="#fff3e0")
        node("notes", f"crash_notes: NT_PRSTATUS\n(registers) {notes}\n+ VMCOREINFO note", shape="note",
             fillcolor="#fce4ec")
        with c.subgraph(name="cluster_reservation") as r:
            r.attr(label=_("crashkernel= reservation") + crash, style="rounded,filled", fillcolor="#fff8e1",
                   color="#ffb300")
            node("segments", _("segments loaded by kexec -p:\nkernel, page tables, boot params"), shape="component")
            node("purgatory", _("purgatory\n(SHA-256 check)") + (f"\n@ {plan.entry:#x}" if plan is not None else ""))
            node("elfcorehdr", f"ELF core header{hdr}\nPT_NOTE + PT_LOAD", shape="note", fillcolor="#ffebee")
            for n in ("segments", "purgatory", "elfcorehdr"):
                r.node(n)
        for n in ("oldmem", "notes"):
            c.node(n)
    with d.subgraph(name="cluster_capture") as c:
        c.attr(label=_("capture kernel (nr_cpus=1, in the reservation)"), style="rounded,filled",
               fillcolor="#e8f5e9" if order >= PHASE_KEYS.index("CAPTURE_BOOT") else "#f5f5f5", color="#81c784")
        cmd = (plan.cmdline if plan is not None else "... elfcorehdr=")
        if len(cmd) > 48:
            cmd = "..." + cmd[-45:]
        node("capture", f"{_('capture kernel boots')}\n{cmd}")
        node("proc_vmcore", "/proc/vmcore", shape="cylinder", fillcolor="#e0f2f1")
        node("makedumpfile", _("kdump service:\nmakedumpfile"))
        node("dumpfile", dumpfile, shape="cylinder", fillcolor="#e0f2f1")
        node("reboot", "final_action: reboot")
        for n in ("capture", "proc_vmcore", "makedumpfile", "dumpfile", "reboot"):
            c.node(n)
    edge("first", "segments", "kexec_load(2)", style="dashed")
    edge("panic_cpu", "crash_kexec")
    edge("crash_kexec", "other_cpus", "NMI")
    edge("other_cpus", "notes", "crash_save_cpu()")
    edge("crash_kexec", "notes", _("own registers"))
    edge("crash_kexec", "purgatory", _("jump"))
    edge("purgatory", "segments", _("verify"))
    edge("purgatory", "capture", _("start"))
    edge("elfcorehdr", "capture", "elfcorehdr=")
    edge("elfcorehdr", "proc_vmcore", _("describes"))
    edge("oldmem", "proc_vmcore", "PT_LOAD")
    edge("notes", "proc_vmcore", "PT_NOTE")
    edge("proc_vmcore", "makedumpfile", _("read"))
    edge("makedumpfile", "dumpfile", _("write"))
    edge("makedumpfile", "reboot")
    return d


class HandoffView(w.VBox):
    """The handoff diagram with a phase slider; ``link(stepper)`` moves it with a stepper."""

    stage_key = t.Unicode("", help="the stage (or phase) shown")
    phase = t.Unicode("BEFORE")
    active = t.List(t.Unicode(), help="the nodes lit at this phase")
    graph_source = t.Unicode("")
    error = t.Unicode("")

    def __init__(self, plan: Any = None, trace: Any = None, result: Any = None, **kwargs: Any) -> None:
        self._error_box = error_widget()
        self.plan, self.trace, self.result = plan, trace, result
        self.slider = w.SelectionSlider(options=PHASE_KEYS, value="BEFORE", description=_("handoff"),
                                        continuous_update=False, layout=w.Layout(width="40em", max_width="100%"))
        self.slider.observe(lambda ch: self.show(ch["new"]) if ch["new"] != self.phase else None, "value")
        self.caption = w.HTML("")
        self.graph = w.HTML("", layout=w.Layout(overflow="auto"))
        self._stepper: Any = None
        super().__init__([self._error_box, self.slider, self.caption, self.graph], **kwargs)
        self.add_class("kpanic-handoff")
        self.show("")

    @classmethod
    def for_run(cls, run: "KdumpRun", result: Optional["KdumpResult"] = None) -> "HandoffView":
        """From a KdumpRun (after load()) and, once it has run, its KdumpResult."""
        plan = run.kexec_plan or (result.kexec_plan if result is not None else None)
        view = cls(plan=plan, trace=(result.trace if result is not None else None), result=result)
        if plan is None:
            view.error = ("no capture kernel is loaded (kexec -p has not run): the diagram shows the design "
                          "without this machine's addresses; call run.load() first")
            view._error_box.value = error_html(view.error)
        return view

    @guarded
    def show(self, stage_key: str) -> None:
        """Draw the diagram for a trace stage key (or a phase key)."""
        if self._stepper is not None and self._stepper.session is not None:
            self.trace = self._stepper.session.trace()        # the stages recorded so far
        phase = phase_of(stage_key)
        d = handoff_digraph(stage_key, self.plan, self.trace, self.result)
        self.stage_key, self.phase = stage_key, phase
        self.active = list(_FOCUS[phase][0])
        self.graph_source = d.source
        if self.slider.value != phase:
            self.slider.value = phase
        self.caption.value = f"<b>{esc(phase.replace('_', ' ').lower())}</b>: {esc(_(dict(PHASES)[phase]))}"
        try:
            self.graph.value = render_svg(d.source)
        except Exception as e:          # noqa: BLE001 - no dot: the source, and how to get dot
            self.graph.value = error_html(f"the diagram needs Graphviz's dot ({describe_exception(e)})") + pre(d.source)

    def link(self, stepper: "PanicStepper") -> "HandoffView":
        """Follow ``stepper``'s stage from now on (and show its current one)."""
        self._stepper = stepper
        if self.plan is None and stepper.kdump_run is not None:
            self.plan = stepper.kdump_run.kexec_plan
        stepper.observe(lambda ch: self.show(ch["new"]), "stage_key")
        self.show(stepper.stage_key)
        return self
