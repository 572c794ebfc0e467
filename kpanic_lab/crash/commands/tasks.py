"""Task commands: ``bt``, ``ps``, ``set``, ``vm``."""
from __future__ import annotations

from typing import List, Optional, Tuple

from kpanic_lab.analysis.mm import task_address_space
from kpanic_lab.analysis.stack import backtrace
from kpanic_lab.analysis.tasks import Task, panic_cpu, ps, task_on_cpu
from kpanic_lab.crash.registry import CommandError, Output, command, parse_options, py_lines
from kpanic_lab.crash.render import bt_header, render_backtrace, render_context, render_ps, render_text_symbols
from kpanic_lab.crash.render_mem import render_vm
from kpanic_lab.guest.headers import PAGE_OFFSET
from kpanic_lab.crash.session import CrashSession


def _cpus(s: CrashSession, spec: str) -> List[int]:
    n = s.target.cpu_count
    out: List[int] = []
    for part in spec.split(","):
        try:
            if part == "a" or part == "all":
                out += list(range(n))
            elif "-" in part:
                lo, hi = part.split("-", 1)
                out += list(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise CommandError(f"invalid cpu specification: {spec}") from None
    bad = [c for c in out if not 0 <= c < n]
    if bad:
        raise CommandError(f"invalid cpu number: {bad[0]} (the machine had {n} CPUs)")
    return out


@command("bt", "backtrace: a task's kernel stack, frame by frame",
         "bt [-a | -c cpu(s)] [-f] [-l] [-t] [pid | task]...",
         options=(("-a", "the stack of the task each CPU was running, CPU by CPU"),
                  ("-c cpu", "the stack of the task CPU cpu was running (0, 0-1, 0,1)"),
                  ("-f", "every word of stack data in each frame (find the arguments a function saved)"),
                  ("-l", "the source file and line of each frame"),
                  ("-t", "every text address found on the stack, from where the walk starts"),
                  ("pid | task", "a task by PID (decimal) or task_struct address (hex); default: the context")),
         description="""
Walks the stack by frame pointers from the registers saved for the task: those of
the CPU that ran it (the panicking CPU's, the NMI-stopped ones'), or for a task that
was switched out, the frame __switch_to_asm left.  An entry from user space or an
exception shows the registers it saved (the exception frame); an entry that ran on its
own stack (NMI) goes on where it interrupted: --- <NMI exception stack> ---.""")
def _bt(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("bt", args, "ac:flt")
    full, lines, text = "f" in opts, "l" in opts, "t" in opts
    prog = s.prog
    targets: List[Tuple[Task, Optional[int]]] = []
    if "a" in opts:
        cpus = list(range(s.target.cpu_count))
    elif "c" in opts:
        cpus = [c for spec in opts["c"] for c in _cpus(s, spec)]
    else:
        cpus = []
    if cpus:
        if rest:
            raise CommandError("give either -a/-c or tasks, not both")
        targets = [(task_on_cpu(prog, c), c) for c in cpus]
    elif rest:
        targets = [(s.resolve_task(a), None) for a in rest]
    else:
        targets = [(s.context, None)]
    traces = [backtrace(prog, t, cpu=c) for t, c in targets]
    if text:
        out = "\n\n".join(render_text_symbols(prog, tr) for tr in traces)
        render = "render_text_symbols(prog, trace)"
    else:
        out = "\n\n".join(render_backtrace(prog, tr, full, lines) for tr in traces)
        render = f"render_backtrace(prog, trace, full={full}, lines={lines})"
    func = "render_text_symbols" if text else "render_backtrace"
    if cpus:
        code = py_lines("from kpanic_lab.analysis.stack import backtrace",
                        "from kpanic_lab.analysis.tasks import task_on_cpu",
                        f"from kpanic_lab.crash.render import {func}",
                        "out = []",
                        f"for cpu in {cpus}:",
                        "    trace = backtrace(prog, task_on_cpu(prog, cpu), cpu=cpu)",
                        f"    out.append({render})",
                        'print("\\n\\n".join(out))')
    else:
        code = py_lines("from kpanic_lab.analysis.stack import backtrace",
                        "from kpanic_lab.analysis.tasks import read_task",
                        f"from kpanic_lab.crash.render import {func}",
                        "out = []",
                        f"for task in {[hex(t.address) for t, _ in targets]}:".replace("'", ""),
                        "    trace = backtrace(prog, read_task(prog, task))",
                        f"    out.append({render})",
                        'print("\\n\\n".join(out))')
    return Output(out, code)


@command("ps", "process status: every task, its state and memory use",
         "ps [-k | -u] [pid | task | command]...",
         options=(("-k", "kernel threads only"), ("-u", "user tasks only"),
                  ("pid | task | command", "only these tasks (by PID, task address or name)")),
         description="""
Lists the idle task of each CPU (swapper/N) and every task on init_task's list, by PID.
'>' marks a task some CPU was running.  ST is the state (RU running, IN interruptible,
UN uninterruptible, ZO zombie); VSZ and RSS (KiB) come from the task's page tables: the
lab kernel maps each user page when it is mapped, so the two are equal here.""")
def _ps(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("ps", args, "ku")
    rows = ps(s.prog)
    cond = []
    if "k" in opts:
        rows = [r for r in rows if r.task.is_kernel_thread]
        cond.append("r.task.is_kernel_thread")
    if "u" in opts:
        rows = [r for r in rows if not r.task.is_kernel_thread]
        cond.append("not r.task.is_kernel_thread")
    if rest:
        pids, addrs, names = set(), set(), set()
        for a in rest:
            if a.isdigit() and len(a) < 9:
                pids.add(int(a))
            else:
                try:
                    addrs.add(int(a, 16))
                except ValueError:
                    names.add(a)
        rows = [r for r in rows if r.task.pid in pids or r.task.address in addrs or r.task.comm in names]
        if not rows:
            raise CommandError(f"no such task: {' '.join(rest)}")
        cond.append(f"(r.task.pid in {sorted(pids)} or r.task.address in {sorted(addrs)} "
                    f"or r.task.comm in {sorted(names)})")
    code = py_lines("from kpanic_lab.analysis.tasks import ps",
                    "from kpanic_lab.crash.render import render_ps",
                    "rows = ps(prog)" if not cond else f"rows = [r for r in ps(prog) if {' and '.join(cond)}]",
                    "print(render_ps(rows))")
    return Output(render_ps(rows), code)


@command("set", "the current context: the task bt, vm and rd -u use by default",
         "set [pid | task | -c cpu]",
         options=(("pid | task", "make this task the context"),
                  ("-c cpu", "make the task CPU cpu was running the context")),
         description="""
The session starts in the context of the panicking task (the one panic_cpu ran).
With no argument, set shows the context.""")
def _set(s: CrashSession, args: List[str]) -> Output:
    opts, rest = parse_options("set", args, "c:")
    if "c" in opts:
        cpus = _cpus(s, opts["c"][-1])
        s.set_context(task_on_cpu(s.prog, cpus[0]))
    elif len(rest) == 1:
        s.set_context(s.resolve_task(rest[0]))
    elif rest:
        raise CommandError("only a task context can be set here (set pid | task | -c cpu); "
                           "crash's other settings (radix, scroll, ...) are not kept")
    t = s.context
    cpu = s.cpu_of(t)
    pc = panic_cpu(s.prog)
    is_panic = pc is not None and cpu == pc
    code = py_lines("from kpanic_lab.analysis.tasks import read_task",
                    "from kpanic_lab.crash.render import render_context",
                    f"print(render_context(read_task(prog, {t.address:#x}), cpu={cpu}, panic={is_panic}))")
    return Output(render_context(t, cpu, is_panic), code)


@command("vm", "a task's address space: its mm, page tables and mapped regions",
         "vm [pid | task]",
         options=(("pid | task", "default: the context"),),
         description="""
Shows the task's mm_struct, its page table root (PGD) and size, and its mapped regions.
The lab kernel keeps no vm_area_struct: the regions are runs of mapped pages found in
the page tables, named after the mm_struct fields they cover (code, heap, stack).  On a
real Linux kernel they are its vm_area_structs (6.1's maple tree), each with its file.""")
def _vm(s: CrashSession, args: List[str]) -> Output:
    _, rest = parse_options("vm", args, "")
    if len(rest) > 1:
        raise CommandError("one task at a time")
    t = s.resolve_task(rest[0]) if rest else s.context
    if getattr(s.prog, "linux", False):      # Linux's mm: the VMAs of its maple tree, through drgn
        from kpanic_lab.analysis.linux import address_space
        from kpanic_lab.crash.render_mem import render_linux_vm

        pgd_va, rss, total, vmas = address_space(s.prog, t)  # type: ignore[arg-type]
        text = render_linux_vm(bt_header(t, s.cpu_of(t)), t.mm, pgd_va, rss, total,
                               [(v.address, v.start, v.end, v.flags, v.file) for v in vmas])
        code = py_lines("from kpanic_lab.analysis.linux import address_space",
                        "from kpanic_lab.analysis.tasks import read_task",
                        "from kpanic_lab.crash.render import bt_header",
                        "from kpanic_lab.crash.render_mem import render_linux_vm",
                        f"task = read_task(prog, {t.address:#x})",
                        "pgd, rss, total, vmas = address_space(prog, task)",
                        f"print(render_linux_vm(bt_header(task, {s.cpu_of(t)}), task.mm, pgd, rss, total,",
                        "                      [(v.address, v.start, v.end, v.flags, v.file) for v in vmas]))")
        return Output(text, code)
    pgd, kb, regions = task_address_space(s.prog, t.mm)
    header = bt_header(t, s.cpu_of(t))
    cpu = s.cpu_of(t)
    text = render_vm(header, t.mm, PAGE_OFFSET + pgd if pgd else 0, kb, regions)
    code = py_lines("from kpanic_lab.analysis.mm import task_address_space",
                    "from kpanic_lab.analysis.tasks import read_task",
                    "from kpanic_lab.crash.render import bt_header",
                    "from kpanic_lab.crash.render_mem import render_vm",
                    "from kpanic_lab.guest.headers import PAGE_OFFSET",
                    f"task = read_task(prog, {t.address:#x})",
                    "pgd, kb, regions = task_address_space(prog, task.mm)",
                    f"print(render_vm(bt_header(task, {cpu}), task.mm, PAGE_OFFSET + pgd if pgd else 0, kb, regions))")
    return Output(text, code)
