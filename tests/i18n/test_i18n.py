"""kpanic_lab.i18n: choosing the language, reading the catalogue, and the catalogue kept in step with the code."""
from __future__ import annotations

from pathlib import Path

import pytest

import kpanic_lab.i18n as i18n
from kpanic_lab.i18n import _, N_, language, language_from_env, set_language, translate, using
from kpanic_lab.i18n.catalogue_tools import compare, extract_messages, load, reports


@pytest.fixture(autouse=True)
def _reset_language():
    set_language(None)
    yield
    set_language(None)


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
    ({"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
    # gettext: LANGUAGE's list wins over LANG, but is ignored under the C locale
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}, "zh"),
    ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "fr:en"}, "en"),
    ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "fr"}, "en"),
    ({"LANG": "C", "LANGUAGE": "zh_CN"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "en"),
    ({"KPANIC_LAB_LANGUAGE": "zh", "LANG": "en_US.UTF-8"}, "zh"),
    ({"KPANIC_LAB_LANGUAGE": "en", "LANG": "zh_CN.UTF-8"}, "en"),
])
def test_language_from_the_environment(environ, expected):
    assert language_from_env(environ) == expected


def test_a_bad_language_variable_is_named():
    with pytest.raises(ValueError, match="KPANIC_LAB_LANGUAGE='fr'"):
        language_from_env({"KPANIC_LAB_LANGUAGE": "fr"})


def test_the_marker_file_beats_the_locale(tmp_path: Path):
    (tmp_path / i18n.MARKER_FILE).write_text("zh\n", encoding="utf-8")
    assert language_from_env({"LANG": "en_US.UTF-8"}, tmp_path) == "zh"
    assert language_from_env({"LANG": "en_US.UTF-8", "KPANIC_LAB_LANGUAGE": "en"}, tmp_path) == "en"
    (tmp_path / i18n.MARKER_FILE).write_text("klingon", encoding="utf-8")
    with pytest.raises(ValueError, match="klingon"):
        language_from_env({}, tmp_path)


def test_the_notebook_folders_carry_their_language():
    root = Path(__file__).resolve().parents[2]
    assert language_from_env({"LANG": "zh_CN.UTF-8"}, root / "notebooks") == "en"
    assert language_from_env({"LANG": "en_US.UTF-8"}, root / "notebooks" / "zh") == "zh"


def test_set_language_and_using(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.delenv("KPANIC_LAB_LANGUAGE", raising=False)
    assert language() == "en"
    with using("zh"):
        assert language() == "zh"
        with using("en"):
            assert language() == "en"
        assert language() == "zh"
    assert language() == "en"
    set_language("zh")
    assert language() == "zh"
    with pytest.raises(ValueError, match="'de'"):
        set_language("de")


def test_lookup_falls_back_to_english():
    assert N_("not a message of the lab") == "not a message of the lab"
    assert translate("not a message of the lab", "zh") == "not a message of the lab"
    zh = i18n.catalogue("zh")
    assert zh, "the Chinese catalogue is empty"
    english, chinese = next(iter(zh.items()))
    assert translate(english, "zh") == chinese != english
    assert translate(english, "en") == english
    with using("zh"):
        assert _(english) == chinese


def _write_po(path: Path, msgid: str, msgstr: str, fuzzy: bool = False) -> None:
    flag = "#, fuzzy\n" if fuzzy else ""
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                    f'{flag}msgid "{msgid}"\nmsgstr "{msgstr}"\n', encoding="utf-8")


def test_a_translation_that_breaks_a_placeholder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "CATALOGUE_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        _write_po(tmp_path / "zh.po", "{n} CPUs", "{m} 个 CPU")
        with pytest.raises(i18n.CatalogueError, match=r"zh.po:\d+: the translation of '\{n\} CPUs'"):
            i18n.catalogue("zh")
        i18n.catalogue.cache_clear()
        _write_po(tmp_path / "zh.po", "{n} CPUs", "{n} 个 CPU", fuzzy=True)
        assert i18n.catalogue("zh") == {}  # fuzzy entries are not used
        i18n.catalogue.cache_clear()
        _write_po(tmp_path / "zh.po", "{n} CPUs", "{n} 个 CPU")
        assert translate("{n} CPUs", "zh").format(n=2) == "2 个 CPU"
    finally:
        i18n.catalogue.cache_clear()


def test_extraction_finds_marked_strings(tmp_path):
    (tmp_path / "m.py").write_text('from x import _, N_\nA = N_("alpha")\ndef f():\n    return _("beta {x}")\n'
                                   'g = "not marked"\n', encoding="utf-8")
    messages = extract_messages(tmp_path)
    assert set(messages) == {"alpha", "beta {x}"}
    report = compare(messages, load("zh"), "zh")
    assert report.missing == ["alpha", "beta {x}"] and not report.ok


def test_the_chinese_catalogue_matches_the_code():
    """Every _()/N_() string of the package is translated, without breaking a placeholder.

    When this fails: `python -m kpanic_lab.i18n update`, then fill in the empty msgstr in
    kpanic_lab/i18n/zh.po.
    """
    for report in reports():
        assert report.ok, (f"{report.lang}.po: missing {report.missing}, untranslated {report.untranslated}, "
                           f"obsolete {report.obsolete}, placeholders {report.bad_placeholders}")


def _functions_that_shadow_underscore(source: str) -> list:
    """Functions that call _() but also bind ``_`` as a local (``x, _ = ...``, ``for _ in``): the call fails."""
    import ast

    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        calls = binds = False
        stack = list(fn.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue           # their own scopes
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                calls = True
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                binds = True
            stack.extend(ast.iter_child_nodes(node))
        if calls and binds:
            found.append(fn.name)
    return found


def test_no_function_both_translates_and_binds_underscore():
    assert _functions_that_shadow_underscore("def f():\n    a, _ = 1, 2\n    return _('x')\n") == ["f"]
    assert _functions_that_shadow_underscore("def f():\n    return [_('x') for _y in ()] + [a for a, _ in ()]\n") == []
    package = Path(i18n.__file__).resolve().parents[1]
    bad = [f"{p.relative_to(package.parent)}: {name}" for p in sorted(package.rglob("*.py"))
           for name in _functions_that_shadow_underscore(p.read_text(encoding="utf-8"))]
    assert not bad, f"these functions call _() but also bind _ as a local (rename the throwaway): {bad}"
