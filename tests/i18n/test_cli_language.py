"""The CLI's own messages follow the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG); the guest's console does not."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", "KPANIC_LAB_LANGUAGE")}
    return subprocess.run([sys.executable, "-m", "kpanic_lab", *args], cwd=tmp_path, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env", [{"LANG": "zh_CN.UTF-8"}, {"LC_ALL": "zh_CN.UTF-8"},
                                 {"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"},
                                 {"KPANIC_LAB_LANGUAGE": "zh"}])
def test_help_in_chinese(tmp_path, env):
    out = _cli(tmp_path, "--help", **env)
    assert out.returncode == 0, out.stderr
    assert "列出各个崩溃场景" in out.stdout and "list the crash scenarios" not in out.stdout


def test_help_in_english_by_default(tmp_path):
    for env in ({}, {"LANG": "C.UTF-8"}, {"LANG": "zh_CN.UTF-8", "KPANIC_LAB_LANGUAGE": "en"}):
        out = _cli(tmp_path, "--help", **env)
        assert "list the crash scenarios, one line each" in out.stdout, env


def test_a_usage_error_in_chinese(tmp_path):
    out = _cli(tmp_path, "makedumpfile", "-E", "-c", "a", "b", LANG="zh_CN.UTF-8")
    assert out.returncode == 2
    assert out.stderr.strip() == "kpanic-lab: -E 不能与 -c、-l、-p 或 -z 同时使用:ELF 转储不压缩"


def test_a_bad_language_variable_is_one_line(tmp_path):
    out = _cli(tmp_path, "scenarios", KPANIC_LAB_LANGUAGE="fr")
    assert out.returncode == 2
    assert out.stderr == "kpanic-lab: KPANIC_LAB_LANGUAGE='fr': not one of en, zh\n"
