"""Exercise 7 from the student's side: find my dump, open it, check my answer.

The teacher hands out ``students/<id>/`` from ``kpanic-lab exercises generate`` (a vmcore
and ``check.json``: salted hashes of the true fields).  The check compares the
student's answer with those hashes, or, where the teacher's key is at hand
(``KPANIC_LAB_ANSWER_KEY``, while autograding), with the key itself.  A wrong field gets
a hint towards the crash command that shows it, never the value.

Studying alone, with no teacher's folder: ``student_dump("me", make=True)`` makes a dump
of one's own in ``./dumps/me`` (and no key: the answer is only in the dump).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Union

from kpanic_lab.exercises.culprit import (CHECK_FILE, DUMPS_ENV, FIELDS, HINTS, KEY_ENV, DumpError, field_results,
                                          make_dump, plan_for, read_key, write_check)
from kpanic_lab.exercises.feedback import ExerciseFailed, Feedback
from kpanic_lab.i18n import _

EXERCISE = "Exercise 7 (find the culprit)"


STUDENT_ENV = "KPANIC_LAB_STUDENT"


def student_id() -> str:
    """Who is working.  While nbgrader autogrades (the notebook runs in
    ``autograded/<student>/<assignment>/``) the student whose notebook it is; else
    ``$KPANIC_LAB_STUDENT``; else the JupyterHub user name."""
    parts = Path.cwd().parts
    if len(parts) >= 3 and parts[-3] == "autograded":
        return parts[-2]
    sid = os.environ.get(STUDENT_ENV) or os.environ.get("JUPYTERHUB_USER")
    if not sid:
        raise DumpError(f"no student id: set STUDENT = \"your id\" in the notebook (or {STUDENT_ENV})")
    return sid


def student_dump(student: str, folder: Union[str, Path, None] = None, make: bool = False) -> Path:
    """The folder holding ``student``'s vmcore: under ``folder``, ``$KPANIC_LAB_DUMPS`` or ``./dumps``.

    ``make=True`` makes it there when it is missing (self-study: no course secret)."""
    if not student or str(student).strip() in ("", "..."):
        raise DumpError("set STUDENT to your student id first")
    base = Path(folder or os.environ.get(DUMPS_ENV) or "dumps")
    d = base / str(student).strip()
    if not (d / "vmcore").is_file():
        if not make:
            raise DumpError(f"{d}: no vmcore there; ask your teacher where the class dumps are "
                            f"(set {DUMPS_ENV}), or make one of your own with make=True")
        truth = make_dump(plan_for(str(student)), d)
        write_check(d, truth)
    return d


def crash_session(dump: Union[str, Path]):  # type: ignore[no-untyped-def]
    """A crash shell over the student's vmcore (``.run("bt")``)."""
    from kpanic_lab.crash.session import CrashSession

    return CrashSession.open(Path(dump) / "vmcore")


def check_culprit(answer: Dict[str, object], dump: Union[str, Path], field: Optional[str] = None) -> Feedback:
    """Exercise 7: ``{"function", "module", "address", "kind", "line"}`` for the student's own dump
    (only ``field`` when given: nbgrader gives each field its own test cell and point)."""
    ex = _(EXERCISE)
    if answer is None or answer is Ellipsis or not isinstance(answer, dict):
        raise ExerciseFailed(ex, [_("culprit must be a dict with the keys: {keys}").format(keys=", ".join(FIELDS))],
                             [_("start with bt and log on your dump")])
    path = Path(dump) / CHECK_FILE
    try:
        check = json.loads(path.read_text())
        student, salt, hashes = check["student"], check["salt"], check["hashes"]
    except (OSError, ValueError, KeyError) as e:
        raise ExerciseFailed(ex, [_("{path}: not a check file from kpanic-lab exercises generate ({e})").format(
            path=path, e=e)]) from None
    key = os.environ.get(KEY_ENV)
    truth = read_key(key).get(student) if key else None
    results = field_results(answer, student, hashes, salt, truth)
    fields = [field] if field else list(FIELDS)
    wrong = [f for f in fields if not results[f][0]]
    if wrong:
        raise ExerciseFailed(ex, [results[f][1] for f in wrong], [_(HINTS[f]) for f in wrong])
    return Feedback(ex, [results[f][1] for f in fields])
