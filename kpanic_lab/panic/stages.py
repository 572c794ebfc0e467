"""The stages of the panic path: their numbers come from the guest's own
``panic_stages.h`` (the kernel reports each with ``lab_event(LAB_EV_STAGE, ...)``),
their explanations are written here for students.

>>> parse_enum("enum x {\\n A = 1, /* one */\\n B = 2,\\n};", "A")
{'A': 1}
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Optional

from kpanic_lab.guest import KERNEL_SRC

_ENUM_ITEM = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*([0-9]+|[A-Z][A-Z0-9_]*)\s*,?", re.MULTILINE)


def parse_enum(text: str, prefix: str) -> Dict[str, int]:
    """``NAME = value`` items of C enums whose names start with ``prefix`` (pure)."""
    out: Dict[str, int] = {}
    for name, value in _ENUM_ITEM.findall(text):
        if name.startswith(prefix):
            out[name] = int(value) if value.isdigit() else out[value]
    return out


@lru_cache(maxsize=None)
def stage_numbers() -> Dict[str, int]:
    """{"ENTRY": 4, ...}: the guest's PANIC_STAGE_* numbers."""
    text = (KERNEL_SRC / "panic_stages.h").read_text()
    return {k[len("PANIC_STAGE_"):]: v for k, v in parse_enum(text, "PANIC_STAGE_").items()}


@lru_cache(maxsize=None)
def trigger_names() -> Dict[int, str]:
    text = (KERNEL_SRC / "panic_stages.h").read_text()
    return {v: k[len("TRIGGER_"):].lower().replace("_", "-") for k, v in parse_enum(text, "TRIGGER_").items()}


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


def stage_name(number: int) -> str:
    for k, v in stage_numbers().items():
        if v == number:
            return k
    return f"STAGE_{number}"


def stage_info(key: str) -> Optional[StageInfo]:
    return STAGE_INFO.get(key)


def stage_explanation(key: str) -> str:
    """One or two sentences on what Linux does at stage ``key``."""
    info = STAGE_INFO.get(key)
    return info.explain if info else ""
