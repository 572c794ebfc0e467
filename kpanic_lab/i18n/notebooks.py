"""One source per notebook: the Chinese series is generated from the English notebooks.

``notebooks/NAME.ipynb`` is the source.  ``notebooks/i18n/zh/STEM.yaml`` holds the Chinese prose, one
entry per markdown cell keyed by the cell's ``id``::

    3f1c0a9e-....:
      en: 9b2e4c1d07aa        # sha256 (first 12 hex digits) of the English source it translates
      zh: |-
        ## 创建一台机器
        ...

and ``notebooks/zh/NAME.ipynb`` is written from the two: the same cells, ids, metadata and code as the
English notebook, the markdown cells in Chinese.  So the code cells can never drift apart, and
:func:`problems` names every English cell with no translation (``missing``), every translation
whose English has changed since (``stale``: its ``en`` hash differs) and every translation whose cell
is gone (``orphan``).  ``python -m kpanic_lab.i18n notebooks`` lists them; ``--build`` regenerates.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import nbformat
import yaml

__all__ = ["Series", "Problem", "SERIES", "english_hash", "load_translations", "build", "problems",
           "expected_text", "out_of_date", "write_all", "TranslationError"]

ROOT = Path(__file__).resolve().parents[2]
HASH_DIGITS = 12
PROSE = ("markdown",)


class TranslationError(ValueError):
    """A translation file that cannot be used: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Series:
    """English notebooks in ``source``, their translations in ``translations``, generated into ``output``."""

    lang: str
    source: Path
    translations: Path
    output: Path

    def notebooks(self) -> List[Path]:
        return sorted(self.source.glob("*.ipynb"))

    def translation_file(self, notebook: Path) -> Path:
        return self.translations / f"{notebook.stem}.yaml"

    def output_file(self, notebook: Path) -> Path:
        return self.output / notebook.name


SERIES: Tuple[Series, ...] = (
    Series("zh", ROOT / "notebooks", ROOT / "notebooks" / "i18n" / "zh", ROOT / "notebooks" / "zh"),
    Series("zh", ROOT / "exercises", ROOT / "exercises" / "i18n" / "zh", ROOT / "exercises" / "zh"),
)


@dataclass(frozen=True)
class Problem:
    """One cell out of step: ``kind`` is missing, stale or orphan; ``english`` is the current English."""

    notebook: str
    cell_id: str
    kind: str
    english: str = ""
    english_hash: str = ""


def english_hash(source: str) -> str:
    """The short sha256 that ties a translation to the English text it was made from."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:HASH_DIGITS]


def load_translations(path: Path) -> Dict[str, Dict[str, str]]:
    """``{cell id: {"en": hash, "zh": text}}`` from a translation file ({} if there is none)."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TranslationError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TranslationError(f"{path}: expected a mapping of cell ids, found {type(data).__name__}")
    table: Dict[str, Dict[str, str]] = {}
    for cell_id, entry in data.items():
        if (not isinstance(entry, dict) or set(entry) != {"en", "zh"}
                or not all(isinstance(v, str) for v in entry.values())):
            raise TranslationError(f"{path}: cell {cell_id!r}: expected the keys en (hash) and zh (text)")
        table[str(cell_id)] = {"en": entry["en"], "zh": entry["zh"]}
    return table


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise TranslationError(f"{path}: not a notebook: {exc}") from exc
    # checked before nbformat reads it: nbformat silently invents ids for cells without one
    ids = [cell.get("id") for cell in raw.get("cells", [])]
    if not all(ids) or len(set(ids)) != len(ids):
        raise TranslationError(f"{path}: every cell needs a unique id (nbformat 4.5) to be translated")
    return nbformat.reads(text, as_version=4)


def build(series: Series, notebook: Path) -> Any:
    """The generated notebook for ``notebook``: its cells with the prose translated where a translation exists.

    A missing translation leaves the English prose in place (so the notebook still runs); a stale
    one is still used.  :func:`problems` reports both.
    """
    nb = _read(notebook)
    table = load_translations(series.translation_file(notebook))
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type in PROSE and cell.id in table:
            cell.source = table[cell.id]["zh"]
    out.metadata["kpanic_lab"] = {
        "language": series.lang,
        "generated_from": f"{notebook.relative_to(ROOT)}",
        "translations": f"{series.translation_file(notebook).relative_to(ROOT)}",
        "regenerate": "python -m kpanic_lab.i18n notebooks --build",
    }
    return out


def expected_text(series: Series, notebook: Path) -> str:
    """The generated notebook as it is written to disk (nbformat's own layout, a final newline)."""
    return nbformat.writes(build(series, notebook)) + "\n"


def problems(series: Series) -> Iterator[Problem]:
    """Every missing, stale and orphan translation of the series, notebook by notebook, in cell order."""
    for notebook in series.notebooks():
        nb = _read(notebook)
        table = load_translations(series.translation_file(notebook))
        seen = set()
        for cell in nb.cells:
            if cell.cell_type not in PROSE:
                continue
            seen.add(cell.id)
            digest = english_hash(cell.source)
            entry = table.get(cell.id)
            if entry is None:
                yield Problem(notebook.name, cell.id, "missing", cell.source, digest)
            elif entry["en"] != digest:
                yield Problem(notebook.name, cell.id, "stale", cell.source, digest)
        for cell_id in table:
            if cell_id not in seen:
                yield Problem(notebook.name, cell_id, "orphan")
    for path in sorted(series.translations.glob("*.yaml")) if series.translations.is_dir() else []:
        if not (series.source / f"{path.stem}.ipynb").exists():
            yield Problem(path.name, "", "orphan")


def out_of_date(series: Series) -> List[Path]:
    """Generated notebooks that differ from what :func:`build` makes, and generated ones with no source."""
    stale = [series.output_file(nb) for nb in series.notebooks()
             if not series.output_file(nb).exists()
             or series.output_file(nb).read_text(encoding="utf-8") != expected_text(series, nb)]
    sources = {nb.name for nb in series.notebooks()}
    extra = [p for p in sorted(series.output.glob("*.ipynb")) if p.name not in sources]
    return stale + extra


def write_all(series: Series) -> List[Path]:
    """Regenerate the series' notebooks; returns those whose content changed."""
    series.output.mkdir(parents=True, exist_ok=True)
    changed = []
    for nb in series.notebooks():
        target = series.output_file(nb)
        text = expected_text(series, nb)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            changed.append(target)
    return changed


def find_series(lang: Optional[str] = None) -> List[Series]:
    """The series for ``lang`` (all when None)."""
    return [s for s in SERIES if lang is None or s.lang == lang]
