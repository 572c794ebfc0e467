"""A panic run in words: the one place a stage record becomes what a student reads.

The session records data (``trace.py``: which stage, on which CPU, each CPU's IF flag and what
it was doing, the guest's numbers); this module says what they mean, in the student's language
(every string goes through ``_``), for every front-end: the CLI's stage list, the stepper, the
stage graph, and the cards and tables the notebooks print (``report.py``).  Nothing here reads a
machine or parses printed text: the same record always reads the same.

>>> rec = StageRecord(3, "CPU_CLAIMED", 1, 0, 0, "panic+0x99/0x32f", [1, (1 << 64) - 1], [], 0)
>>> stage_title(rec), stage_detail(rec)
('panic_cpu claimed', 'panic_cpu = 1 (was -1)')
>>> stage_explanation(rec).split(";")[0]
'An atomic compare-and-exchange makes this CPU the one that runs panic()'
>>> cpu_doing("self-stop")
'spinning in panic_smp_self_stop'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from kpanic_lab.i18n import N_, _
from kpanic_lab.panic.stages import (STOPPED_BY_CRASH_NMI, STOPPED_BY_IPI, STOPPED_BY_NMI, STOPPED_SELF, signed,
                                     trigger_names)
from kpanic_lab.panic.trace import NotifierCall, StageRecord


# ---------------------------------------------------------------------------- the stages
@dataclass(frozen=True)
class StageInfo:
    key: str          # "ENTRY"
    title: str        # a few words for a timeline
    explain: str      # one or two sentences: what Linux does here and why


# What each stage is, in the words a lecture would use.  Keys are panic_stages.h names.
STAGE_INFO: Dict[str, StageInfo] = {s.key: s for s in [
    StageInfo("TRIGGER", "trigger", "Something fatal happened: SysRq-c, a module calling panic(), or, after "
              "a CPU exception, the handler finding it is the kernel's own bug (a bad pointer, BUG_ON, "
              "WARN_ON); the handler has turned interrupts back on if the faulting code had them on."),
    StageInfo("EXCEPTION", "CPU exception", "The CPU raised an exception (page fault, invalid opcode, ...) "
              "at the instruction shown; it enters the kernel's handler through the IDT, whose interrupt "
              "gate clears IF (the CPUs are shown as they were when it faulted)."),
    StageInfo("OOPS", "oops", "die() begins an oops: 'Oops: 0002 [#1] PREEMPT SMP', registers, Call Trace."),
    StageInfo("OOPS_END", "oops end", "oops_end() first calls crash_kexec() when kexec_should_crash() (in "
              "interrupt, the idle task, init, or panic_on_oops; never with crash_kexec_post_notifiers). It "
              "panics itself only in interrupt ('Fatal exception in interrupt') or with panic_on_oops "
              "('Fatal exception'); otherwise make_task_dead() kills the task (init: do_exit() then panics "
              "'Attempted to kill init!'), after counting it against kernel.oops_limit."),
    StageInfo("ENTRY", "panic() entered", "panic() is called with a message; from here the kernel will not "
              "return to normal operation."),
    StageInfo("IRQS_OFF", "interrupts off", "local_irq_disable() and preempt_disable_notrace(): this CPU's "
              "IF flag drops to 0, so no interrupt handler can run (and panic again) here. NMIs still can: "
              "IF does not mask them, and the stop and crash NMIs rely on that."),
    StageInfo("CPU_CLAIMED", "panic_cpu claimed", "An atomic compare-and-exchange makes this CPU the one "
              "that runs panic(); any other CPU that panics now stops itself silently."),
    StageInfo("SELF_STOP", "second CPU stops", "Another CPU is already panicking: this one spins in "
              "panic_smp_self_stop() with interrupts off, so only an NMI can stop it."),
    StageInfo("MESSAGE", "message printed", "'Kernel panic - not syncing: ...' goes to the log and console. "
              "'not syncing' means just that: panic() never syncs file systems."),
    StageInfo("STACK_DUMPED", "stack dumped", "dump_stack() prints the CPU line and the Call Trace (skipped "
              "when an oops has just printed one)."),
    StageInfo("CRASH_KEXEC", "__crash_kexec", "If a capture kernel is loaded, jump to it now: by default "
              "kdump runs BEFORE the notifiers (crash_kexec_post_notifiers moves it after)."),
    StageInfo("CPUS_STOPPED", "other CPUs stopped", "smp_send_stop() has returned: on x86 it sent the "
              "REBOOT_VECTOR IPI, waited up to 1 s, and only for CPUs still running sent an NMI ('Shutting "
              "down cpus with NMI'). With crash_kexec_post_notifiers, crash_smp_send_stop() sent NMIs at "
              "once instead, so each CPU saved its registers for the dump."),
    StageInfo("NOTIFIER_CALL", "notifier called", "One panic notifier runs (highest priority first)."),
    StageInfo("NOTIFIER_RET", "notifier returned", "Its return value: NOTIFY_DONE/OK go on, NOTIFY_STOP "
              "ends the chain."),
    StageInfo("NOTIFIERS_DONE", "notifier chain done", "atomic_notifier_call_chain() over "
              "panic_notifier_list has finished."),
    StageInfo("KMSG_DUMP", "kmsg_dump", "kmsg_dump(KMSG_DUMP_PANIC) lets dumpers (pstore, ramoops) save the "
              "log."),
    StageInfo("STOP_IPI", "REBOOT_VECTOR IPI", "native_stop_other_cpus(): a normal interrupt (REBOOT_VECTOR) "
              "to every other CPU; a CPU with interrupts on takes it in sysvec_reboot and stops. Up to 1 s "
              "is allowed."),
    StageInfo("STOP_NMI", "NMI fallback", "Some CPU did not stop on the IPI (it runs with interrupts off): "
              "'Shutting down cpus with NMI', and an NMI, which IF cannot mask, stops it."),
    StageInfo("KGDB", "kgdb_panic", "kgdb_panic(): a kernel debugger, if one were configured, would get control "
              "here, before the other CPUs are stopped. None is: nothing happens."),
    StageInfo("SYS_INFO", "panic_print", "panic_print_sys_info(): what kernel.panic_print (panic_print=) asks "
              "for: tasks 0x1, memory 0x2, timers 0x4, locks 0x8, ftrace 0x10 after the notifiers; the whole "
              "log again 0x20 after the console flush."),
    StageInfo("CONSOLE_UNBLANK", "console_unblank", "console_unblank(): a blanked screen console is redrawn so "
              "the message can be seen."),
    StageInfo("DEBUG_LOCKS_OFF", "debug_locks_off", "debug_locks_off(): lock debugging is switched off, because "
              "CPUs stopped while holding locks would otherwise be reported."),
    StageInfo("CONSOLE_FLUSH", "console flushed", "console_flush_on_panic() prints what is still queued, "
              "ignoring locks a stopped CPU may hold."),
    StageInfo("TIMEOUT", "panic timeout", "kernel.panic decides the end: >0 reboot after that many seconds, "
              "<0 reboot at once, 0 wait forever."),
    StageInfo("RESTART", "emergency restart", "emergency_restart(): a hard reset, no shutdown, no sync."),
    StageInfo("LOOP", "final loop", "'---[ end Kernel panic ... ]---', suppress_printk = 1 so nothing "
              "scrolls it away, interrupts back on, and the CPU loops forever (mdelay, panic_blink)."),
    StageInfo("KEXEC", "jump to the capture kernel", "machine_kexec(): this CPU jumps to purgatory, which checks "
              "the SHA-256 of the loaded segments and starts the capture kernel in the reserved memory."),
    StageInfo("CPU_STOPPED", "a CPU stopped", "This CPU stopped: on the REBOOT_VECTOR IPI (in hard-IRQ context) "
              "or the NMI fallback it runs stop_this_cpu(): offline, interrupts off, hlt forever; the crash "
              "NMI of kdump first saves its registers for the dump; a CPU that found another one panicking "
              "spins in panic_smp_self_stop() instead."),
    StageInfo("TASK_EXIT", "task killed", "The task that oopsed is killed (make_task_dead() -> do_exit()): the "
              "kernel goes on without it, tainted D. If it was init, do_exit() panics 'Attempted to kill "
              "init!'."),
    StageInfo("END", "the end", "The run is over: the CPU named here loops in panic(), the machine was reset, "
              "jumped to the capture kernel, or is back at the shell prompt."),
    StageInfo("WARN", "WARN()", "A warning: printed with a Call Trace, then the kernel goes on (unless "
              "panic_on_warn)."),
]}




def stage_title(rec: StageRecord) -> str:
    """A few words for a timeline: the stage's title (``end: hang`` for the end)."""
    if rec.key == "END":
        return _("end: {how}").format(how=rec.end or "")
    info = STAGE_INFO.get(rec.key)
    return _(info.title) if info else rec.key.lower()


