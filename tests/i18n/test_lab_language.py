"""`make lab LAB_LANG=zh` opens the Chinese series with JupyterLab's menus in Chinese; the language pack is there."""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "lab", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_make_lab_zh_opens_the_chinese_index_in_a_chinese_jupyterlab():
    out = _dry_run("LAB_LANG=zh")
    assert out.returncode == 0, out.stderr
    assert "--LabApp.default_url=/lab/tree/zh/index.ipynb" in out.stdout
    assert "JUPYTERLAB_SETTINGS_DIR=" in out.stdout and '{"locale": "zh_CN"}' in out.stdout


def test_make_lab_in_english_is_unchanged():
    out = _dry_run()
    assert out.returncode == 0, out.stderr
    assert "default_url" not in out.stdout and "JUPYTERLAB_SETTINGS_DIR" not in out.stdout


def test_an_unknown_lab_language_is_named():
    out = _dry_run("LAB_LANG=fr")
    assert out.returncode != 0
    assert "LAB_LANG=fr: the lab speaks en or zh" in out.stderr


def test_the_jupyterlab_chinese_language_pack_is_installed():
    assert importlib.metadata.version("jupyterlab-language-pack-zh-cn")
    binder = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert "jupyterlab-language-pack-zh-cn==" in binder
