"""``python -m kpanic_lab.i18n [check|update]``: is every ``_()`` string of the code translated?

``check`` (the default) lists missing, untranslated, obsolete and placeholder-breaking entries and
exits 1 if there are any; ``update`` brings ``zh.po`` in line with the code (new ids get an empty
msgstr to fill in) and then reports as ``check`` does.
"""
from __future__ import annotations

import sys
from typing import List, Optional

from kpanic_lab.i18n import LANGUAGES
from kpanic_lab.i18n.catalogue_tools import Report, extract_messages, reports, update


def _show(report: Report) -> None:
    sections = [("missing from the catalogue", report.missing),
                ("untranslated (empty or fuzzy)", report.untranslated),
                ("obsolete (no longer in the code)", report.obsolete),
                ("placeholders differ", [f"{a!r} -> {b!r}" for a, b in report.bad_placeholders])]
    for title, items in sections:
        if items:
            print(f"{report.lang}.po: {len(items)} {title}:")
            for item in items:
                print(f"  {item!r}" if isinstance(item, str) and "->" not in item else f"  {item}")
    if report.ok:
        print(f"{report.lang}.po: up to date")


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    action = args[0] if args else "check"
    if action == "check":
        results = reports()
    elif action == "update":
        messages = extract_messages()
        results = [update(lang, messages) for lang in LANGUAGES[1:]]
    else:
        print(f"python -m kpanic_lab.i18n: unknown action {action!r} (check or update)", file=sys.stderr)
        return 2
    for report in results:
        _show(report)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
