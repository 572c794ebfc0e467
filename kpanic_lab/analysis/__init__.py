"""The post-mortem analysis layer: read a crashed kernel, live or from a dump.

Helpers return data and never print; the crash-like shell (``kpanic_lab.crash``)
formats what they return.  Everything starts from a :class:`Program` over a target:

>>> from kpanic_lab.analysis import Program, live_target        # doctest: +SKIP
>>> prog = Program(live_target("sysrq-c"))                       # doctest: +SKIP
>>> from kpanic_lab.analysis.stack import backtrace              # doctest: +SKIP
>>> from kpanic_lab.analysis.tasks import find_task              # doctest: +SKIP
>>> [f.function for f in backtrace(prog, find_task(prog, 3)).frames][:3]   # doctest: +SKIP
['mdelay', 'panic', 'sysrq_handle_crash']

Modules, one concept each: ``target`` (memory and registers: a live machine),
``dumptarget`` (a vmcore as a target: ``open_dump_target(vmcore, vmlinux)``),
``program`` (target + symbols + types), ``objects`` (typed views), ``symbols``,
``types``/``typeindex``/``typefmt`` (DWARF types, found by name, in gdb's wording), ``lines`` (source lines),
``disasm`` (capstone), ``printk`` (the log), ``tasks``, ``stack`` (unwinder),
``modules``, ``mm`` (user address spaces), ``kmem`` (struct page summary), ``lists``
(list walks), ``system`` (sys).
"""
from kpanic_lab.analysis.errors import AnalysisError, NotFound, ReadError
from kpanic_lab.analysis.objects import Object, container_of, list_for_each, list_for_each_entry
from kpanic_lab.analysis.program import Program
from kpanic_lab.analysis.regs import RegisterSet
from kpanic_lab.analysis.target import LiveTarget, Target, live_target

__all__ = ["AnalysisError", "NotFound", "ReadError", "Object", "container_of", "list_for_each",
           "list_for_each_entry", "Program", "RegisterSet", "LiveTarget", "Target", "live_target"]
