"""The glossary (中英术语对照) covers every technical term of the lecture's headings, in both series."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
HEADINGS = yaml.safe_load((Path(__file__).parent / "lecture_headings.yaml").read_text(encoding="utf-8"))
# Latin-script words of the headings that are not technical terms
NOT_TERMS = {"vs"}


def _tables(path: Path) -> List[List[str]]:
    """The rows of every markdown table in a notebook, as lists of cells (header and rule rows left out)."""
    nb = nbformat.read(str(path), as_version=4)
    rows = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = [ln for ln in cell.source.splitlines() if ln.startswith("|")]
        for ln in lines[2:]:           # after the header and the |---| rule
            rows.append([c.strip() for c in ln.strip("|").split("|")])
    return rows


def _lecture_terms(path: Path) -> List[str]:
    """The first column's terms ("预留内存 / 内存预留 (x)" -> ["预留内存", "内存预留", "预留内存 / 内存预留 (x)"])."""
    terms = []
    for row in _tables(path):
        first = row[0]
        terms.append(first)
        for part in first.split(" / "):
            terms.append(re.sub(r"\s*\(.*\)$", "", part).replace("`", "").strip())
    return terms


def test_every_heading_term_is_in_the_heading_and_in_the_glossary():
    assert len(HEADINGS) >= 26
    for series in (ROOT / "notebooks" / "glossary.ipynb", ROOT / "notebooks" / "zh" / "glossary.ipynb"):
        terms = _lecture_terms(series)
        for h in HEADINGS:
            assert h["terms"], f"{h['heading']}: no terms listed"
            for term in h["terms"]:
                assert term in h["heading"], f"{term!r} does not occur in the heading {h['heading']!r}"
                assert term.strip("“”") in terms or term in terms, \
                    f"{series.relative_to(ROOT)}: no glossary row for {term!r} (heading {h['heading']!r})"


def test_every_latin_word_of_a_heading_is_in_the_glossary():
    text = "\n".join(" | ".join(row) for row in _tables(ROOT / "notebooks" / "glossary.ipynb")).lower()
    for h in HEADINGS:
        heading = re.sub(r"^\d+(\.\d+)?\.?\s*", "", h["heading"])
        for word in re.findall(r"[A-Za-z_/][A-Za-z0-9_./]*(?:\(\))?", heading):
            word = word.strip("./")
            if word.lower() in NOT_TERMS or not word:
                continue
            assert re.search(r"(?<![a-z0-9_])" + re.escape(word.lower()) + r"(?![a-z0-9_])", text), \
                f"the glossary has no row naming {word!r} (heading {h['heading']!r})"


def test_the_issue_s_terms_are_there():
    """The terms the issue names: 转储内核 / capture kernel, 预留内存 / crashkernel reservation, ..."""
    rows = {r[0]: r for r in _tables(ROOT / "notebooks" / "glossary.ipynb")}
    want = {"转储内核": "capture kernel", "预留内存": "crashkernel reservation", "通知链": "notifier chain",
            "中断标志": "IF", "恐慌": "panic"}
    for zh, en in want.items():
        row = next((r for first, r in rows.items() if zh in first), None)
        assert row is not None and en in row[1], (zh, en, row)


def test_both_series_have_the_same_terms_in_the_same_order():
    en = [r[0] for r in _tables(ROOT / "notebooks" / "glossary.ipynb")]
    zh = [r[0] for r in _tables(ROOT / "notebooks" / "zh" / "glossary.ipynb")]
    assert en == zh and len(en) > 60
    assert all(len(r) == 4 for r in _tables(ROOT / "notebooks" / "zh" / "glossary.ipynb"))
