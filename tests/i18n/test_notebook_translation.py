"""The translation mechanism of the notebooks, on small notebooks built here (kpanic_lab.i18n.notebooks)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

import kpanic_lab.i18n.notebooks as nbi18n
from kpanic_lab.i18n.notebooks import Series, TranslationError, english_hash


@pytest.fixture
def series(tmp_path: Path, monkeypatch) -> Series:
    monkeypatch.setattr(nbi18n, "ROOT", tmp_path)
    src = tmp_path / "nb"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title", id="t"),
                nbformat.v4.new_code_cell("x = 1", id="c"),
                nbformat.v4.new_markdown_cell("Some prose.", id="p")]
    nbformat.write(nb, str(src / "a.ipynb"))
    return Series("zh", src, src / "i18n" / "zh", src / "zh")


def _translate(series: Series, table: dict) -> None:
    series.translations.mkdir(parents=True, exist_ok=True)
    (series.translations / "a.yaml").write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")


def test_missing_stale_and_orphan_cells_are_named(series):
    kinds = {(p.cell_id, p.kind) for p in nbi18n.problems(series)}
    assert kinds == {("t", "missing"), ("p", "missing")}
    _translate(series, {"t": {"en": english_hash("# Title"), "zh": "# 标题"},
                        "p": {"en": english_hash("Old prose."), "zh": "旧的文字。"},
                        "gone": {"en": "0" * 12, "zh": "没了"}})
    problems = list(nbi18n.problems(series))
    assert {(p.cell_id, p.kind) for p in problems} == {("p", "stale"), ("gone", "orphan")}
    stale = next(p for p in problems if p.kind == "stale")
    assert stale.english == "Some prose." and stale.english_hash == english_hash("Some prose.")


def test_the_generated_notebook_keeps_the_code_and_translates_the_prose(series):
    _translate(series, {"t": {"en": english_hash("# Title"), "zh": "# 标题"},
                        "p": {"en": english_hash("Some prose."), "zh": "一些文字。"}})
    assert list(nbi18n.problems(series)) == []
    assert [p.name for p in nbi18n.out_of_date(series)] == ["a.ipynb"]
    assert [p.name for p in nbi18n.write_all(series)] == ["a.ipynb"]
    assert nbi18n.out_of_date(series) == [] and nbi18n.write_all(series) == []
    zh = nbformat.read(str(series.output / "a.ipynb"), as_version=4)
    assert [(c.id, c.cell_type, c.source) for c in zh.cells] == [
        ("t", "markdown", "# 标题"), ("c", "code", "x = 1"), ("p", "markdown", "一些文字。")]
    assert zh.metadata["kpanic_lab"]["language"] == "zh"
    # a hand edit of the generated notebook (its code, say) shows up as out of date
    zh.cells[1].source = "x = 2"
    nbformat.write(zh, str(series.output / "a.ipynb"))
    assert [p.name for p in nbi18n.out_of_date(series)] == ["a.ipynb"]


def test_a_generated_notebook_without_a_source_is_out_of_date(series):
    nbi18n.write_all(series)
    (series.output / "b.ipynb").write_text((series.output / "a.ipynb").read_text(encoding="utf-8"), encoding="utf-8")
    assert [p.name for p in nbi18n.out_of_date(series)] == ["b.ipynb"]


@pytest.mark.parametrize("text, message", [
    ("t: [1, 2]\n", "cell 't': expected the keys en"),
    ("t: {en: abc}\n", "cell 't': expected the keys en"),
    ("- a\n", "expected a mapping of cell ids"),
    ("t: {en: [\n", "not valid YAML"),
])
def test_a_bad_translation_file_is_named(series, text, message):
    series.translations.mkdir(parents=True)
    (series.translations / "a.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TranslationError, match=r"a\.yaml: .*" if message == "not valid YAML" else message):
        list(nbi18n.problems(series))


def test_cells_without_ids_cannot_be_translated(series):
    path = series.source / "a.ipynb"
    text = path.read_text(encoding="utf-8").replace('"id": "p"', '"id": "t"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TranslationError, match="unique id"):
        list(nbi18n.problems(series))
