#!/usr/bin/env python3
"""Write README.md's Binder badge for the repository this clone came from (or any git URL).

    python3 tools/binder_badge.py                       # from `git remote get-url origin`, branch main
    python3 tools/binder_badge.py https://github.com/me/kpanic_lab --branch teaching
    python3 tools/binder_badge.py --print               # print the badge line, change nothing

mybinder.org builds a repository from its URL: ``v2/gh/OWNER/REPO/BRANCH`` for GitHub,
``v2/gl/OWNER%2FREPO/BRANCH`` for GitLab, ``v2/git/<the URL, quoted>/BRANCH`` for any other git host.
The badge opens JupyterLab on ``notebooks/index.ipynb``.  A fork runs this once, in its own clone,
and commits README.md.  Standard library only: it runs before the lab is installed.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BADGE_IMAGE = "https://mybinder.org/badge_logo.svg"
URLPATH = "lab/tree/notebooks/index.ipynb"
# the badge is the README line that starts so; the comment line after it says how it was made
BADGE_START = f"[![Binder]({BADGE_IMAGE})]("
NOTE = "<!-- the Binder badge: written by `python3 tools/binder_badge.py` from `git remote get-url origin` -->"


class BadgeError(ValueError):
    """A URL or README that no badge can be made from; the message says what and where."""


def _owner_repo(path: str, url: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 2:
        raise BadgeError(f"{url}: no OWNER/REPO in it")
    return "/".join(parts[:2] if len(parts) == 2 else parts)


def binder_url(remote: str, branch: str = "main") -> str:
    """The mybinder.org link that builds ``remote`` at ``branch`` and opens the index notebook.

    >>> binder_url("git@github.com:someone/kpanic_lab.git")
    'https://mybinder.org/v2/gh/someone/kpanic_lab/main?urlpath=lab/tree/notebooks/index.ipynb'
    >>> binder_url("https://gitlab.com/group/kpanic_lab", "teach")
    'https://mybinder.org/v2/gl/group%2Fkpanic_lab/teach?urlpath=lab/tree/notebooks/index.ipynb'
    """
    remote = remote.strip()
    if not remote:
        raise BadgeError("the repository URL is empty")
    if not branch or any(c.isspace() for c in branch):
        raise BadgeError(f"--branch {branch!r}: not a branch name")
    m = re.fullmatch(r"(?:ssh://)?[\w.-]+@([\w.-]+)[:/](.+?)(?:\.git)?/?", remote)   # git@host:owner/repo.git
    if m is None:
        m = re.fullmatch(r"(?:https?|git)://(?:[^@/]+@)?([\w.-]+)(?::\d+)?/(.+?)(?:\.git)?/?", remote)
    if m is None:
        raise BadgeError(f"{remote}: not a git URL mybinder.org can fetch (https://HOST/OWNER/REPO or "
                         "git@HOST:OWNER/REPO)")
    host, path = m.group(1).lower(), m.group(2)
    ref = quote(branch, safe="")
    if host == "github.com":
        owner, repo = _owner_repo(path, remote).split("/")[:2]
        spec = f"gh/{owner}/{repo}/{ref}"
    elif host == "gitlab.com":
        spec = f"gl/{quote(_owner_repo(path, remote), safe='')}/{ref}"
    else:
        https = f"https://{host}/{_owner_repo(path, remote)}"
        spec = f"git/{quote(https, safe='')}/{ref}"
    return f"https://mybinder.org/v2/{spec}?urlpath={URLPATH}"


def badge_line(remote: str, branch: str = "main") -> str:
    """The README's badge, in Markdown."""
    return f"{BADGE_START}{binder_url(remote, branch)})"


def with_badge(readme: str, line: str, name: str = "README.md") -> str:
    """``readme`` with its badge line (and the note under it) replaced by ``line``."""
    lines = readme.split("\n")
    at = [i for i, text in enumerate(lines) if text.startswith(BADGE_START)]
    if len(at) != 1:
        raise BadgeError(f"{name}: {len(at)} lines start with {BADGE_START!r}; expected exactly one")
    i = at[0]
    end = i + 2 if i + 1 < len(lines) and lines[i + 1].startswith("<!--") else i + 1
    lines[i:end] = [line, NOTE]
    return "\n".join(lines)


def origin_url(cwd: Path = ROOT) -> str:
    """`git remote get-url origin` in ``cwd``."""
    try:
        r = subprocess.run(["git", "remote", "get-url", "origin"], cwd=cwd, capture_output=True, text=True,
                           timeout=30)
    except FileNotFoundError:
        raise BadgeError("git is not installed: give the repository's URL as an argument") from None
    if r.returncode != 0:
        raise BadgeError(f"{cwd}: this clone has no remote 'origin' "
                         "(git remote add origin URL, or give the URL as an argument)")
    return r.stdout.strip()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="binder_badge.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("url", nargs="?", help="the repository's git URL (default: git remote get-url origin)")
    ap.add_argument("--branch", default="main", help="the branch Binder builds (default: main)")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the README to write (README.md)")
    ap.add_argument("--print", dest="show", action="store_true", help="print the badge line; write nothing")
    a = ap.parse_args(argv)
    try:
        line = badge_line(a.url if a.url is not None else origin_url(), a.branch)
        if a.show:
            print(line)
            return 0
        try:
            text = a.readme.read_text(encoding="utf-8")
        except OSError as e:
            raise BadgeError(f"{a.readme}: {e.strerror}") from None
        new = with_badge(text, line, str(a.readme))
        if new != text:
            a.readme.write_text(new, encoding="utf-8")
        print(f"{a.readme}: {line}")
        return 0
    except BadgeError as e:
        print(f"binder_badge.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