def stage_explanation(rec: Optional[StageRecord]) -> str:
    """What Linux does at this stage and why, in a lecture's words (None: before the trigger)."""
    if rec is None:
        return _("The shell waits at its prompt. Step to type the trigger.")
    info = STAGE_INFO.get(rec.key)
    return _(info.explain) if info else ""


# ---------------------------------------------------------------------------- the CPUs
_DOING: Dict[str, str] = {
    "running": N_("running"), "user": N_("running in user mode"), "idle": N_("idle (hlt)"),
    "mdelay": N_("waiting (mdelay)"), "halted": N_("halted, interrupts off"), "offline": N_("offline"),
    "self-stop": N_("spinning in panic_smp_self_stop"), "stopped-ipi": N_("stopped by IPI"),
    "stopped-nmi": N_("stopped by NMI"), "crash-nmi": N_("stopped by the crash NMI (registers saved)"),
}
_DOING_SHORT: Dict[str, str] = {"self-stop": N_("self-stop spin"), "mdelay": N_("mdelay"), "user": N_("user mode")}


def cpu_doing(doing: str, short: bool = False) -> str:
    """What a CPU is doing (``CpuState.doing``) in words; ``short`` for a table's narrow column.

    >>> cpu_doing("idle"), cpu_doing("self-stop", short=True)
    ('idle (hlt)', 'self-stop spin')
    """
    words = (_DOING_SHORT.get(doing) if short else None) or _DOING.get(doing)
    return _(words) if words else doing


