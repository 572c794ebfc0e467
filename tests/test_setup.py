"""Issue 9, items 3, 9 and 10: the README's set-up works as written, and says what the lab does."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def setup_commands() -> list:
    """The commands of the README's set-up block (the indented lines under '## Set up'), comments cut."""
    section = README.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    return [re.sub(r"\s+#.*$", "", line[4:]) for line in section.splitlines() if re.match(r"^    \S", line)]


def test_the_readme_set_up_installs_activates_and_tests():
    cmds = setup_commands()
    assert cmds[0].startswith("sudo apt-get install -y python3-venv make")
    assert "make install" in cmds and "source .venv/bin/activate" in cmds
    assert cmds.index("make install") < cmds.index("source .venv/bin/activate")
    assert cmds[-1] == "make test"
    # .ci/run runs these very lines in a fresh clone (it reads them from README.md)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "## Set up" in ci and "make test" in ci.strip().splitlines()[-1]


def test_python_m_kpanic_lab_without_the_lab_says_how_to_set_up():
    """A Python without the lab's requirements (here: -S, no site-packages) gets one line, no traceback."""
    r = subprocess.run([sys.executable, "-S", "-m", "kpanic_lab", "scenarios"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("kpanic-lab: this Python (") and "make install" in lines[0]
    assert "source .venv/bin/activate" in lines[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed (apt-get install make)")
def test_jupyter_ip_and_port_are_documented_and_used():
    assert "JUPYTER_IP" in README and "JUPYTER_PORT" in README
    r = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab", "JUPYTER_IP=0.0.0.0", "JUPYTER_PORT=8123"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--ip=0.0.0.0 --port=8123" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert "--ip=127.0.0.1 --port=8888" in r.stdout


def test_dump_level_bits_read_the_same_in_the_readme_the_cli_and_makedumpfiles_manual():
    # makedumpfile.8 (makedumpfile 1.7), "Base level": 1 pages filled with zero, 2 the non-private cache
    # pages, 4 all cache pages, 8 the user process data pages, 16 the free pages
    words = "1 zero pages, 2 non-private cache pages, 4 all cache pages, 8 user process data pages, 16 free pages"
    from kpanic_lab.dumplevel import dump_level_legend
    assert dump_level_legend() == words                 # the one table the CLI, views and errors use
    assert words in " ".join(README.split())
    r = subprocess.run([sys.executable, "-m", "kpanic_lab", "makedumpfile", "-h"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "KPANIC_LAB_LANGUAGE": "en"})
    helptext = " ".join(r.stdout.split())
    assert words in helptext
    assert "private cache" not in helptext.replace("non-private", "")


def test_the_binder_badge_is_the_scripts_line():
    bb = _tool("binder_badge")
    line = next(l for l in README.splitlines() if l.startswith(bb.BADGE_START))
    m = re.fullmatch(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((\S+)\)", line)
    assert m and m.group(1).startswith("https://mybinder.org/v2/") and m.group(1).endswith(bb.URLPATH)
    assert "tools/binder_badge.py" in README


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/someone/kpanic_lab.git", "v2/gh/someone/kpanic_lab/main"),
    ("git@github.com:someone/kpanic_lab.git", "v2/gh/someone/kpanic_lab/main"),
    ("ssh://git@github.com/someone/kpanic_lab", "v2/gh/someone/kpanic_lab/main"),
    ("https://gitlab.com/course/sub/kpanic_lab", "v2/gl/course%2Fsub%2Fkpanic_lab/main"),
    ("https://git.example.edu/os/kpanic_lab.git", "v2/git/https%3A%2F%2Fgit.example.edu%2Fos%2Fkpanic_lab/main"),
])
def test_binder_badge_from_a_remote(url, expected):
    assert _tool("binder_badge").binder_url(url) == f"https://mybinder.org/{expected}?urlpath=lab/tree/notebooks/index.ipynb"


def test_binder_badge_writes_the_readme_line_of_a_fork(tmp_path):
    bb = _tool("binder_badge")
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert bb.main(["https://github.com/a-fork/kpanic_lab", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "https://mybinder.org/v2/gh/a-fork/kpanic_lab/main?" in text
    assert text.replace(bb.badge_line("https://github.com/a-fork/kpanic_lab"), "") == \
        README.replace(next(l for l in README.splitlines() if l.startswith(bb.BADGE_START)), "")


@pytest.mark.parametrize("args, words", [
    (["/some/local/path"], "not a git URL"),
    (["https://github.com/x/y", "--branch", ""], "--branch ''"),
])
def test_binder_badge_refuses_in_one_line(args, words, capsys, tmp_path):
    bb = _tool("binder_badge")
    assert bb.main([*args, "--readme", str(tmp_path / "README.md")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and words in err[0]
