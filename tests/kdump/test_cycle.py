"""The whole kdump cycle, for real: crashkernel=, kexec -p, the crash, the capture kernel, the dump, the reboot."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump.capture import Targets
from kpanic_lab.kdump.run import KdumpRun

# the tests here run kdump cycles (all but one quick check of a broken kdump.conf)
pytestmark = pytest.mark.slow

ELF_CONF = "path /var/crash\ncore_collector makedumpfile -E -d 31\n"


@pytest.fixture(scope="module")
def cycles(tmp_path_factory):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    cache = {}

    def get(key, scenario="sysrq-c", **kw):
        if key not in cache:
            d = tmp_path_factory.mktemp(key)
            cache[key] = KdumpRun(scenario, crash_dir=d, **kw).run()
        return cache[key]

    return get


@pytest.mark.parametrize("cpus", [2, 4])
def test_sysrq_c_cycle_dumps_and_reboots(cycles, cpus):
    r = cycles(f"sysrq{cpus}", cpus=cpus)
    assert r.kexec_exit == 0 and r.trace.end == "kexec"
    keys = r.trace.keys()
    assert keys.index("CRASH_KEXEC") < keys.index("KEXEC")
    assert "NOTIFIER_CALL" not in keys                       # kdump ran before the notifiers
    assert keys.count("CPU_STOPPED") == cpus - 1
    # the crashed kernel printed nothing after </TASK>; the CPU line says Kdump: loaded
    assert re.search(r"CPU: \d PID: \d+ Comm: \S+ Kdump: loaded Not tainted", r.first_console)
    assert r.first_console.rstrip().endswith("</TASK>")
    # the capture kernel: booted in the reservation with elfcorehdr=, dumped, rebooted
    cap = r.capture_console
    assert re.search(r"Command line: .*irqpoll nr_cpus=1 reset_devices panic=10 elfcorehdr=\d+K", cap)
    assert "smp: Brought up 1 node, 1 CPU" in cap
    assert "kdump: saving vmcore complete" in cap and "reboot: Restarting system" in cap
    # kernel_restart() then x86's native_machine_restart(), as the real 6.1 capture kernel prints them
    lines = [re.sub(r"^\[ *\d+\.\d+\] ", "", l) for l in cap.splitlines()]
    at = lines.index("reboot: Restarting system")
    assert lines[at + 1] == "reboot: machine restart"
    # makedumpfile's progress lines at kdump's message level (7: progress, common, errors), in the
    # order of the real capture kernel's log (shared reference d_kdump.capture.makedumpfile.err)
    steps = [l.split(":")[0].rstrip() for l in lines if re.match(r"^(Checking|Excluding|Copying) .*: \[", l)]
    assert [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s] == \
        ["Checking for memory holes", "Excluding unnecessary pages", "Copying data"]
    assert re.search(r"^Copying data +: \[100\.0 %\] . +eta: 0s$", cap, re.MULTILINE)
    assert lines.index("makedumpfile Completed.") > max(i for i, l in enumerate(lines) if l.startswith("Copying data"))
    assert r.outcome.status == "saved" and r.end == "rebooted"
    assert r.outcome.vmcore.name == "vmcore" and r.outcome.vmcore.is_file()
    assert not list(r.outcome.directory.glob("*incomplete*"))
    assert "Run /init as init process" in r.reboot_console and r.reboot_console.rstrip().endswith("#")


def test_the_dump_holds_the_crash(cycles):
    r = cycles("sysrq2", cpus=2)
    with open_dump(r.outcome.vmcore) as d:
        assert d.format == "kdump" and d.nr_cpus == 2
        assert d.vmcoreinfo.osrelease == "6.1.0-kpanic"
        assert "CRASHTIME" in d.vmcoreinfo
    dmesg = r.outcome.dmesg.read_text()
    assert "Kernel panic - not syncing: sysrq triggered crash" in dmesg
    counts = r.outcome.result.counts
    assert counts["free"] > 0 and counts["user"] > 0 and counts["cache"] > 0


@pytest.mark.parametrize("cpus", [2, 4])
def test_module_oops_with_panic_on_oops_goes_straight_to_kdump(cycles, cpus):
    r = cycles(f"oops{cpus}", "oops-panic", cpus=cpus)
    keys = r.trace.keys()
    assert "OOPS" in keys and keys[-2:] == ["KEXEC", "END"] or keys[-1] == "KEXEC"
    assert "ENTRY" not in keys                               # oops_end -> crash_kexec, no panic() first
    assert r.outcome.status == "saved" and r.trace.keys().count("CPU_STOPPED") == cpus - 1
    assert "BUG: kernel NULL pointer dereference" in r.outcome.dmesg.read_text()


@pytest.mark.skipif(not shutil.which("readelf"), reason="readelf not installed")
def test_readelf_lists_a_prstatus_per_cpu_and_vmcoreinfo(cycles):
    r = cycles("elf4", cpus=4, kdump_conf=ELF_CONF)
    notes = subprocess.run(["readelf", "-n", str(r.outcome.vmcore)], capture_output=True, text=True).stdout
    assert notes.count("NT_PRSTATUS") == 4
    assert "VMCOREINFO" in notes


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb not installed")
def test_gdb_backtrace_goes_through_panic_on_the_crashing_cpu(cycles):
    r = cycles("elf2", cpus=2, kdump_conf=ELF_CONF)
    crash_cpu = r.trace.stages[-1].cpu

    def gdb(*cmds):
        args = [a for c in cmds for a in ("-ex", c)]
        return subprocess.run(["gdb", "-nx", "-batch", *args, str(vmlinux_path()), str(r.outcome.vmcore)],
                              capture_output=True, text=True, timeout=120).stdout

    # a thread per NT_PRSTATUS note, in CPU order; gdb may number them from 3 (with the kernel-text
    # PT_LOAD of an -E -d 31 dump it reads the notes twice), so take the id from "info threads"
    ids = re.findall(r"^[ *]+(\d+) +(?:process|LWP) ", gdb("info threads"), re.M)
    out = gdb(f"thread {ids[crash_cpu]}", "bt")
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", out, re.M)
    assert "panic" in frames and "sysrq_handle_crash" in frames and "do_syscall_64" in frames


def test_without_a_capture_kernel_panic_goes_on(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    run = KdumpRun("sysrq-c", crash_dir=tmp_path, crashkernel="")
    run.load()
    assert "Memory for crashkernel is not reserved" in run.kexec_output
    assert run.kexec_exit == 1                          # kexec-tools' die()
    r = run.run()
    assert r.end == "no-capture" and r.trace.end == "hang" and r.outcome is None and r.kexec_exit == 1


def test_unreachable_ssh_target_takes_the_failure_action(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    conf = "ssh kdump@192.168.122.1\npath /var/crash\ncore_collector makedumpfile -F -l -d 31\nfailure_action halt\n"
    t = Targets(crash_dir=tmp_path / "local", remote_dir=tmp_path / "remote", remote_reachable=False)
    r = KdumpRun("sysrq-c", kdump_conf=conf, targets=t).run()
    assert r.outcome.status == "failed" and r.outcome.action == "halt"
    assert "No route to host" in r.outcome.error
    assert "kdump: Executing failure action halt" in r.capture_console
    assert r.end == "halted" and not (tmp_path / "remote").exists()


def test_a_full_disk_leaves_an_incomplete_vmcore_never_a_whole_one(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    t = Targets(crash_dir=tmp_path, disk_limit=64 * 1024)
    r = KdumpRun("sysrq-c", targets=t, kdump_conf="core_collector makedumpfile -d 1\n").run()
    assert r.outcome.status == "failed" and "No space left on device" in r.outcome.error
    assert "makedumpfile Failed." in r.capture_console
    d = next((tmp_path / "var" / "crash").iterdir())
    assert (d / "vmcore-incomplete").exists() and not (d / "vmcore").exists()
    assert r.end == "rebooted"                                 # failure_action's default: reboot


def test_a_broken_kdump_conf_is_an_error_with_its_line():
    from kpanic_lab.kdump.config import KdumpConfError

    with pytest.raises(KdumpConfError, match="kdump.conf:2: Invalid kdump config option frobnicate"):
        KdumpRun("sysrq-c", kdump_conf="path /var/crash\nfrobnicate yes\n")


def test_a_reservation_too_small_for_the_capture_kernel_fails_visibly(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    r = KdumpRun("sysrq-c", crash_dir=tmp_path, crashkernel="4M").run()
    assert r.trace.end == "kexec"                               # the capture kernel did load and start
    assert "Kernel panic - not syncing: memblock_alloc: Failed to allocate" in r.capture_console
    assert r.outcome is None and r.end == "capture kernel failed, rebooted"   # its panic=10 rebooted it
    assert not (tmp_path / "var").exists()


def test_dump_to_rootfs_saves_locally_when_the_remote_target_fails(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    conf = ("nfs 192.168.122.1:/export/crash\npath /var/crash\ncore_collector makedumpfile -l -d 31\n"
            "failure_action dump_to_rootfs\n")
    t = Targets(crash_dir=tmp_path / "root", remote_dir=tmp_path / "nfs", remote_reachable=False)
    r = KdumpRun("sysrq-c", kdump_conf=conf, targets=t).run()
    assert "Connection timed out" in r.outcome.error
    assert r.outcome.status == "saved" and r.outcome.vmcore.is_relative_to(tmp_path / "root")
    assert "kdump: Executing failure action dump_to_rootfs" in r.capture_console
    assert r.end == "rebooted"


def test_the_console_names_the_guests_paths_not_the_hosts(cycles):
    r = cycles("sysrq2", cpus=2)
    assert "/sysroot/var/crash/127.0.0.1-" in r.capture_console
    assert str(r.outcome.directory) not in r.capture_console
