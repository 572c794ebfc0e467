"""The use-after-free kind: slab poisoning (slub_debug=P) makes a freed object's pointer 0x6b6b6b6b6b6b6b6b,
and its use a general protection fault that Linux 6.1 reports with the non-canonical address
(arch/x86/kernel/traps.c exc_general_protection / get_kernel_gp_address)."""
from __future__ import annotations

import re

import pytest

from kpanic_lab.exercises.culprit import MODULES, Plan, make_dump

pytestmark = pytest.mark.slow          # every test here boots a machine

# Linux 6.1 (arch/x86/kernel/traps.c): GPFSTR ", %s 0x%lx" with "probably for non-canonical address",
# then die()'s header ": %04lx [#%d]" and the PREEMPT SMP NOPTI config string
GP_LINE = re.compile(r"general protection fault, probably for non-canonical address (0x[0-9a-f]{16}): "
                     r"0000 \[#1\] PREEMPT SMP NOPTI$", re.M)
# the drivers' freed structures: (offset of the array in the struct the poisoned pointer points to,
# size of one element, offset of the field written) - from kernel/modules/x*.c
LAYOUT = {"xsensor": (8, 8, 0), "xringbuf": (0, 16, 0), "xnetq": (0, 16, 12)}


def _boot(cmdline: str, insmod: str = "insmod xsensor") -> str:
    from kpanic_lab.machine import Machine
    m = Machine(cmdline=cmdline)
    m.boot(max_seconds=60)
    m.run_command(insmod, max_seconds=60)
    return m.console_text


def test_insmod_parameters_choose_the_bug_and_the_command_line_stays_silent():
    """insmod NAME param=value (as kmod's insmod) reaches the module; the kernel command line
    then says nothing about the bug (a student reading log's 'Kernel command line' learns nothing)."""
    text = _boot("slub_debug=P", "insmod xsensor bug=uaf slot=2")
    m = GP_LINE.search(text)
    assert m and int(m.group(1), 16) == 0x6b6b6b6b6b6b6b6b + 8 + 2 * 8
    assert text.split("Kernel command line:")[1].splitlines()[0].split() == ["slub_debug=P"]
    # a parameter given to insmod wins over the command line's modname.param= (modprobe's order)
    text = _boot("slub_debug=P xsensor.bug=null", "insmod xsensor bug=uaf slot=0")
    assert GP_LINE.search(text) and "NULL pointer dereference" not in text


def test_without_slab_poisoning_the_stale_pointer_still_works():
    """Without slub_debug=P the freed object still holds the old pointer: no fault (why Linux poisons)."""
    text = _boot("xsensor.bug=uaf xsensor.slot=2")
    assert "xsensor: reader gone, notifying it anyway" in text
    assert "general protection fault" not in text and "Oops" not in text
    assert 'Unknown kernel command line parameters' not in text


def test_with_slab_poisoning_the_use_is_a_general_protection_fault():
    text = _boot("slub_debug=P xsensor.bug=uaf xsensor.slot=2")
    assert 'Unknown kernel command line parameters' not in text     # slub_debug is the kernel's own
    m = GP_LINE.search(text)
    assert m, text[-3000:]
    base, size, field = LAYOUT["xsensor"]
    assert int(m.group(1), 16) == 0x6b6b6b6b6b6b6b6b + base + 2 * size + field
    assert re.search(r"RIP: 0010:sensor_notify_reader\S*\+0x[0-9a-f]+/0x[0-9a-f]+ \[xsensor\]", text)
    assert "CR2: 0000000000000000" in text                       # a #GP, not a page fault


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_driver_has_a_uaf_read_back_from_its_dump(module, tmp_path):
    slot = 5
    truth = make_dump(Plan("u", module, "uaf", slot), tmp_path)
    assert (truth.function, truth.module, truth.kind) == (MODULES[module]["uaf"], module, "uaf")
    from kpanic_lab.crash.session import CrashSession
    s = CrashSession.open(tmp_path / "vmcore")
    m = GP_LINE.search(s.run("log"))
    assert m
    base, size, field = LAYOUT[module]
    assert int(m.group(1), 16) == 0x6b6b6b6b6b6b6b6b + base + slot * size + field
    bt = s.run("bt")
    assert "do_general_protection" in bt and f"[exception RIP: {MODULES[module]['uaf']}" in bt


def test_a_dump_from_the_booted_snapshot_is_the_dump_a_boot_makes(tmp_path):
    """make_dump starts each student from this process's booted kernel (kexec -p done): the
    machine is deterministic, so the vmcore is byte for byte the one a fresh boot makes."""
    plan = Plan("snap", "xringbuf", "warn", 2)
    a = make_dump(plan, tmp_path / "reuse", reuse=True)
    b = make_dump(plan, tmp_path / "boot", reuse=False)
    assert a == b
    assert (tmp_path / "reuse" / "vmcore").read_bytes() == (tmp_path / "boot" / "vmcore").read_bytes()


def test_starting_from_a_snapshot_is_refused_when_it_cannot_be_the_same_state(tmp_path):
    from kpanic_lab.kdump.run import KdumpRun, KdumpRunError
    from kpanic_lab.panic.session import ScenarioError
    from kpanic_lab.exercises.culprit import KDUMP_CONF
    k = KdumpRun(Plan("e", "xnetq", "bug", 0).scenario(), crash_dir=tmp_path, kdump_conf=KDUMP_CONF)
    with pytest.raises(KdumpRunError, match=r"^saved\(\): load\(\) first, and before run\(\)$"):
        k.saved()
    loaded = k.load().saved()
    delta = k.session.machine.snapshot(base=loaded.snapshot)      # a delta is not a whole machine
    other = KdumpRun(Plan("f", "xnetq", "bug", 1).scenario(), crash_dir=tmp_path / "f", kdump_conf=KDUMP_CONF)
    with pytest.raises(ScenarioError, match="a full snapshot of a booted machine"):
        other.session.start(delta)
