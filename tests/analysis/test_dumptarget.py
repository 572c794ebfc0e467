"""A vmcore as a target: every format answers as the live machine does; a vmlinux that
did not write the dump is refused; pages makedumpfile dropped read as 'page excluded'."""
from __future__ import annotations

import pytest

from kpanic_lab.analysis import Program, ReadError
from kpanic_lab.analysis import kmem, modules, printk, stack, tasks
from kpanic_lab.analysis.dumptarget import MismatchError, open_dump_target
from tests.analysis.conftest import console_kernel_lines


@pytest.fixture(scope="module")
def dumps(live, tmp_path_factory):
    """The oops-panic machine, and its vmcore as ELF, kdump-compressed (-d 31 -z) and flattened."""
    from kpanic_lab.formats import open_dump
    from tests.support.livecore import write_vmcore_from_machine
    from kpanic_lab.kdump.makedumpfile import makedumpfile

    prog, target = live("oops-panic")
    d = tmp_path_factory.mktemp("vmcores")
    elf = d / "vmcore.elf"
    with open(elf, "wb") as f:
        write_vmcore_from_machine(target.machine, f, crashtime=1764140000)
    with open_dump(elf) as src:
        with open(d / "vmcore.kdump", "wb") as f:
            makedumpfile(src, f, dump_level=31, compression="zstd")
        with open(d / "vmcore.flat", "wb") as f:
            makedumpfile(src, f, dump_level=31, compression="zlib", flatten=True)
    return prog, target, {k: d / f"vmcore.{k}" for k in ("elf", "kdump", "flat")}


def _answers(prog):
    bts = stack.all_cpu_backtraces(prog)
    return {
        "bt": {c: [(f.sp, f.pc, f.function, f.exception and f.exception.regs) for f in b.frames]
               for c, b in bts.items()},
        "log": printk.log_lines(printk.kernel_log(prog)),
        "ps": [(r.task, r.active, r.state, r.rss_kb) for r in tasks.ps(prog)],
        "mod": modules.loaded_modules(prog),
        "panic_cpu": tasks.panic_cpu(prog),
    }


@pytest.mark.parametrize("fmt", ["elf", "kdump", "flat"])
def test_every_format_answers_as_the_live_machine(dumps, fmt):
    live_prog, target, paths = dumps
    t = open_dump_target(paths[fmt])
    try:
        got = _answers(Program(t))
        want = _answers(live_prog)
        assert got == want
        assert got["log"] == console_kernel_lines(target.machine.console_lines)
        assert [m.name for m in got["mod"]] == ["null_deref"]
        assert t.partial == (fmt != "elf")
        assert t.date == 1764140000.0
    finally:
        t.close()


def test_kmem_of_the_elf_dump(dumps):
    live_prog, _, paths = dumps
    t = open_dump_target(paths["elf"])
    try:
        assert kmem.memory_info(Program(t)) == kmem.memory_info(live_prog)
    finally:
        t.close()


def test_excluded_user_page_says_so(dumps):
    live_prog, _, paths = dumps
    init = tasks.find_task(live_prog, 1)
    pgd = live_prog.read_u64(init.mm + live_prog.offsetof("mm_struct", "pgd"))
    user_text = 0x400000
    assert live_prog.target.read_user(pgd, user_text, 4)         # the live machine has it
    t = open_dump_target(paths["kdump"])
    try:
        with pytest.raises(ReadError, match="page excluded.*-d 31"):
            t.read_user(pgd, user_text, 4)
    finally:
        t.close()


def test_a_vmlinux_that_did_not_write_the_dump_is_refused(live, tmp_path):
    from tests.support.livecore import vmcoreinfo_from_image, write_vmcore_from_machine

    prog, target = live("sysrq-c")
    info = vmcoreinfo_from_image(prog.image).replace(f"BUILD-ID={prog.image.build_id}", "BUILD-ID=" + "ab" * 20)
    with open(tmp_path / "other", "wb") as f:
        write_vmcore_from_machine(target.machine, f, vmcoreinfo=info)
    with pytest.raises(MismatchError, match="do not match.*build-id abab"):
        open_dump_target(tmp_path / "other")
    info = vmcoreinfo_from_image(prog.image, osrelease="5.14.0-other")
    info = "\n".join(l for l in info.splitlines() if not l.startswith("BUILD-ID="))
    with open(tmp_path / "other2", "wb") as f:
        write_vmcore_from_machine(target.machine, f, vmcoreinfo=info)
    with pytest.raises(MismatchError, match="5.14.0-other"):
        open_dump_target(tmp_path / "other2")


def test_a_kaslr_kernels_dump_is_refused_not_misread(live, tmp_path):
    """KERNELOFFSET != 0 (a real kernel with KASLR): symbols would be read that far too low."""
    from tests.support.livecore import vmcoreinfo_from_image, write_vmcore_from_machine

    prog, target = live("sysrq-c")
    info = vmcoreinfo_from_image(prog.image)
    assert "KERNELOFFSET=0\n" in info
    with open(tmp_path / "kaslr", "wb") as f:
        write_vmcore_from_machine(target.machine, f, vmcoreinfo=info.replace("KERNELOFFSET=0\n", "KERNELOFFSET=30000000\n"))
    with pytest.raises(MismatchError, match=r"KASLR \(KERNELOFFSET=30000000\).*nokaslr"):
        open_dump_target(tmp_path / "kaslr")
