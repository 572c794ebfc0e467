"""Whole-kernel commands: ``sys``, ``log`` (alias ``dmesg``), ``mod``, ``kmem -i``."""
from __future__ import annotations

from typing import List

from kpanic_lab.analysis.kmem import memory_info
from kpanic_lab.analysis.modules import loaded_modules
from kpanic_lab.analysis.printk import kernel_log
from kpanic_lab.analysis.system import system_info
from kpanic_lab.crash.registry import CommandError, Output, command, parse_options, py_lines
from kpanic_lab.crash.render import render_kmem_info, render_log, render_modules, render_sys
from kpanic_lab.crash.session import CrashSession


@command("sys", "system data: kernel, dump file, CPUs, uptime, release, and the panic message",
         "sys",
         description="""
The block crash shows when it starts.  PANIC is the first "Kernel panic - not syncing"
line of the log (or, with no panic, the first line of the oops).  The lab machine has no
real-time clock, so DATE is known only for a dump (VMCOREINFO's CRASHTIME).""")
def _sys(s: CrashSession, args: List[str]) -> Output:
    _, rest = parse_options("sys", args, "")
    if rest:
        raise CommandError(f"only plain sys is available here (not: sys {' '.join(rest)})")
    code = py_lines("from kpanic_lab.analysis.system import system_info",
                    "from kpanic_lab.crash.render import render_sys",
                    "print(render_sys(system_info(prog)))")
    return Output(render_sys(system_info(s.prog)), code)


@command("log", "the kernel's message buffer, as the console printed it",
         "log [-m]", aliases=("dmesg",),
         options=(("-m", "each message behind its log level: <0> emergency .. <7> debug"),),
         description="""
Reads the printk ring buffer (the guest's 3.5-5.9 record format: struct printk_log records
in log_buf from log_first_idx; 6.1's lockless prb ring on a real dump) and prints every
record as the console did, including the ones the console left out for their level.  A
corrupted record ends the log: what was read is shown, then one line saying why.""")
def _log(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("log", args, "m")
    if rest:
        raise CommandError(f"unexpected argument: {rest[0]}")
    levels = "m" in opts
    code = py_lines("from kpanic_lab.analysis.printk import kernel_log",
                    "from kpanic_lab.crash.render import render_log",
                    f"print(render_log(kernel_log(prog), levels={levels}))")
    records = kernel_log(s.prog)
    text = render_log(records, levels)
    if records.error:       # what could be read, then why the rest cannot
        text = (text + "\n" if text else "") + f"log: {records.error}"
    return Output(text, code)


@command("mod", "the loaded modules: struct module, name, base, size",
         "mod",
         description="""
Walks the kernel's modules list.  The lab's modules are linked into vmlinux, so their
symbols and line numbers are there already: crash's 'mod -s' (load a module's debug
info) has nothing to add.""")
def _mod(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("mod", args, "s:S")
    if opts and getattr(s.prog, "linux", False):
        raise CommandError("mod -s/-S (a module's own debug info) is not available on this kernel: "
                           "the list is read, module symbols are not loaded")
    if opts:
        raise CommandError("the lab's modules are linked into vmlinux: their symbols are loaded already")
    if rest:
        raise CommandError(f"unexpected argument: {rest[0]}")
    code = py_lines("from kpanic_lab.analysis.modules import loaded_modules",
                    "from kpanic_lab.crash.render import render_modules",
                    "print(render_modules(loaded_modules(prog)))")
    return Output(render_modules(loaded_modules(s.prog)), code)


@command("kmem", "kernel memory: kmem -i, what the pages hold, from struct page",
         "kmem -i",
         options=(("-i", "pages by use: free, used, shared, buffers, cached, slab"),),
         description="""
Classifies every page frame by its struct page in mem_map[] (free buddy blocks, page
cache with and without buffer heads, slab), as makedumpfile does to filter a dump.
The lab kernel has no huge pages and no swap.""")
def _kmem(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("kmem", args, "ifsSpv")
    if set(opts) != {"i"} or rest:
        raise CommandError("only kmem -i is available in the lab (the memory summary from struct page)")
    if getattr(s.prog, "linux", False):
        raise CommandError("kmem -i is not available on this kernel (it reads the lab guest's struct page flags)")
    code = py_lines("from kpanic_lab.analysis.kmem import memory_info",
                    "from kpanic_lab.crash.render import render_kmem_info",
                    "print(render_kmem_info(memory_info(prog)))")
    return Output(render_kmem_info(memory_info(s.prog)), code)
