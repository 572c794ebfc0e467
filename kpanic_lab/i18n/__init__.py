"""The lab's words in the student's language: gettext-style catalogues, English and Simplified Chinese.

Every string a student reads from the library (widget labels, buttons, stage explanations, the CLI's
own messages) goes through :func:`_`; the English text is the message id and ``zh.po`` beside this
file holds its Chinese.  The guest's console is never translated: it stays as Linux prints it.

    >>> from kpanic_lab.i18n import _, using
    >>> with using("zh"):
    ...     _("Step")
    '单步'

Strings defined at import time (tables, constants) are marked with :func:`N_` (which returns its
argument unchanged, so extraction finds them) and translated where they are shown::

    EXPLANATION = N_("interrupts are now off on this CPU")
    label.value = _(EXPLANATION)

Placeholders use ``str.format`` names, applied after the lookup: ``_("{n} CPUs").format(n=2)``.

Which language, in this order:

1. :func:`set_language` (or the :func:`using` context);
2. ``KPANIC_LAB_LANGUAGE`` in the environment (``en`` or ``zh``);
3. a file ``.kpanic-lab-language`` in the current directory, holding ``en`` or ``zh``: the notebook
   folders carry one, so a notebook under ``notebooks/zh/`` (whose kernel runs there) speaks Chinese
   and one under ``notebooks/`` English, whatever the machine's locale;
4. the locale variables as gettext reads them: ``LANGUAGE`` (a ``:`` list), ``LC_ALL``,
   ``LC_MESSAGES``, ``LANG`` (``zh_CN.UTF-8`` and ``zh`` select Chinese);
5. English.
"""
from __future__ import annotations

import contextlib
import os
import string
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Tuple

__all__ = [
    "_", "N_", "LANGUAGES", "CatalogueError", "catalogue", "language", "language_from_env",
    "set_language", "translate", "using", "placeholders", "display_width", "MARKER_FILE", "ENV_VARIABLE",
]

#: The languages the lab speaks; the first is the source language (the message ids).
LANGUAGES: Tuple[str, ...] = ("en", "zh")
ENV_VARIABLE = "KPANIC_LAB_LANGUAGE"
MARKER_FILE = ".kpanic-lab-language"
CATALOGUE_DIR = Path(__file__).resolve().parent

_chosen: Optional[str] = None


class CatalogueError(ValueError):
    """A catalogue that cannot be used (unreadable, or a translation that breaks its placeholders)."""


def _normalise(value: str) -> Optional[str]:
    """``zh_CN.UTF-8`` -> ``zh``, ``en_US`` -> ``en``, ``C``/``POSIX``/unknown -> None."""
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    base = code.split("_")[0]
    return base if base in LANGUAGES else None


def language_from_env(environ: Mapping[str, str], cwd: Optional[Path] = None) -> str:
    """The language chosen by ``environ`` (and a marker file in ``cwd``), as described above.

    >>> language_from_env({"LANG": "zh_CN.UTF-8"})
    'zh'
    >>> language_from_env({"LANGUAGE": "fr:en", "LANG": "zh_CN.UTF-8"})
    'en'
    """
    explicit = environ.get(ENV_VARIABLE, "").strip()
    if explicit:
        lang = _normalise(explicit)
        if lang is None:
            raise ValueError(f"{ENV_VARIABLE}={explicit!r}: not one of {', '.join(LANGUAGES)}")
        return lang
    if cwd is not None:
        marker = cwd / MARKER_FILE
        if marker.is_file():
            text = marker.read_text(encoding="utf-8").strip()
            lang = _normalise(text)
            if lang is None:
                raise ValueError(f"{marker}: {text!r} is not one of {', '.join(LANGUAGES)}")
            return lang
    # gettext: LANGUAGE is honoured only when the locale is not C/POSIX; LC_ALL beats LC_MESSAGES beats LANG
    locale_value = ""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            locale_value = environ[name]
            break
    if locale_value and locale_value.split(".")[0] not in ("C", "POSIX") and environ.get("LANGUAGE"):
        for item in environ["LANGUAGE"].split(":"):
            lang = _normalise(item) if item else None
            if lang is not None:
                return lang
        return LANGUAGES[0]  # gettext: none of LANGUAGE's list has a catalogue -> the message ids
    return (_normalise(locale_value) if locale_value else None) or LANGUAGES[0]


def set_language(lang: Optional[str]) -> None:
    """Choose the language for this process (``"en"``, ``"zh"``, or None to go back to the default)."""
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"language {lang!r}: not one of {', '.join(LANGUAGES)}")
    _chosen = lang


def language() -> str:
    """The language in use now (see the module's docstring for how it is chosen)."""
    if _chosen is not None:
        return _chosen
    return language_from_env(os.environ, Path.cwd())


@contextlib.contextmanager
def using(lang: str) -> Iterator[None]:
    """Speak ``lang`` inside the ``with`` block, then whatever was chosen before."""
    global _chosen
    before = _chosen
    set_language(lang)
    try:
        yield
    finally:
        _chosen = before


def placeholders(text: str) -> Tuple[str, ...]:
    """The ``str.format`` field names in ``text``, sorted (``"{n} of {total}"`` -> ``('n', 'total')``)."""
    return tuple(sorted({field for _lit, field, _spec, _conv in string.Formatter().parse(text)
                         if field is not None}))


@lru_cache(maxsize=None)
def catalogue(lang: str) -> Dict[str, str]:
    """``{English: translation}`` for ``lang`` from ``<lang>.po``; untranslated and fuzzy entries left out."""
    if lang == LANGUAGES[0]:
        return {}
    from babel.messages.pofile import read_po      # here, not at import: English needs no catalogue

    path = CATALOGUE_DIR / f"{lang}.po"
    try:
        with path.open("rb") as f:
            po = read_po(f, locale=lang)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc}") from exc
    table: Dict[str, str] = {}
    for message in po:
        if not message.id or not isinstance(message.id, str) or message.fuzzy:
            continue
        if isinstance(message.string, str) and message.string:
            if placeholders(message.string) != placeholders(message.id):
                raise CatalogueError(
                    f"{path}:{message.lineno}: the translation of {message.id!r} has placeholders "
                    f"{placeholders(message.string)}, the English {placeholders(message.id)}")
            table[message.id] = message.string
    return table


def translate(text: str, lang: Optional[str] = None) -> str:
    """``text`` in ``lang`` (default: :func:`language`); English, unchanged, when there is no translation."""
    return catalogue(lang or language()).get(text, text)


def _(text: str) -> str:
    """``text`` in the current language (the gettext name, so extraction tools find the strings)."""
    return translate(text)


def N_(text: str) -> str:
    """Mark ``text`` for translation without translating it now (for tables built at import time)."""
    return text


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or a ``<pre>``: a Chinese character (East Asian wide) counts two.

    >>> display_width("panic"), display_width("恐慌")
    (5, 4)
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
