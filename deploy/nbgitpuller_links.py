"""nbgitpuller links for the lab's notebooks: one click pulls the repository into a student's home
on the hub (merging, never overwriting the student's own changes) and opens the notebook.

    python deploy/nbgitpuller_links.py https://hub.example.org https://github.com/OWNER/kpanic_lab

prints a Markdown list, one link per notebook in notebooks/ and notebooks/zh/, in the lecture's
order.  exercises/ is left out on purpose: those notebooks are nbgrader's source, with the
solutions; students get the released versions (see deploy/README.md).  nbgitpuller must be installed in the students' environment (the
hub image from binder/ has it; deploy/tljh/install.sh installs it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "notebooks/zh")   # never exercises/: nbgrader source, solutions inside
TARGET = "kpanic_lab"          # the folder nbgitpuller clones into, in each student's home


def notebooks(root: Path = ROOT) -> List[str]:
    """The notebooks students open, relative to the repository, sorted within each folder."""
    found = []
    for folder in FOLDERS:
        d = root / folder
        if d.is_dir():
            found += sorted(p.relative_to(root).as_posix() for p in d.glob("*.ipynb")
                            if ".ipynb_checkpoints" not in p.parts)
    return found


def link(hub: str, repo: str, notebook: str, branch: str = "main", app: str = "lab") -> str:
    """The nbgitpuller link that opens ``notebook`` (a path in the repository) on ``hub``."""
    for name, url in (("hub", hub), ("repo", repo)):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{name} {url!r}: not an http(s) URL")
    query = urlencode({"repo": repo, "branch": branch, "targetpath": TARGET,
                       "urlpath": f"{app}/tree/{TARGET}/{notebook}"})
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def links(hub: str, repo: str, branch: str = "main", root: Path = ROOT) -> List[Tuple[str, str]]:
    """(notebook, link) for every notebook."""
    return [(nb, link(hub, repo, nb, branch)) for nb in notebooks(root)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hub", help="the hub's URL, e.g. https://hub.example.org")
    ap.add_argument("repo", help="the repository's git URL, e.g. https://github.com/OWNER/kpanic_lab")
    ap.add_argument("--branch", default="main")
    a = ap.parse_args(argv)
    try:
        rows = links(a.hub, a.repo, a.branch)
    except ValueError as e:
        print(f"nbgitpuller_links: {e}", file=sys.stderr)
        return 2
    for nb, url in rows:
        print(f"- [{nb}]({url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
