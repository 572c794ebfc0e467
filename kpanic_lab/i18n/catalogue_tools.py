"""Keep the catalogues in step with the code: extract ``_()``/``N_()`` strings, report, update.

Pure halves (``extract_messages``, ``compare``) return data; ``python -m kpanic_lab.i18n`` presents it.
"""
from __future__ import annotations

import ast
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from kpanic_lab.i18n import CATALOGUE_DIR, LANGUAGES, placeholders

PACKAGE_DIR = CATALOGUE_DIR.parent
KEYWORDS = {"_": None, "N_": None}
#: constructors whose arguments are student-facing text, translated where they are shown
#: (``_(info.explain)``): name -> the positions and keywords of those arguments
TEXT_ARGUMENTS: Dict[str, Tuple[Tuple[int, ...], Tuple[str, ...]]] = {
    "StageInfo": ((1, 2), ("title", "explain")),
    "command": ((1,), ("summary",)),          # the CLI's @command(name, summary, ...)
}
#: names in TEXT_ARGUMENTS that mean it only in one file (the crash shell has a `command` of its own,
#: whose summaries are crash's English help)
TEXT_ARGUMENT_FILES: Dict[str, str] = {"command": "cli.py"}


def extract_python_ast(fileobj: Any, keywords: Any, comment_tags: Any, options: Any
                       ) -> Iterator[Tuple[int, str, str, List[str]]]:
    """A babel extraction method over Python's ``ast``: ``_("...")`` and ``N_("...")`` anywhere,
    f-strings included (babel's tokenizer does not look inside them on Python 3.11), and the text
    arguments of :data:`TEXT_ARGUMENTS`."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else (
            node.func.attr if isinstance(node.func, ast.Attribute) else "")
        if name in KEYWORDS:
            texts = node.args[:1]
        elif name in TEXT_ARGUMENTS and str(getattr(fileobj, "name", "")).endswith(
                TEXT_ARGUMENT_FILES.get(name, "")):
            positions, names = TEXT_ARGUMENTS[name]
            texts = [node.args[i] for i in positions if i < len(node.args)]
            texts += [k.value for k in node.keywords if k.arg in names]
        else:
            continue
        for arg in texts:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                yield arg.lineno, name if name in KEYWORDS else "N_", arg.value, []


METHOD_MAP = [("**.py", "kpanic_lab.i18n.catalogue_tools:extract_python_ast")]

HEADER = ("# The lab's words in Simplified Chinese (see kpanic_lab/i18n/__init__.py).\n"
          "# `python -m kpanic_lab.i18n update` adds the code's new strings; fill in their msgstr.")
FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a fixed header date keeps updates diff-free

#: a message id -> where it is used ("kpanic_lab/cli.py:42", ...)
Messages = Dict[str, List[str]]


def extract_messages(root: Path = PACKAGE_DIR) -> Messages:
    """Every literal passed to ``_()`` or ``N_()`` in the Python files under ``root``."""
    found: Messages = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root), METHOD_MAP, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"{root.name}/{filename}:{lineno}")
    return found


@dataclass
class Report:
    """How one language's catalogue stands against the code."""

    lang: str
    missing: List[str] = field(default_factory=list)        # in the code, not in the catalogue
    untranslated: List[str] = field(default_factory=list)   # in the catalogue with an empty or fuzzy msgstr
    obsolete: List[str] = field(default_factory=list)       # in the catalogue, no longer in the code
    bad_placeholders: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing to translate or fix (obsolete entries are listed by ``check`` but harmless)."""
        return not (self.missing or self.untranslated or self.bad_placeholders)


def load(lang: str) -> Catalog:
    """The catalogue ``<lang>.po`` as babel reads it (an empty one if the file does not exist)."""
    path = CATALOGUE_DIR / f"{lang}.po"
    if not path.exists():
        return Catalog(locale=lang, project="kpanic_lab")
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def compare(messages: Messages, po: Catalog, lang: str) -> Report:
    """What is missing, untranslated, obsolete or broken in ``po`` for the ``messages`` of the code."""
    report = Report(lang)
    ids = {m.id: m for m in po if m.id and isinstance(m.id, str)}
    for msgid in sorted(messages):
        entry = ids.get(msgid)
        if entry is None:
            report.missing.append(msgid)
        elif not entry.string or entry.fuzzy:
            report.untranslated.append(msgid)
        elif isinstance(entry.string, str) and placeholders(entry.string) != placeholders(msgid):
            report.bad_placeholders.append((msgid, entry.string))
    report.obsolete = sorted(set(ids) - set(messages))
    return report


def update(lang: str, messages: Messages) -> Report:
    """Add the code's new ids to ``<lang>.po`` (empty msgstr), drop obsolete ones, refresh locations."""
    po = load(lang)
    old = {m.id: m for m in po if m.id and isinstance(m.id, str)}
    fresh = Catalog(locale=lang, project="kpanic_lab", version="0.1", fuzzy=False,
                    header_comment=HEADER, language_team=f"kpanic_lab <{lang}>",
                    last_translator="kpanic_lab", creation_date=FIXED_DATE, revision_date=FIXED_DATE)
    for msgid in sorted(messages, key=lambda m: (messages[m][0], m)):
        prior = old.get(msgid)
        locations = [(loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1])) for loc in messages[msgid]]
        fresh.add(msgid, prior.string if prior else "", locations=locations,
                  flags=prior.flags if prior else ())
    buf = io.BytesIO()
    write_po(buf, fresh, width=100, omit_header=False, sort_by_file=True, include_lineno=False)
    (CATALOGUE_DIR / f"{lang}.po").write_bytes(buf.getvalue())
    return compare(messages, load(lang), lang)


def reports() -> List[Report]:
    """One report per translated language."""
    messages = extract_messages()
    return [compare(messages, load(lang), lang) for lang in LANGUAGES[1:]]