# ---------------------------------------------------------------------------- this occurrence
VECTOR_NAMES = {0: "divide error", 6: "invalid opcode", 8: "double fault", 13: "general protection fault",
                14: "page fault"}   # Linux's names for the exceptions, as its oops prints them
PVPANIC_EVENTS = {1: "PVPANIC_PANICKED", 2: "PVPANIC_CRASH_LOADED"}
REBOOT_MODES = ("cold", "warm", "hard", "soft", "gpio")   # enum reboot_mode
_STOP_HOW = {STOPPED_BY_NMI: N_("CPU {cpu} stopped by NMI (smp_send_stop's fallback, smp_stop_nmi_callback)"),
             STOPPED_SELF: N_("CPU {cpu} spins in panic_smp_self_stop, interrupts off"),
             STOPPED_BY_CRASH_NMI: N_("CPU {cpu} stopped by the crash NMI, registers saved"),
             STOPPED_BY_IPI: N_("CPU {cpu} stopped by the REBOOT_VECTOR IPI (sysvec_reboot, hard-IRQ context)")}
_ENDS = {"hang": N_("the final loop: interrupts on, forever"), "restart": N_("emergency_restart(): reset"),
         "task-killed": N_("the task was killed; the shell prompts again"),
         "continued": N_("the kernel carried on; the shell prompts again"),
         "halted": N_("every CPU halted with interrupts off")}


def notify_name(ret: Optional[int]) -> str:
    """A notifier's return value by its name in notifier.h.

    >>> notify_name(0), notify_name(0x8001), notify_name(None)
    ('NOTIFY_DONE', 'NOTIFY_STOP', '(running)')
    """
    if ret is None:
        return "(running)"
    names = {0: "NOTIFY_DONE", 1: "NOTIFY_OK", 0x8002: "NOTIFY_BAD", 0x8001: "NOTIFY_STOP"}
    return names.get(ret, f"0x{ret:x}" + (" (STOP)" if ret & 0x8000 else ""))


def notifier_effect(call: NotifierCall) -> str:
    """What a silent built-in notifier did (Linux prints nothing for these); '' for the others.

    >>> notifier_effect(NotifierCall("pvpanic_panic_notify", 1, 0, pvpanic_event=1))
    'wrote PVPANIC_PANICKED to the pvpanic port'
    """
    if call.name == "pvpanic_panic_notify":
        if call.pvpanic_event is None:
            return _("sent nothing")
        event = PVPANIC_EVENTS.get(call.pvpanic_event, hex(call.pvpanic_event))
        return _("wrote {event} to the pvpanic port").format(event=event)
    if call.led_brightness is not None:
        return _("panic LED brightness {level}").format(level=call.led_brightness)
    return ""


