"""The Chinese series (notebooks/zh/) is generated from the English one and stays in step with it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kpanic_lab.i18n import language_from_env
from kpanic_lab.i18n.notebooks import SERIES, out_of_date, problems

ROOT = Path(__file__).resolve().parents[2]
EN = ROOT / "notebooks"
ZH = EN / "zh"
LINK = re.compile(r"\]\(([^)\s#]+\.ipynb)(?:#[^)]*)?\)")


def _cells(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


# every (English, Chinese) pair: the lecture notebooks and the exercises
PAIRS = [(nb, series.output_file(nb)) for series in SERIES for nb in series.notebooks()]
IDS = [str(en.relative_to(ROOT)) for en, _zh in PAIRS]


def test_every_english_notebook_has_a_chinese_one_and_no_more():
    assert {s.source.name for s in SERIES} == {"notebooks", "exercises"}
    for series in SERIES:
        assert sorted(p.name for p in series.output.glob("*.ipynb")) == sorted(p.name for p in series.notebooks())


@pytest.mark.parametrize("en_path, zh_path", PAIRS, ids=IDS)
def test_same_cells_same_code(en_path, zh_path):
    """The same cells in the same order; code cells identical; prose cells exist in both languages."""
    name = en_path.name
    en, zh = _cells(en_path), _cells(zh_path)
    assert [(c["id"], c["cell_type"]) for c in en] == [(c["id"], c["cell_type"]) for c in zh], \
        f"{name}: the cells differ (run python -m kpanic_lab.i18n notebooks --build)"
    for a, b in zip(en, zh):
        if a["cell_type"] == "code":
            assert a["source"] == b["source"], f"{name}: code cell {a['id']} differs between the languages"
            assert b.get("outputs", []) == [], f"zh/{name}: stored with outputs"


def test_the_generated_notebooks_are_up_to_date():
    for series in SERIES:
        stale = [str(p.relative_to(ROOT)) for p in out_of_date(series)]
        assert not stale, f"out of date: {stale}: run python -m kpanic_lab.i18n notebooks --build"


def test_translation_files_are_well_formed():
    """Every translation file reads, and none names a cell or notebook that does not exist."""
    for series in SERIES:
        orphans = [(p.notebook, p.cell_id) for p in problems(series) if p.kind == "orphan"]
        assert not orphans, f"translations of cells that no longer exist: {orphans}"


@pytest.mark.parametrize("en_path, zh_path", PAIRS, ids=IDS)
def test_links_in_the_chinese_notebooks_open(en_path, zh_path):
    text = "\n".join("".join(c["source"]) for c in _cells(zh_path) if c["cell_type"] == "markdown")
    missing = [link for link in LINK.findall(text) if not (zh_path.parent / link).resolve().is_file()]
    assert not missing, f"{zh_path.relative_to(ROOT)} links to notebooks that do not exist: {missing}"


def test_the_index_switches_language():
    en = "\n".join("".join(c["source"]) for c in _cells(EN / "index.ipynb"))
    zh = "\n".join("".join(c["source"]) for c in _cells(ZH / "index.ipynb"))
    assert "(zh/index.ipynb)" in en and "(glossary.ipynb)" in en
    assert "(../index.ipynb)" in zh and "(glossary.ipynb)" in zh


def test_the_chinese_folders_speak_chinese():
    for series in SERIES:
        assert language_from_env({"LANG": "en_US.UTF-8"}, series.output) == "zh"
        assert language_from_env({"LANG": "zh_CN.UTF-8"}, series.source) == "en"


def test_every_prose_cell_is_translated_and_current():
    """No English prose cell without a translation, and none changed since it was translated.

    When this fails, `python -m kpanic_lab.i18n notebooks` prints each such cell's English and the
    hash to record as `en:` in notebooks/i18n/zh/NAME.yaml; then `--build`.
    """
    for series in SERIES:
        todo = [f"{p.notebook} {p.cell_id} {p.kind}" for p in problems(series) if p.kind != "orphan"]
        assert not todo, f"prose cells to translate: {todo}"


@pytest.mark.parametrize("en_path, zh_path", PAIRS, ids=IDS)
def test_the_chinese_prose_is_chinese(en_path, zh_path):
    han = re.compile(r"[\u4e00-\u9fff]")
    english_only = [c["id"] for c in _cells(zh_path)
                    if c["cell_type"] == "markdown" and not han.search("".join(c["source"]))]
    assert not english_only, f"{zh_path.relative_to(ROOT)}: prose cells with no Chinese in them: {english_only}"


@pytest.mark.slow
def test_a_chinese_exercise_gives_its_feedback_in_chinese():
    """exercises/zh/02 runs (with its solution) in its folder, and the check's verdict is Chinese."""
    import nbclient
    import nbformat

    from kpanic_lab.guest import vmlinux_path

    if not vmlinux_path().is_file():
        pytest.skip("the guest image is not built (make guest)")
    path = ROOT / "exercises" / "zh" / "02_who_stopped_the_cpu.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nbclient.NotebookClient(nb, timeout=240, resources={"metadata": {"path": str(path.parent)}}).execute()
    text = "\n".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells for o in c.get("outputs", []))
    assert "练习 2(是谁让另一个 CPU 停下的):通过。" in text, text[-2000:]
