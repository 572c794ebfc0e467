"""notebooks/index.ipynb links every notebook, in the lecture's order, and every link works."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LINK = re.compile(r"\]\(([^)\s]+\.ipynb)\)")


def index_links() -> List[str]:
    nb = json.loads((NOTEBOOKS / "index.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return LINK.findall(text)


def test_every_link_in_the_index_opens_a_notebook():
    missing = [link for link in index_links() if not (NOTEBOOKS / link).is_file()]
    assert not missing, f"index.ipynb links to notebooks that do not exist: {missing}"


def test_every_notebook_is_in_the_index():
    linked = set(index_links())
    unlisted = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name != "index.ipynb" and p.name not in linked)
    assert not unlisted, f"notebooks missing from index.ipynb: {unlisted}"


def test_the_lecture_notebooks_are_listed_in_order():
    numbered = [link for link in index_links() if re.match(r"\d", link)]
    assert numbered == sorted(numbered) and len(numbered) == len(set(numbered)), numbered
    assert numbered[0].startswith("00_") and any(n.startswith("03b_") for n in numbered)


def test_the_index_has_no_code_to_run():
    nb = json.loads((NOTEBOOKS / "index.ipynb").read_text(encoding="utf-8"))
    assert all(c["cell_type"] == "markdown" for c in nb["cells"])
