"""Issue 10, item 1: no kdump.conf writes outside the crash dir, for every dump target.

The guest's paths resolve as on a real machine: ``..`` stops at the guest's ``/``, and a
symbolic link on the dump disk points somewhere on that disk, never at the host's files.
"""
from __future__ import annotations

import os

import pytest

from kpanic_lab.guest import vmlinux_path
from kpanic_lab.kdump.capture import TargetError, Targets, guest_path, resolve_in_root
from kpanic_lab.kdump.config import KdumpConfError, parse_kdump_conf

TRAVERSAL = "/../../../../tmp/evil"


def files_under(d):
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


@pytest.mark.parametrize("path,want", [
    (TRAVERSAL, "/tmp/evil"), ("/var/../../crash", "/crash"), ("//var//crash/.", "/var/crash"),
    ("/", "/"), ("/a/b/../../../..", "/"),
])
def test_dotdot_cannot_climb_above_the_guests_root(path, want):
    assert guest_path(path) == want


def test_a_nul_byte_is_refused():
    with pytest.raises(TargetError, match="NUL"):
        guest_path("/var/cr\0ash")
    with pytest.raises(KdumpConfError, match=r"kdump.conf:2: holds a NUL byte"):
        parse_kdump_conf(b"# ok\npath /var/cr\0ash\n")


def test_symlinks_resolve_inside_the_disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    os.symlink("/tmp", root / "var")                # absolute: the guest's /tmp
    os.symlink("../../../../..", root / "up")         # relative, climbing
    os.symlink("loop", root / "loop")
    assert resolve_in_root(root, "/var/crash") == root.resolve() / "tmp" / "crash"
    assert resolve_in_root(root, "/up/etc/passwd") == root.resolve() / "etc" / "passwd"
    with pytest.raises(TargetError, match="Too many levels of symbolic links"):
        resolve_in_root(root, "/loop/x")


def run(conf, targets):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    from kpanic_lab.kdump.run import KdumpRun

    return KdumpRun("sysrq-c", kdump_conf=conf, targets=targets).run()


@pytest.mark.slow
def test_local_path_traversal_and_a_planted_symlink_stay_in_the_crash_dir(tmp_path):
    crash = tmp_path / "crash"
    outside = tmp_path / "outside"
    crash.mkdir()
    outside.mkdir()
    os.symlink("../outside", crash / "tmp")         # the host's folder, planted on the disk
    r = run(f"path {TRAVERSAL}\ncore_collector makedumpfile -l -d 31\n", Targets(crash_dir=crash))
    assert r.outcome.status == "saved"
    assert r.outcome.vmcore.resolve().is_relative_to(crash.resolve())
    assert files_under(outside) == [] and (crash / "outside" / "evil").is_dir() and not os.path.exists("/tmp/evil/127.0.0.1-2026-11-26-08:00:00")
    assert "kdump: saving to /sysroot/tmp/evil/127.0.0.1-" in r.capture_console


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ssh", "nfs"])
def test_remote_targets_stay_in_the_export(tmp_path, kind):
    target = "kdump@192.168.122.1" if kind == "ssh" else "192.168.122.1:/export"
    flat = " -F" if kind == "ssh" else ""
    conf = f"{kind} {target}\npath {TRAVERSAL}\ncore_collector makedumpfile{flat} -l -d 31\n"
    t = Targets(crash_dir=tmp_path / "local", remote_dir=tmp_path / "remote")
    r = run(conf, t)
    assert r.outcome.status == "saved"
    assert r.outcome.vmcore.resolve().is_relative_to((tmp_path / "remote").resolve())
    assert all(p.startswith("tmp/evil/") for p in files_under(tmp_path / "remote"))


@pytest.mark.slow
def test_a_raw_target_must_be_a_dev_node(tmp_path):
    t = Targets(crash_dir=tmp_path, raw_image=tmp_path / "vdb.img")
    r = run("raw /dev/../../etc/passwd\ncore_collector makedumpfile -F -l -d 31\nfailure_action halt\n", t)
    assert r.outcome.status == "failed" and "not a block device" in r.outcome.error
    assert files_under(tmp_path) == []


@pytest.mark.slow
def test_dump_to_rootfs_after_a_failed_remote_stays_in_the_crash_dir(tmp_path):
    conf = (f"nfs 192.168.122.1:/export\npath {TRAVERSAL}\ncore_collector makedumpfile -l -d 31\n"
            "failure_action dump_to_rootfs\n")
    t = Targets(crash_dir=tmp_path / "root", remote_dir=tmp_path / "nfs", remote_reachable=False)
    r = run(conf, t)
    assert r.outcome.status == "saved"
    assert r.outcome.vmcore.resolve().is_relative_to((tmp_path / "root").resolve())
    assert all(p.startswith("tmp/evil/") for p in files_under(tmp_path / "root"))
