"""The crash scenarios: named ways to break the guest kernel, as data.

Each scenario is a kernel command line, shell lines typed after boot to set it
up, and the one line that triggers it.  Nothing here says what happens next:
that is observed from the guest's execution (``session.py``).

>>> sorted(SCENARIOS)[:3]
['bug-on', 'init-exit', 'my-panic']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

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
    Scenario("oops-panic", "the same NULL write with panic_on_oops=1: 'Fatal exception'",
             "echo 1 > /proc/null_deref", cmdline="panic_on_oops=1", setup=("insmod null_deref",)),
    Scenario("oops-in-irq", "a NULL dereference in a timer interrupt: 'Fatal exception in interrupt'",
             "insmod timer_oops", notes=("An oops in interrupt context always panics: there is no task to kill.",)),
    Scenario("bug-on", "BUG_ON(1) in a module: invalid opcode (ud2), 'kernel BUG at file:line!'",
             "insmod bug_on", expect="oops-kill"),
    Scenario("warn", "WARN_ON(1) in a module: a warning with a Call Trace, and the kernel goes on",
             "insmod warn_on", expect="warn"),
    Scenario("warn-panic", "WARN_ON(1) with panic_on_warn=1: the warning becomes a panic",
             "insmod warn_on", cmdline="panic_on_warn=1"),
    Scenario("panic-cpu1", "a kernel thread panics on CPU 1 while another keeps CPU 0 busy: CPU 0 is stopped by NMI",
             "insmod panic_on_cpu1", min_cpus=2,
             notes=("The NMI does not wait for the busy CPU to enable interrupts: NMIs ignore IF.",)),
    Scenario("double-panic", "every CPU calls panic() at once: one wins panic_cpu, the others stop silently",
             "insmod double_panic", min_cpus=2,
             notes=("The losers spin in panic_smp_self_stop() with interrupts off and print nothing.",)),
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
