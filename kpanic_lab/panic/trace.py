"""What a panic run records: one entry per stage, each with every CPU's state.

Pure data with a JSON form (``kpanic-lab run SCENARIO --trace FILE``): which stage, on
which CPU, every CPU's IF flag and what it was doing, the guest's numbers.  The words
a student reads are ``describe.py``'s.  The same configuration gives the same trace, so
a graded exercise can compare one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional


# What a CPU is doing at a stage (``CpuState.doing``); ``describe.cpu_doing`` says it in words.
DOING = ("running", "user", "idle", "mdelay", "halted", "offline", "self-stop", "stopped-ipi", "stopped-nmi",
         "crash-nmi")


@dataclass(frozen=True)
class CpuState:
    """One CPU at one stage."""

    cpu: int
    doing: str                 # one of DOING: running, idle (hlt), stopped-nmi, self-stop (panic_smp_self_stop) ...
    rip: int
    symbol: str
    interrupts_enabled: bool   # RFLAGS.IF
    preempt_count: Optional[int]


@dataclass(frozen=True)
class NotifierCall:
    name: str                  # the notifier_call function ("python:NAME" for a student's Python notifier)
    priority: int
    ret: Optional[int] = None  # NOTIFY_DONE 0, NOTIFY_OK 1, NOTIFY_STOP_MASK 0x8000 ...
    # what a notifier did that Linux prints nothing for (at its NOTIFIER_RET stage):
    pvpanic_event: Optional[int] = None    # pvpanic_panic_notify: the event written to the port (None: none)
    led_brightness: Optional[int] = None   # led_trigger_panic_notifier: the panic LED's brightness
    error: Optional[str] = None            # a Python notifier's failure ("raised KeyError: 'x'")


@dataclass(frozen=True)
class StageRecord:
    """One stop of a panic run, as data: ``describe`` says it in words."""

    index: int
    key: str                   # ENTRY, IRQS_OFF, ... (panic_stages.h), or EXCEPTION, CPU_STOPPED, TASK_EXIT, END
    cpu: int                   # the CPU the stage happened on
    time_ns: int
    rip: int
    symbol: str                # rip symbolised (for EXCEPTION: the faulting instruction)
    args: List[int]            # the guest's numbers: a and b of a stage (panic_stages.h), the event's otherwise
    cpus: List[CpuState]
    console_offset: int        # console bytes printed so far
    notifier: Optional[NotifierCall] = None
    caller: Optional[str] = None   # ENTRY: panic()'s caller, a return address as %pS prints it
    end: Optional[str] = None      # END: how the run ended (as Trace.end)

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
            known = {k: v for k, v in s.items() if k in _RECORD_FIELDS}    # a trace written before may hold words
            stages.append(StageRecord(**{**known, "rip": int(s["rip"], 16), "cpus": cpus,
                                         "notifier": NotifierCall(**n) if n else None}))
        return cls(d["scenario"], d["config"], stages, d.get("end"), d.get("console", ""))


_RECORD_FIELDS = {f.name for f in fields(StageRecord)}
