"""The pieces of the real run that need no QEMU: the cpio writer, ldd and modules.dep parsing, the
init script, the host check's message (these run in the default suite)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kpanic_lab.real import host as hostmod
from kpanic_lab.real.host import RealHostError, apt_line, find_host
from kpanic_lab.real.initramfs import (OOPS_SURVIVED, SCENARIOS, CpioEntry, RealHostError as InitError, init_script,
                                      module_order, newc, parse_ldd)
from kpanic_lab.real.run import RealRunError, run_real, split_console


def _entries(archive: bytes):
    """(name, mode, data) of a newc archive, read back field by field (the format's own rules)."""
    out, pos = [], 0
    while True:
        assert archive[pos:pos + 6] == b"070701", pos
        f = [int(archive[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize, mode = f[11], f[6], f[1]
        name = archive[pos + 110: pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        data = archive[pos: pos + filesize]
        pos = (pos + filesize + 3) & ~3
        if name == "TRAILER!!!":
            return out, pos
        out.append((name, mode, data))


def test_newc_round_trip():
    archive = newc([CpioEntry("bin", b"", 0o040755), CpioEntry("bin/sh", b"abc", 0o100755),
                    CpioEntry("init", b"x" * 5, 0o100755)])
    entries, end = _entries(archive)
    assert entries == [("bin", 0o040755, b""), ("bin/sh", 0o100755, b"abc"), ("init", 0o100755, b"xxxxx")]
    assert len(archive) % 512 == 0 and not archive[end:].strip(b"\0")


def test_newc_agrees_with_cpio_when_installed(tmp_path):
    import shutil
    if not shutil.which("cpio"):
        pytest.skip("cpio is not installed (apt-get install cpio)")
    archive = newc([CpioEntry("d", b"", 0o040755), CpioEntry("d/f", b"hello\n", 0o100644)])
    r = subprocess.run(["cpio", "-t"], input=archive, capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout.decode().split() == ["d", "d/f"]


def test_parse_ldd_keeps_paths_and_the_loader():
    text = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
            "\tliblzo2.so.2 => /lib/x86_64-linux-gnu/liblzo2.so.2 (0x00007f60)\n"
            "\t/lib64/ld-linux-x86-64.so.2 (0x00007f60)\n")
    assert parse_ldd(text) == ["/lib/x86_64-linux-gnu/liblzo2.so.2", "/lib64/ld-linux-x86-64.so.2"]


def test_parse_ldd_names_a_missing_library():
    with pytest.raises(InitError, match="libxenctrl.so.4.17 => not found"):
        parse_ldd("\tlibxenctrl.so.4.17 => not found\n")


def test_module_order_puts_dependencies_first():
    # Debian 6.1's modules.dep lines for the virtio block stack
    dep = ("kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
           "kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio_ring.ko:\n"
           "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n")
    order = [m.rsplit("/", 1)[1] for m in module_order(dep, ["virtio_pci", "virtio_blk"])]
    assert order == ["virtio_ring.ko", "virtio.ko", "virtio_pci_modern_dev.ko", "virtio_pci_legacy_dev.ko",
                     "virtio_pci.ko", "virtio_blk.ko"]
    for i, m in enumerate(order):      # each module after everything it needs
        needs = {"virtio.ko": ["virtio_ring.ko"], "virtio_blk.ko": ["virtio.ko", "virtio_ring.ko"]}.get(m, [])
        assert all(order.index(n) < i for n in needs)
    with pytest.raises(InitError, match="no module 'nvme'"):
        module_order(dep, ["nvme"])


def test_init_script_does_the_cycle():
    text = init_script("sysrq-c", "-l -d 31", ["virtio_ring.ko", "virtio_blk.ko"]).decode()
    assert text.startswith("#!/bin/busybox sh\n")
    assert "insmod \"$m\"" in text and "/lib/modules/virtio_ring.ko /lib/modules/virtio_blk.ko" in text
    assert "kexec -p /vmlinuz --initrd=/capture.img" in text
    assert "makedumpfile -F -l -d 31 /proc/vmcore > /dev/vda" in text
    assert "echo c > /proc/sysrq-trigger" in text
    assert "@" not in text                       # every placeholder filled in
    with pytest.raises(InitError, match="unknown trigger 'bug-on'"):
        init_script("bug-on", "-l -d 31", [])


def test_the_oops_is_written_by_a_child_shell_and_the_module_loaded_first():
    """The oops kills the task that wrote: a child ``sh`` (comm "sh", as in the lab), never init."""
    text = init_script("oops", "-l -d 31", ["virtio_ring.ko"]).decode()
    tail = text[text.index('say "first kernel up"'):]
    insmod = tail.index("insmod /lib/modules/null_deref.ko")
    write = tail.index('sh -c "echo 1 > /proc/null_deref"')
    assert insmod < tail.index('say "triggering: echo 1 > /proc/null_deref"') < write
    assert "\necho 1 > /proc/null_deref" not in tail          # init itself never writes
    assert tail.rstrip().endswith(f'say "{OOPS_SURVIVED}"\npoweroff -f')    # the run ends by itself
    panic = init_script("oops-panic", "-l -d 31", []).decode()
    assert 'sh -c "echo 1 > /proc/null_deref"' in panic and OOPS_SURVIVED not in panic
    assert panic.rstrip().endswith('fail "still running after the trigger"')
    assert "@" not in text and "@" not in panic


def test_the_real_scenarios_match_the_labs():
    """Same names, same write, same boot option as kpanic_lab.panic.scenarios (oops=panic, not a
    panic_on_oops= parameter, which 6.1 does not have)."""
    from kpanic_lab.panic.scenarios import SCENARIOS as LAB

    for name in ("oops", "oops-panic"):
        assert SCENARIOS[name].write == LAB[name].trigger
        assert SCENARIOS[name].cmdline == LAB[name].cmdline
    assert SCENARIOS["oops"].survives and not SCENARIOS["oops-panic"].survives
    assert LAB["oops"].expect == "oops-kill"


def test_the_oops_needs_the_built_module(tmp_path):
    from kpanic_lab.real.host import HostTools
    from kpanic_lab.real.initramfs import build_images

    host = HostTools(*(["/nonexistent"] * 7))
    with pytest.raises(InitError, match="oops-panic scenario needs null_deref.ko"):
        build_images(host, "oops-panic", "-l -d 31", None)


def test_split_console_at_the_capture_kernels_banner():
    first = "[    0.000000] Linux version 6.1.0-57-amd64 (x)\nLAB: up\n[   10.797799] Kernel panic - not syncing\n"
    capture = "[    0.000000] Linux version 6.1.0-57-amd64 (x)\n[    0.000000] Command line: elfcorehdr=1K\n"
    assert split_console(first + capture) == (first, capture)
    assert split_console(first) == (first, "")


def test_missing_packages_are_named_in_one_line(monkeypatch):
    monkeypatch.setattr(hostmod, "PACKAGES", hostmod.PACKAGES + (("no-such-pkg", "no-such-command-kpanic"),))
    with pytest.raises(RealHostError) as e:
        find_host()
    msg = str(e.value)
    assert "\n" not in msg and "no-such-pkg (no no-such-command-kpanic)" in msg
    assert msg.endswith(apt_line([p for p in hostmod.missing_packages()]))


def test_cli_says_what_to_install(tmp_path, monkeypatch):
    """With an empty PATH and no /boot kernel found, the CLI exits 1 with the apt line, no traceback."""
    code = ("import sys; from kpanic_lab.real import host; "
            "host.PACKAGES = (('qemu-system-x86', 'no-qemu-here-kpanic'),) + host.PACKAGES[1:]; "
            "from kpanic_lab.cli import main; sys.exit(main(['real', 'run', 'sysrq-c', '--kdump', "
            f"'--crash-dir', {str(tmp_path / 'c')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "qemu-system-x86" in lines[0]
    assert "apt-get install -y --no-install-recommends qemu-system-x86" in lines[0]


@pytest.mark.parametrize("kw, words", [
    ({"trigger": "bug-on"}, "unknown scenario 'bug-on'"),
    ({"compress": "snappy"}, "compression 'snappy'"),
    ({"memory": "lots"}, "memory='lots'"),
    ({"memory": "256M", "crashkernel": "160M"}, "crashkernel=160M with memory=256M"),
    ({"dump_level": 32}, "dump level 32"),
])
def test_bad_options_are_refused_before_anything_runs(tmp_path, kw, words):
    kw.setdefault("trigger", "sysrq-c")
    with pytest.raises(RealRunError, match=words.replace("(", r"\(")):
        run_real(crash_dir=str(tmp_path / "c"), **kw)
    assert not (tmp_path / "c").exists()
