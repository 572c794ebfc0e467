"""The unwinder: bt of the panicking CPU against the guest's own printed Call Trace,
frame by frame, for every scenario that panics; prologues; sleeping tasks."""
from __future__ import annotations

import pytest

from kpanic_lab.analysis.stack import all_cpu_backtraces, backtrace, caller_slot
from kpanic_lab.analysis.tasks import all_tasks, panic_cpu, task_on_cpu
from tests.analysis.conftest import PANIC_SCENARIOS, console_call_trace, require_image

pytestmark = pytest.mark.slow          # every test here boots a machine


def _frames_as_console(prog, bt):
    out = []
    for f in bt.frames:
        out.append(f"{f.function}+{f.offset:#x}")
        if f.exception:
            r = f.exception.regs
            if r.user_mode:
                out.append(f"{r.cs:04x}:0x{r.rip:x}")
            else:
                loc = prog.symbols.lookup(r.rip)
                out.append(f"{r.cs:04x}:{loc.symbol.name}+{loc.offset:#x}")
    return out


@pytest.mark.parametrize("scenario", PANIC_SCENARIOS)
def test_panic_cpu_bt_matches_the_console_call_trace(live, scenario):
    prog, target = live(scenario)
    cpu = panic_cpu(prog)
    assert cpu is not None
    bt = backtrace(prog, task_on_cpu(prog, cpu), cpu=cpu)
    assert bt.error is None
    ours = _frames_as_console(prog, bt)
    console = console_call_trace(target.machine.console_lines)
    unsure = set(console_call_trace(target.machine.console_lines, unreliable=True))
    assert console, "the guest printed no Call Trace"
    # dump_stack() inside panic() prints from its own frame; the panic CPU now sits in
    # panic()'s final loop: compare what lies below panic()
    if any(c.startswith("panic+") for c in console):
        console = console[[i for i, c in enumerate(console) if c.startswith("panic+")][0] + 1:]
    assert console[0] in ours, f"\nours:    {ours}\nconsole: {console}"
    tail = ours[ours.index(console[0]):]
    # the guest prints a frame it could not prove (an interrupted prologue) with '?':
    # ours may have it as a real frame, but then the guest must have printed it too
    assert [o for o in tail if o in console or o not in unsure] == console, \
        f"\nours:    {ours}\nconsole: {console}\n'?':     {sorted(unsure)}"


def test_the_idle_cpu_was_stopped_by_the_reboot_ipi(live):
    # x86 smp_send_stop(): the REBOOT_VECTOR IPI reaches an idle CPU (IF=1) in sysvec_reboot
    prog, _ = live("sysrq-c")
    other = all_cpu_backtraces(prog)[0]
    names = other.functions
    assert names[:3] == ["stop_this_cpu", "sysvec_reboot", "asm_sysvec_reboot"]
    assert other.frames[2].exception is not None
    assert "exc_nmi" not in names
    assert names[-1] == "startup_64"


def test_a_cpu_spinning_with_interrupts_off_was_stopped_by_the_nmi_fallback(live):
    prog, _ = live("double-panic")
    bts = all_cpu_backtraces(prog)
    loser = next(bt for bt in bts.values() if "panic_smp_self_stop" in bt.functions)
    names = loser.functions
    assert names[:5] == ["stop_this_cpu", "smp_stop_nmi_callback", "exc_nmi", "asm_exc_nmi", "panic_smp_self_stop"]
    assert loser.frames[3].exception is not None
    switched = [f for f in loser.frames if f.stack_switch]
    assert switched and switched[0].stack_switch == "NMI exception stack"
    assert switched[0].pc == loser.frames[3].exception.regs.rip


def test_every_task_unwinds_to_its_first_frame(live):
    prog, _ = live("sysrq-c")
    for t in all_tasks(prog):
        bt = backtrace(prog, t)
        assert bt.error is None and bt.frames, t
        last = bt.frames[-1]
        assert last.function in ("startup_64", "secondary_startup_64", "ret_from_fork",
                                 "entry_SYSCALL_64_after_hwframe"), (t.comm, bt.functions)


def test_sleeping_tasks_start_in_schedule(live):
    prog, _ = live("sysrq-c")
    init = [t for t in all_tasks(prog) if t.pid == 1][0]
    bt = backtrace(prog, init)
    assert bt.cpu is None
    assert bt.functions[:2] == ["__schedule", "schedule"]
    assert bt.frames[-1].exception.regs.user_mode


def test_prologue_before_the_frame_pointer_is_set(prog):
    """A PC between `push %rbp` and `mov %rsp,%rbp` (gcc schedules other work between
    them) finds the return address just above the saved RBP."""
    from kpanic_lab.analysis.disasm import disassemble_function

    start = prog.address_of("sysrq_handle_crash")
    code = disassemble_function(prog, start)
    mov = next(i.address for i in code if str(i) == "mov    %rsp,%rbp")
    sp = prog.address_of("init_stack") + 0x100
    assert caller_slot(prog, start, sp, 0x1234) == (sp, 0x1234)            # nothing pushed yet
    assert caller_slot(prog, start + 1, sp, 0x1234) == (sp + 8, prog.read_u64(sp))
    assert caller_slot(prog, mov, sp, 0x1234) == (sp + 8, prog.read_u64(sp))
    after = next(i.address for i in code if i.address > mov)
    assert caller_slot(prog, after, sp, sp + 0x40) == (sp + 0x48, prog.read_u64(sp + 0x40))


def test_on_a_kdump_vmcore_bt_starts_where_crash_8_does(tmp_path):
    """crash 8 on the lab's dump, as on real 6.1 (shared reference f_crash.kdump-vmcore.txt):
    the panic task from machine_kexec, __crash_kexec, panic; the other CPU from
    crash_nmi_callback on its NMI stack, then the interrupted idle loop."""
    require_image()
    from kpanic_lab.analysis import Program
    from kpanic_lab.analysis.dumptarget import open_dump_target
    from kpanic_lab.kdump.run import KdumpRun

    r = KdumpRun("sysrq-c", crash_dir=tmp_path).run()
    prog = Program(open_dump_target(r.outcome.vmcore))
    bts = all_cpu_backtraces(prog)
    crashed = next(c for c, bt in bts.items() if "panic" in bt.functions)
    assert bts[crashed].functions[:4] == ["machine_kexec", "__crash_kexec", "panic", "sysrq_handle_crash"]
    other = bts[1 - crashed]
    assert other.functions[:4] == ["crash_nmi_callback", "do_nmi", "exc_nmi", "asm_exc_nmi"]
    assert other.frames[3].exception is not None
    assert other.frames[4].stack_switch == "NMI exception stack"
    # gdb's view, from the saved registers, is still there
    saved = backtrace(prog, task_on_cpu(prog, 1 - crashed), cpu=1 - crashed, crash_start=False)
    assert saved.frames[0].pc == prog.target.cpu_registers(1 - crashed).rip
