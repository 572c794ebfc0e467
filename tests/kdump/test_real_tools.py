"""The lab's own dumps in the real tools: makedumpfile, gdb, crash and drgn, each when installed.

Two dumps of one SysRq-c on CPU 1, each written by a whole kdump cycle from the capture kernel's
/proc/vmcore: an ELF one (``makedumpfile -E -d 0``: every PT_LOAD of /proc/vmcore, the kernel
text's included) and a kdump-compressed one (``-c -d 31``).  The guest's VMCOREINFO is the one
Linux 6.1 writes where the guest has the structure, so the real tools read them; where a tool
still stops, the test holds it to the first line it prints, the line docs/real-tools.md gives
with the reason.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump.makedumpfile import dump_dmesg
from kpanic_lab.kdump.run import KdumpRun

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "real-tools.md"
CONFS = {"elf": "path /var/crash\ncore_collector makedumpfile -E -d 0\n",
         "kdump": "path /var/crash\ncore_collector makedumpfile -c -d 31\n"}
RELEASE = "6.1.0-kpanic"
PANIC_LINE = "Kernel panic - not syncing: sysrq triggered crash"
# where crash 8.0.2 stops on the guest's dumps (docs/real-tools.md says why)
CRASH_STOPS = "crash: neither runqueue nor rq structures exist"

REAL_DUMP = Path(__file__).resolve().parents[1] / "data" / "real" / "vmcore.log-pages"     # Debian's 6.1
# keys the guest writes that Debian's 6.1 dump does not have, and why
FLATMEM = {"SYMBOL(mem_map)"}               # 6.1 writes it for FLATMEM kernels; Debian's is SPARSEMEM
PRINTK_LOG = {"SYMBOL(log_buf)", "SYMBOL(log_buf_len)", "SYMBOL(log_first_idx)", "SYMBOL(log_next_idx)",
              "SIZE(printk_log)", "OFFSET(printk_log.ts_nsec)", "OFFSET(printk_log.len)",
              "OFFSET(printk_log.text_len)"}     # Linux 3.5-5.9's log, the guest's; 6.1 has the prb ring
LAB_OWN = {"SYMBOL(init_task)", "SYMBOL(init_mm)", "OFFSET(mm_struct.pgd)", "SYMBOL(max_pfn)", "SYMBOL(pcpu_data)",
           "SYMBOL(panic_cpu)", "OFFSET(page.index)", "NUMBER(PG_reserved)", "NUMBER(PG_head)",
           "SIZE(task_struct)", "OFFSET(task_struct.tasks)", "OFFSET(task_struct.pid)",
           "OFFSET(task_struct.comm)"}          # not in Linux: the lab's own readers use them

needs = {tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed (apt-get install {tool})")
         for tool in ("makedumpfile", "gdb", "crash")}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """(crashing CPU, {"elf": path, "kdump": path}) from two kdump cycles of SysRq-c."""
    if not vmlinux_path().is_file():
        pytest.skip("no guest image (make guest)")
    paths, cpus = {}, set()
    for name, conf in CONFS.items():
        r = KdumpRun("sysrq-c", crash_dir=tmp_path_factory.mktemp(name), kdump_conf=conf).run()
        assert r.outcome is not None and r.outcome.status == "saved", r.capture_console[-2000:]
        paths[name] = r.outcome.vmcore
        cpus.add(r.trace.stages[-1].cpu)
    assert len(cpus) == 1, f"the two runs crashed on different CPUs: {cpus}"
    return cpus.pop(), paths


@pytest.fixture(scope="module")
def crash_vmlinux(tmp_path_factory):
    """The guest's vmlinux at a path with no space: crash 8.0.2 runs `strings` on the NAMELIST's
    path unquoted, so a checkout in a folder whose name has a space ("kpanic lab") reads as two
    files and crash refuses the pair ("vmlinux is not SMP")."""
    link = tmp_path_factory.mktemp("namelist") / "vmlinux"
    link.symlink_to(vmlinux_path())
    return link


def _run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)


def lab_dmesg(path: Path) -> bytes:
    out = io.BytesIO()
    with open_dump(path) as d:
        dump_dmesg(d, out)
    return out.getvalue()


@needs["makedumpfile"]
@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_real_makedumpfile_dump_dmesg_is_the_labs_log(dumps, tmp_path, fmt):
    _, paths = dumps
    out = tmp_path / "dmesg.txt"
    p = _run(["makedumpfile", "--dump-dmesg", paths[fmt], out])
    assert p.returncode == 0, p.stdout + p.stderr
    # 1.7.2 knows kernels up to 6.0 and says so for every 6.1, Debian's own included; it goes on
    assert "The kernel version is not supported." in p.stdout + p.stderr
    real = out.read_bytes()
    assert PANIC_LINE.encode() in real
    assert real == lab_dmesg(paths[fmt])


@needs["makedumpfile"]
def test_real_makedumpfile_filters_the_elf_dump_and_the_lab_reads_the_result(dumps, tmp_path):
    _, paths = dumps
    out = tmp_path / "vmcore.d31"
    p = _run(["makedumpfile", "-c", "-d", "31", paths["elf"], out])
    assert p.returncode == 0 and "makedumpfile Completed." in p.stdout, p.stdout + p.stderr
    with open_dump(out) as d:
        assert (d.format, d.dump_level) == ("kdump", 31)
        assert d.vmcoreinfo.osrelease == RELEASE
        uts = d.vmcoreinfo.symbol("init_uts_ns") + d.vmcoreinfo.offset("uts_namespace", "name")
        assert d.read(uts + 2 * 65, 65).split(b"\0")[0].decode() == RELEASE      # name.release
    assert PANIC_LINE.encode() in lab_dmesg(out)


@needs["gdb"]
def test_gdb_reads_the_kernel_data_from_the_elf_dump_not_from_the_file(dumps):
    # the kernel-text PT_LOAD (p_vaddr in __START_KERNEL_map) is what gdb reads .data through;
    # without it gdb falls back to vmlinux's own .data, where panic_cpu is still -1
    cpu, paths = dumps
    p = _run(["gdb", "-nx", "-batch", "-ex", "print panic_cpu", "-ex", "print init_uts_ns.name.release",
              vmlinux_path(), paths["elf"]])
    values = re.findall(r"^\$\d+ = (.*)$", p.stdout, re.M)
    assert values[:1] == [str(cpu)], p.stdout + p.stderr
    assert values[1].startswith(f'"{RELEASE}"')


@needs["crash"]
@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_real_crash_gets_past_the_vmcoreinfo_and_stops_where_the_doc_says(dumps, crash_vmlinux, tmp_path, fmt):
    _, paths = dumps
    cmds = tmp_path / "cmds"
    cmds.write_text("sys\nlog\nbt\nq\n")
    p = _run(["crash", "-s", crash_vmlinux, paths[fmt], "-i", cmds])
    out = p.stdout + p.stderr
    errors = [ln for ln in out.splitlines() if ln.startswith("crash:")]
    # what the dumps lacked before (a VMCOREINFO without init_uts_ns and page-table roots) is gone
    assert "invalid kernel virtual address" not in out
    assert errors[:1] == [CRASH_STOPS], out
    assert CRASH_STOPS in DOC.read_text()


@needs["crash"]
@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_real_crash_in_minimal_mode_reads_the_log_and_memory(dumps, crash_vmlinux, tmp_path, fmt):
    # --minimal skips the task table, so log, rd, sym and dis run on the guest's dumps
    cpu, paths = dumps
    cmds = tmp_path / "cmds"
    cmds.write_text("log\nrd -32 -d panic_cpu 1\nq\n")
    p = _run(["crash", "-s", "--minimal", crash_vmlinux, paths[fmt], "-i", cmds])
    out = p.stdout
    assert out.startswith("NOTE: minimal mode commands: log, dis, rd, sym"), out[:500] + p.stderr
    log = out.split("\n", 2)[2]
    lab = lab_dmesg(paths[fmt]).decode("latin-1")
    assert log.startswith(lab), out[:2000]
    assert re.search(r"^ffffffff[0-9a-f]{8}: +(-?\d+) *$", log[len(lab):], re.M).group(1) == str(cpu)


@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_drgn_reads_panic_cpu_and_the_release(dumps, fmt):
    drgn = pytest.importorskip("drgn")
    cpu, paths = dumps
    prog = drgn.Program()
    prog.set_core_dump(str(paths[fmt]))
    prog.load_debug_info([str(vmlinux_path())])
    assert prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL
    assert prog["panic_cpu"].value_() == cpu
    assert prog["init_uts_ns"].name.release.string_().decode() == RELEASE


def test_the_guest_vmcoreinfo_is_linux_6_1s_where_the_guest_has_the_structure(dumps):
    _, paths = dumps
    with open_dump(REAL_DUMP) as d:
        real = dict(d.vmcoreinfo)
    with open_dump(paths["kdump"]) as d:
        guest = dict(d.vmcoreinfo)
    linux = [k for k in guest if k in real]
    assert linux == [k for k in real if k in guest], "not in Linux 6.1's order"
    assert {"SYMBOL(init_uts_ns)", "OFFSET(uts_namespace.name)", "SYMBOL(swapper_pg_dir)", "SYMBOL(init_top_pgt)",
            "SYMBOL(_stext)", "NUMBER(phys_base)", "KERNELOFFSET", "NUMBER(pgtable_l5_enabled)"} <= set(linux)
    assert set(guest) - set(real) == FLATMEM | PRINTK_LOG | LAB_OWN
    for k in linux:                             # 6.1's formats: hex addresses (no 0x), decimal numbers
        pattern = r"[0-9a-f]+" if k.startswith("SYMBOL(") or k in ("KERNELOFFSET", "BUILD-ID") else \
            r"-?\d+" if k.split("(")[0] in ("NUMBER", "OFFSET", "SIZE", "LENGTH") or k in ("PAGESIZE", "CRASHTIME") \
            else r".+"
        assert re.fullmatch(pattern, guest[k]) and re.fullmatch(pattern, real[k]), (k, guest[k], real[k])
    assert guest["SYMBOL(swapper_pg_dir)"] == guest["SYMBOL(init_top_pgt)"]      # one table, two names
