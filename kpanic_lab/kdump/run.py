"""A whole kdump cycle: boot with crashkernel=, kexec -p, crash, capture, reboot.

>>> r = KdumpRun("sysrq-c", crash_dir="/tmp/crash").run()     # doctest: +SKIP
>>> r.outcome.vmcore                                           # doctest: +SKIP
PosixPath('/tmp/crash/var/crash/127.0.0.1-2026-11-26-08:00:00/vmcore')
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from kpanic_lab.errors import LabError
from kpanic_lab.guest import DEFAULT_CMDLINE
from kpanic_lab.kdump import service
from kpanic_lab.kdump.capture import CaptureOutcome, Targets, collect, reply_text
from kpanic_lab.kdump.config import KdumpConf, parse_kdump_conf
from kpanic_lab.kdump.kexec import KexecPlan
from kpanic_lab.machine import Machine, Snapshot, ToolRequest
from kpanic_lab.machine.command import run_line
from kpanic_lab.panic import PanicSession, Trace
from kpanic_lab.panic.scenarios import Scenario

DEFAULT_CRASHKERNEL = "64M"


class KdumpRunError(LabError):
    """The cycle could not run as asked (kexec -p failed, the guest did not come back)."""


@dataclass
class KdumpResult:
    """What a kdump cycle left: consoles, the panic trace, the dump, how it ended."""

    trace: Trace
    kexec_output: str
    first_console: str          # the crashed kernel, from boot to its last line
    capture_console: str        # the capture kernel, from its banner to its reset
    reboot_console: str         # the machine booting again after final_action
    outcome: Optional[CaptureOutcome]
    end: str                    # rebooted, halted, powered off, shell, no-capture
    machine: Machine = field(repr=False, default=None)  # type: ignore[assignment]
    kexec_plan: Optional[KexecPlan] = field(repr=False, default=None)   # what `kexec -p` loaded
    kexec_exit: Optional[int] = None   # `kexec -p`'s exit code (0: loaded; None: it did not end)


@dataclass(frozen=True)
class Loaded:
    """A first kernel booted and its capture kernel loaded (``kexec -p``): the machine's snapshot
    and the host side of the load (kexec-tools' plan), to start more runs of the same
    configuration from without booting again (``KdumpRun.load(loaded)``)."""

    snapshot: Snapshot
    kexec_plan: Optional[KexecPlan]
    kexec_output: str
    kexec_exit: Optional[int] = None


class KdumpRun:
    """Run one scenario with kdump configured (a kdump.conf as text, or RHEL's defaults)."""

    def __init__(self, scenario: Union[str, Scenario], *, cpus: int = 2, memory: Union[str, int] = "256M",
                 cmdline: Optional[str] = None, crashkernel: str = DEFAULT_CRASHKERNEL,
                 kdump_conf: Union[str, bytes, None] = None, crash_dir: Union[str, Path, None] = None,
                 targets: Optional[Targets] = None, kexec_args: str = "-p",
                 max_seconds: float = 120.0) -> None:
        self.conf: KdumpConf = parse_kdump_conf(kdump_conf) if kdump_conf is not None else KdumpConf()
        if targets is None:
            if crash_dir is None:
                # no folder given: a temporary one, removed with this object (or at exit)
                self._tmp = tempfile.TemporaryDirectory(prefix="kpanic-crash-")
                crash_dir = self._tmp.name
            base = Path(crash_dir)
            targets = Targets(crash_dir=base, remote_dir=base / "remote", raw_image=base / "vdb.img")
        self.targets = targets
        # the caller's command line replaces the default one; crashkernel= is added unless it has one
        given = DEFAULT_CMDLINE if cmdline is None else cmdline
        has_ck = any(w.startswith("crashkernel=") for w in given.split())
        line = " ".join(x for x in (given, f"crashkernel={crashkernel}" if crashkernel and not has_ck else "") if x)
        self.session = PanicSession(scenario, cpus=cpus, memory=memory, cmdline=line, max_seconds=max_seconds)
        self.kexec_args = kexec_args
        self.max_seconds = max_seconds
        self.outcome: Optional[CaptureOutcome] = None
        self.kexec_output = ""
        self.kexec_exit: Optional[int] = None
        # the host side of `kexec -p` (kexec-tools): the segments, purgatory, the capture
        # kernel's command line; what the memory maps and the handoff diagram draw
        self.kexec_plan: Optional[KexecPlan] = None

    def _kexec_loaded(self, plan: KexecPlan) -> None:
        self.kexec_plan = plan

    def _kdump_tool(self, machine: Machine, cpu: int, request: ToolRequest, reply_at: int) -> bytes:
        self.outcome = collect(machine, request, self.conf, self.targets)
        return reply_text(self.outcome)

    def load(self, loaded: Optional[Loaded] = None) -> "KdumpRun":
        """Boot the first kernel and load the capture kernel (`kexec -p`); or start from
        ``loaded``, saved by ``saved()`` from a run with the same machine, command line and
        kexec arguments (the same state, without booting)."""
        s = self.session.start(loaded.snapshot if loaded is not None else None)
        m = s.machine
        service.install(m, on_load=self._kexec_loaded)
        m.host_tools["kdump"] = self._kdump_tool
        if loaded is None:
            done = run_line(m, f"kexec {self.kexec_args}", max_seconds=self.max_seconds)
            self.kexec_output, self.kexec_exit = done.output, done.exit_code
        else:
            self.kexec_output, self.kexec_exit = loaded.kexec_output, loaded.kexec_exit
            if loaded.kexec_plan is not None:       # what kexec -p loaded in the saved run
                self.kexec_plan = loaded.kexec_plan
                m.watch_hlt(loaded.kexec_plan.hlt_sites)
        return self

    def saved(self) -> Loaded:
        """This run's state after ``load()`` (before the trigger), to start others from."""
        if not self.session.started or self.session.records:
            raise KdumpRunError("saved(): load() first, and before run()")
        m = self.session.machine
        return Loaded(m.snapshot(), self.kexec_plan, self.kexec_output, self.kexec_exit)

    @property
    def loaded(self) -> bool:
        return self.session.machine.run_command("cat /sys/kernel/kexec_crash_loaded").strip() == "1"

    def run(self) -> KdumpResult:
        """Trigger, follow the panic to the jump, let the capture kernel dump, reboot."""
        if not self.session.started:
            self.load()
        s, m = self.session, self.session.machine
        trace = s.run_to_end()
        first = m.console_text
        if trace.end != "kexec":
            return KdumpResult(trace, self.kexec_output, first, "", "", None, "no-capture", m, self.kexec_plan,
                                self.kexec_exit)
        jump = len(m.serial.output)
        r = m.run("prompt", max_seconds=self.max_seconds)
        capture = m.serial.output[jump:].decode("utf-8", "replace").replace("\r", "")
        end = {"reset": "rebooted", "poweroff": "powered off", "halted": "halted", "prompt": "shell"}.get(
            r.reason, r.reason)
        if self.outcome is None and r.reason == "reset":
            end = "capture kernel failed, rebooted"   # it panicked before its kdump service ran
        reboot = ""
        if r.reason == "reset":
            start = len(m.serial.output)
            m.power_on()
            r2 = m.run("prompt", max_seconds=self.max_seconds)
            reboot = m.serial.output[start:].decode("utf-8", "replace").replace("\r", "")
            if r2.reason != "prompt":
                end = f"rebooted, then {r2.reason}"
        return KdumpResult(trace, self.kexec_output, first, capture, reboot, self.outcome, end, m, self.kexec_plan,
                            self.kexec_exit)
