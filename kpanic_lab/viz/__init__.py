"""Views over the lab's library objects: ipywidgets, matplotlib and graphviz, nothing else.

Each view is a thin widget over one library object and holds no logic of its own:

    stepper.PanicStepper      a PanicSession, stage by stage (stepper_for("sysrq-c"))
    memory_map.MemoryMapView  e820, the kernel, crashkernel=, the capture kernel's segments,
                              and pages by kind at a makedumpfile dump level
    handoff.HandoffView       the kexec handoff between the two kernels, stepped with a stepper
    shell.CrashShell          a crash> prompt; shell.VmcoreExplorer: a dump's header, VMCOREINFO, CPUs
    progress.ProgressView     makedumpfile's progress callback and long runs
    fold.folded               a long output: its key lines first, the whole text behind a toggle
    real.consoles_side_by_side  the lab's and real Linux's consoles, matching lines on one row

Names are imported lazily, so ``import kpanic_lab.viz`` costs little and matplotlib is loaded
only by the view that draws with it.

>>> from kpanic_lab.viz import stepper_for          # doctest: +SKIP
>>> stepper_for("sysrq-c", cmdline="panic=0")       # doctest: +SKIP
"""
from __future__ import annotations

import importlib
from typing import Any, Dict

_NAMES: Dict[str, str] = {
    "PanicStepper": "stepper", "stepper_for": "stepper",
    "MemoryMapView": "memory_map", "PageKindView": "memory_map",
    "HandoffView": "handoff", "handoff_digraph": "handoff",
    "CrashShell": "shell", "VmcoreExplorer": "shell",
    "ProgressView": "progress", "run_with_progress": "progress",
    "folded": "fold", "folded_html": "fold",
    "consoles_side_by_side": "real", "stage_lines_view": "real", "real_source": "real",
    "transcripts_side_by_side": "real",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'kpanic_lab.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kpanic_lab.viz.{module}"), name)
    globals()[name] = value
    return value
