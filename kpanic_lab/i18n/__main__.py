"""``python -m kpanic_lab.i18n [check|update|notebooks [--build] [--quiet]]``: is everything translated?

``check`` (the default) lists missing, untranslated, obsolete and placeholder-breaking entries of
``zh.po`` and exits 1 if there are any; ``update`` brings ``zh.po`` in line with the code (new ids get
an empty msgstr to fill in) and then reports as ``check`` does.  ``notebooks`` lists the notebook
cells whose translation is missing, stale or orphaned (with the English to translate and the hash to
record), and the generated notebooks that are out of date; ``--build`` regenerates them first.
"""
from __future__ import annotations

import sys
from typing import List, Optional

from kpanic_lab.i18n import LANGUAGES
from kpanic_lab.i18n.catalogue_tools import Report, extract_messages, reports, update
from kpanic_lab.i18n import notebooks as nbi18n


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


def _notebooks(options: List[str]) -> int:
    unknown = [o for o in options if o not in ("--build", "--quiet")]
    if unknown:
        print(f"python -m kpanic_lab.i18n notebooks: unknown option {unknown[0]!r}", file=sys.stderr)
        return 2
    failed = False
    for series in nbi18n.find_series():
        if "--build" in options:
            for path in nbi18n.write_all(series):
                print(f"wrote {path.relative_to(nbi18n.ROOT)}")
        count = 0
        for problem in nbi18n.problems(series):
            count += 1
            print(f"{series.lang}: {problem.notebook} cell {problem.cell_id}: {problem.kind}"
                  + (f" (en: {problem.english_hash})" if problem.english_hash else ""))
            if problem.english and "--quiet" not in options:
                print("    " + problem.english.replace("\n", "\n    "))
        for path in nbi18n.out_of_date(series):
            count += 1
            print(f"{series.lang}: {path.relative_to(nbi18n.ROOT)}: out of date (--build regenerates it)")
        print(f"{series.lang}: " + (f"{count} to do" if count else "every notebook translated and generated"))
        failed = failed or count > 0
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    action = args[0] if args else "check"
    if action == "notebooks":
        return _notebooks(args[1:])
    if action == "check":
        results = reports()
    elif action == "update":
        messages = extract_messages()
        results = [update(lang, messages) for lang in LANGUAGES[1:]]
    else:
        print(f"python -m kpanic_lab.i18n: unknown action {action!r} (check, update or notebooks)", file=sys.stderr)
        return 2
    for report in results:
        _show(report)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