def stage_detail(rec: StageRecord) -> str:
    """This occurrence of the stage in words, from the record's numbers: "page fault at ..."."""
    a, b = (list(rec.args) + [0, 0])[:2]
    key = rec.key
    if key == "TRIGGER":
        return f"{trigger_names().get(a, a)}" + (f" (0x{b:x})" if b else "")
    if key == "ENTRY":
        return _("called from {caller}").format(caller=rec.caller or "?")
    if key == "CPU_CLAIMED":
        return _("panic_cpu = {cpu} (was {old})").format(cpu=a, old=signed(b))
    if key == "SELF_STOP":
        return _("CPU {cpu} finds CPU {other} already panicking").format(cpu=a, other=b)
    if key == "STACK_DUMPED":
        return "dump_stack()" if a else _("skipped: an oops printed the stack")
    if key == "CRASH_KEXEC":
        where = {0: _("before the notifiers"), 1: _("after the notifiers")}.get(b, _("from oops_end, before panic()"))
        return (_("capture kernel loaded ({where})") if a else _("no capture kernel loaded ({where})")).format(where=where)
    if key == "CPUS_STOPPED":
        return _("online CPUs now {mask}").format(mask=f"0x{a:x}")
    if key in ("NOTIFIER_CALL", "NOTIFIER_RET") and rec.notifier is not None:
        return _notifier_detail(rec.notifier, returned=key == "NOTIFIER_RET")
    if key == "NOTIFIERS_DONE":
        return _("{n} notifier(s) called").format(n=a)
    if key == "TIMEOUT":
        t = signed(a)
        what = (_("wait forever") if t == 0 else _("restart now") if t < 0
                else _("restart in {seconds} s").format(seconds=t))
        return _("panic_timeout = {timeout}: {what}").format(timeout=t, what=what)
    if key == "KEXEC":
        return _("purgatory at physical {address}").format(address=f"0x{a:x}")
    if key == "OOPS":
        return _("die counter #{n}").format(n=a)
    if key == "OOPS_END":
        then = (_("oops_end() panics (in interrupt or panic_on_oops)") if b & 1 else
                _("make_task_dead(): kill the task") if a else _("carry on"))
        return _("crash_kexec() first (kexec_should_crash), then {what}").format(what=then) if b & 2 else then
    if key == "STOP_IPI":
        return _("REBOOT_VECTOR IPI to CPUs {cpus}; up to 1 s for them to stop").format(cpus=_cpu_list(a))
    if key == "STOP_NMI":
        return _("CPUs {cpus} still online after 1 s: 'Shutting down cpus with NMI'").format(cpus=_cpu_list(a))
    if key == "KGDB":
        return _("no kernel debugger: nothing to do")
    if key == "SYS_INFO":
        what = _("replay the whole log (0x20)") if b else _("tasks 0x1, memory 0x2, ftrace 0x10")
        return (_("panic_print = {value} ({what})") if a else
                _("panic_print = {value}: nothing to print ({what})")).format(value=f"0x{a:x}", what=what)
    if key == "CONSOLE_UNBLANK":
        return _("console_unblank(): a serial console has nothing to redraw")
    if key == "DEBUG_LOCKS_OFF":
        return _("debug_locks = 0: locks held by stopped CPUs are not reported")
    if key == "RESTART":
        mode = REBOOT_MODES[b] if b < len(REBOOT_MODES) else str(b)
        return _("emergency_restart() (panic_timeout = {timeout}, reboot_mode = {mode})").format(
            timeout=signed(a), mode=mode)
    if key == "LOOP":
        return _("end marker printed; suppress_printk = 1; interrupts on; mdelay + panic_blink forever")
    if key == "KMSG_DUMP":
        return _("{n} dumper(s)").format(n=a)
    if key == "EXCEPTION":
        vector = VECTOR_NAMES.get(a) or _("vector {n}").format(n=a)
        text = _("{exception} at {symbol}").format(exception=vector, symbol=rec.symbol)
        if a == 14 and len(rec.args) > 2:
            text += _(", address {address}, error code {code}").format(address=f"0x{rec.args[2]:x}",
                                                                        code=f"0x{b:x}")
        return text
    if key == "CPU_STOPPED":
        return _(_STOP_HOW.get(b, N_("CPU {cpu} stopped"))).format(cpu=a)
    if key == "TASK_EXIT":
        sig = b & 0x7F
        return (_("pid {pid} killed by signal {signal}").format(pid=a, signal=sig) if sig else
                _("pid {pid} exited, exit code {code}").format(pid=a, code=f"0x{b:x}"))
    if key == "END":
        words = _ENDS.get(rec.end or "")
        return _(words) if words else (rec.end or "")
    return ""


def _notifier_detail(call: NotifierCall, returned: bool) -> str:
    if not returned:
        return _("{name} (priority {priority})").format(name=call.name, priority=call.priority)
    text = _("{name} returned {value}").format(name=call.name, value=notify_name(call.ret))
    did = notifier_effect(call)
    if did:
        text += f"; {did}"
    if call.error:
        text += _(" (Python notifier {error})").format(error=call.error)
    return text


# ---------------------------------------------------------------------------- a run
def stage_graph(records: Sequence[StageRecord]) -> Dict[str, List[Dict[str, str]]]:
    """The stages as a path graph for a view to draw: nodes in order with their titles, an edge per step."""
    nodes = [{"id": str(s.index), "key": s.key, "label": stage_title(s)} for s in records]
    edges = [{"from": str(a.index), "to": str(b.index)} for a, b in zip(records, records[1:])]
    return {"nodes": nodes, "edges": edges}


def _cpu_list(mask: int) -> str:
    """0b101 -> '0,2'"""
    return ",".join(str(i) for i in range(64) if mask >> i & 1) or _("none")
