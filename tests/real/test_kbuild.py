"""The real oops's module: built with the host's kbuild against the booted kernel's headers, its
vermagic checked, a missing headers package named in one line (fast; the build needs the headers)."""
from __future__ import annotations

import os

import pytest

from kpanic_lab.real import kbuild
from kpanic_lab.real.host import RealHostError
from kpanic_lab.real.kbuild import build_module, headers_line, module_vermagic, parse_vermagic

RELEASE = "6.1.0-57-amd64"
HAVE_HEADERS = os.path.isfile(os.path.join(kbuild.headers_dir(RELEASE), "Makefile"))
needs_headers = pytest.mark.skipif(not HAVE_HEADERS, reason=f"no kernel headers: {headers_line(RELEASE)}")


def test_parse_vermagic():
    modinfo = b"description=x\0license=GPL\0vermagic=6.1.0-57-amd64 SMP preempt mod_unload modversions \0"
    assert parse_vermagic(modinfo) == "6.1.0-57-amd64 SMP preempt mod_unload modversions "
    assert parse_vermagic(b"license=GPL\0") == ""


def test_missing_headers_are_named_in_one_line(tmp_path):
    with pytest.raises(RealHostError) as e:
        build_module("0.0.0-nosuch-amd64", cache=str(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith("apt-get install linux-headers-0.0.0-nosuch-amd64")
    assert not list(tmp_path.iterdir())


def test_the_source_ships_with_the_package():
    names = sorted(os.listdir(kbuild.SOURCE_DIR))
    assert names == ["Kbuild", "null_deref.c"]
    assert "null_deref_write" in open(os.path.join(kbuild.SOURCE_DIR, "null_deref.c")).read()


@needs_headers
@pytest.mark.timeout(300)
def test_the_module_is_built_once_for_the_booted_release(tmp_path):
    ko = build_module(RELEASE, cache=str(tmp_path))
    assert os.path.basename(ko) == "null_deref.ko" and RELEASE in os.path.dirname(ko)
    assert module_vermagic(ko).split()[0] == RELEASE
    mtime = os.stat(ko).st_mtime_ns
    assert build_module(RELEASE, cache=str(tmp_path)) == ko and os.stat(ko).st_mtime_ns == mtime   # cached
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(os.path.dirname(ko))]       # no .tmp left


@needs_headers
@pytest.mark.timeout(300)
def test_headers_of_another_kernel_are_refused_by_vermagic(tmp_path, monkeypatch):
    real = kbuild.headers_dir(RELEASE)
    monkeypatch.setattr(kbuild, "headers_dir", lambda release: real)
    with pytest.raises(RealHostError, match=r"vermagic '6\.1\.0-57-amd64 .*' is not the booted kernel's 6\.1\.0-99-amd64"):
        build_module("6.1.0-99-amd64", cache=str(tmp_path))
