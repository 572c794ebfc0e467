"""The crash scenarios: named ways to break the guest kernel, as data.

Each scenario is a kernel command line, shell lines typed after boot to set it
up, and the one line that triggers it.  Nothing here says what happens next:
that is observed from the guest's execution (``session.py``).

>>> sorted(SCENARIOS)[:3]
['bug-on', 'double-panic', 'init-exit']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from kpanic_lab.errors import LabError


class UnknownScenario(LabError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str                       # one line for `kpanic-lab scenarios`
    trigger: str                       # the shell line that breaks the kernel
    cmdline: str = ""                  # added to the kernel command line
    setup: Tuple[str, ...] = ()        # shell lines typed before the trigger
    min_cpus: int = 1
    lecture: str = ""                  # where the lecture talks about it, and what it says
    expect: str = "panic"              # what Linux does: panic, oops-kill, warn (for docs and tests)
    notes: Tuple[str, ...] = field(default=())


SCENARIOS: Dict[str, Scenario] = {s.name: s for s in [
    Scenario("sysrq-c", "echo c > /proc/sysrq-trigger: SysRq-c, the standard way to test kdump",
             "echo c > /proc/sysrq-trigger",
             lecture="§5 testing kdump: 'echo c > /proc/sysrq-trigger'",
             notes=("In 6.1 sysrq_handle_crash() calls panic() directly: no oops lines, no NULL write.",)),
    Scenario("my-panic", "insmod my_panic: the lecture's module whose init calls panic()",
             "insmod my_panic", lecture="§2.1 the my_panic module (critical_data_structure is NULL)"),
    Scenario("oops", "a NULL pointer write in a module's /proc write handler; panic_on_oops=0: the task dies",
             "echo 1 > /proc/null_deref", setup=("insmod null_deref",), expect="oops-kill",
             lecture="§1.2 Oops vs Panic: an oops kills the task and the kernel carries on, tainted D"),
    Scenario("oops-panic", "the same NULL write booted with oops=panic (panic_on_oops = 1): 'Fatal exception'",
             "echo 1 > /proc/null_deref", cmdline="oops=panic", setup=("insmod null_deref",),
             notes=("6.1 has no panic_on_oops= boot parameter (it would go to user space as unknown): "
                    "oops=panic or sysctl.kernel.panic_on_oops=1 set it.",)),
    Scenario("oops-limit", "the NULL write a third time with kernel.oops_limit=3: 'Oopsed too often'",
             "echo 1 > /proc/null_deref", cmdline="sysctl.kernel.oops_limit=3",
             setup=("insmod null_deref", "echo 1 > /proc/null_deref", "echo 1 > /proc/null_deref"),
             notes=("Linux 6.1.y counts oopses in make_task_dead(): the kernel.oops_limit-th one panics "
                    "(10000 by default), because every oops may leak a reference the task held.",)),
    Scenario("oops-in-irq", "a NULL dereference in a timer interrupt: 'Fatal exception in interrupt'",
             "insmod timer_oops", notes=("An oops in interrupt context always panics: there is no task to kill.",)),
    Scenario("bug-on", "BUG_ON(1) in a module: invalid opcode (ud2), 'kernel BUG at file:line!'",
             "insmod bug_on", expect="oops-kill"),
    Scenario("warn", "WARN_ON(1) in a module: a warning with a Call Trace, and the kernel goes on",
             "insmod warn_on", expect="warn"),
    Scenario("warn-panic", "WARN_ON(1) with panic_on_warn=1: the warning becomes a panic",
             "insmod warn_on", cmdline="panic_on_warn=1"),
    Scenario("panic-cpu1", "a kernel thread panics on CPU 1 while another keeps CPU 0 busy: the REBOOT_VECTOR IPI "
             "stops CPU 0", "insmod panic_on_cpu1", min_cpus=2,
             notes=("CPU 0 runs with interrupts on, so smp_send_stop()'s first step, a normal IPI, stops it "
                    "(in hard-IRQ context); no NMI is needed.",)),
    Scenario("double-panic", "every CPU calls panic() at once: one wins panic_cpu, the others stop silently",
             "insmod double_panic", min_cpus=2,
             notes=("The losers spin in panic_smp_self_stop() with interrupts off and print nothing; the "
                    "REBOOT_VECTOR IPI cannot reach them, so after 1 s the winner prints 'Shutting down cpus "
                    "with NMI' and stops them with an NMI.",)),
    Scenario("init-exit", "boot with rdinit=/bin/sh (the shell is pid 1) and leave it: 'Attempted to kill init!'",
             "exit 1", cmdline="rdinit=/bin/sh",
             notes=("Killing pid 1 with a signal does nothing (init ignores signals it has no handler for); "
                    "init exiting is what panics.",)),
]}


def get_scenario(name_or_scenario) -> Scenario:
    if isinstance(name_or_scenario, Scenario):
        return name_or_scenario
    try:
        return SCENARIOS[name_or_scenario]
    except KeyError:
        raise UnknownScenario(f"unknown scenario {name_or_scenario!r}; choose one of: "
                              + ", ".join(sorted(SCENARIOS))) from None


# the kernel command line options that set the panic sysctls, and the sysctl each sets (6.1 has no
# panic_on_oops= parameter: it goes to user space, see UNKNOWN_PANIC_PARAMS)
_PANIC_PARAMS = {"panic": "kernel.panic", "oops": "kernel.panic_on_oops",
                 "panic_on_warn": "kernel.panic_on_warn", "sysctl.kernel.panic": "kernel.panic",
                 "sysctl.kernel.panic_on_oops": "kernel.panic_on_oops",
                 "sysctl.kernel.panic_on_warn": "kernel.panic_on_warn"}


# parameters people often write that Linux 6.1 does not have, and what to write instead
UNKNOWN_PANIC_PARAMS = {"panic_on_oops": "oops=panic or sysctl.kernel.panic_on_oops=1"}


def panic_settings(cmdline: str) -> Tuple[Dict[str, str], List[str]]:
    """The panic sysctls a command line sets, and a warning for each contradiction or for a
    parameter 6.1 does not know (pure).

    Linux parses early parameters (``oops=``) first, then the others left to right (the
    ``sysctl.*`` ones late in boot), so a later value wins over ``oops=panic``.

    >>> panic_settings("sysctl.kernel.panic_on_oops=0 oops=panic")[1]
    ['kernel.panic_on_oops is set twice (oops=panic, sysctl.kernel.panic_on_oops=0): sysctl.kernel.panic_on_oops=0 wins (oops= is an early parameter, parsed first)']
    >>> panic_settings("panic_on_oops=1")
    ({}, ['panic_on_oops=1: not a Linux 6.1 boot parameter, passed to user space, no effect; use oops=panic or sysctl.kernel.panic_on_oops=1'])
    """
    values: Dict[str, str] = {}
    origin: Dict[str, str] = {}
    warnings: List[str] = []
    words = cmdline.split()
    early = [w for w in words if w.partition("=")[0] == "oops"]
    for word in early + [w for w in words if w not in early]:
        key, _, val = word.partition("=")
        if key in UNKNOWN_PANIC_PARAMS:
            warnings.append(f"{word}: not a Linux 6.1 boot parameter, passed to user space, no effect; "
                            f"use {UNKNOWN_PANIC_PARAMS[key]}")
            continue
        if key not in _PANIC_PARAMS:
            continue
        sysctl = _PANIC_PARAMS[key]
        val = "1" if key == "oops" and val == "panic" else val
        if sysctl in values and values[sysctl] != val:
            why = " (oops= is an early parameter, parsed first)" if origin[sysctl].startswith("oops=") else \
                " (the last one on the command line)"
            warnings.append(f"{sysctl} is set twice ({origin[sysctl]}, {word}): {word} wins{why}")
        values[sysctl], origin[sysctl] = val, word
    return values, warnings
