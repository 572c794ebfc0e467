"""What a panic run records: one entry per stage, each with every CPU's state.

Pure data with a JSON form (``kpanic-lab run SCENARIO --trace FILE``).  The
same configuration gives the same trace, so a graded exercise can compare one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class CpuState:
    """One CPU at one stage."""

    cpu: int
    doing: str                 # running, idle (hlt), stopped by NMI, spinning in panic_smp_self_stop, ...
    rip: int
    symbol: str
    interrupts_enabled: bool   # RFLAGS.IF
    preempt_count: Optional[int]


@dataclass(frozen=True)
class NotifierCall:
    name: str                  # the notifier_call function
    priority: int
    ret: Optional[int] = None  # NOTIFY_DONE 0, NOTIFY_OK 1, NOTIFY_STOP_MASK 0x8000 ...

    @property
    def ret_name(self) -> str:
        return notify_name(self.ret)


def notify_name(ret: Optional[int]) -> str:
    if ret is None:
        return "(running)"
    names = {0: "NOTIFY_DONE", 1: "NOTIFY_OK", 0x8002: "NOTIFY_BAD", 0x8001: "NOTIFY_STOP"}
    return names.get(ret, f"0x{ret:x}" + (" (STOP)" if ret & 0x8000 else ""))


@dataclass(frozen=True)
class StageRecord:
    index: int
    key: str                   # ENTRY, IRQS_OFF, ... (panic_stages.h), or EXCEPTION, CPU_STOPPED, TASK_EXIT, END
    title: str
    detail: str                # this occurrence in words: "page fault at 0x8 (error 0x2)"
    cpu: int                   # the CPU the stage happened on
    time_ns: int
    rip: int
    symbol: str
    args: List[int]
    cpus: List[CpuState]
    console_offset: int        # console bytes printed so far
    notifier: Optional[NotifierCall] = None

    def cpu_state(self, cpu: int) -> CpuState:
        return self.cpus[cpu]


@dataclass
class Trace:
    scenario: str
    config: Dict[str, Any]
    stages: List[StageRecord] = field(default_factory=list)
    end: Optional[str] = None          # hang, restart, task-killed, continued, kexec, halted
    console: str = ""

    def keys(self) -> List[str]:
        return [s.key for s in self.stages]

    def notifier_calls(self) -> List[NotifierCall]:
        return [s.notifier for s in self.stages if s.key == "NOTIFIER_RET" and s.notifier]

    def graph(self) -> Dict[str, List[Dict[str, str]]]:
        """The stages as a path graph (nodes in order, one edge per step) for a view to draw."""
        nodes = [{"id": str(s.index), "key": s.key, "label": s.title} for s in self.stages]
        edges = [{"from": str(a.index), "to": str(b.index)} for a, b in zip(self.stages, self.stages[1:])]
        return {"nodes": nodes, "edges": edges}

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        for s in d["stages"]:
            s["rip"] = f"0x{s['rip']:x}"
            for c in s["cpus"]:
                c["rip"] = f"0x{c['rip']:x}"
        return d

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "Trace":
        d = json.loads(text)
        stages = []
        for s in d.get("stages", []):
            cpus = [CpuState(**{**c, "rip": int(c["rip"], 16)}) for c in s["cpus"]]
            n = s.get("notifier")
            stages.append(StageRecord(**{**s, "rip": int(s["rip"], 16), "cpus": cpus,
                                         "notifier": NotifierCall(**n) if n else None}))
        return cls(d["scenario"], d["config"], stages, d.get("end"), d.get("console", ""))
