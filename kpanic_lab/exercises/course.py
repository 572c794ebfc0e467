"""The teacher's side: every student's dump, the answer key, grading, an nbgrader course folder.

    generate(roster.csv, DIR)   DIR/students/<id>/{vmcore,check.json}  (hand these out)
                                DIR/key/answers.csv                     (keep this)
    grade(SUBMISSIONS, key)     one row per student: exercise 7's five fields, 1 point each
    make_course(DIR)            DIR/source/<assignment>/<notebook>.ipynb and nbgrader_config.py
    strip_solutions(nb)         the student version of a notebook without nbgrader

Dumps are made in parallel processes (one per core by default), each from the student's
seed, so the same roster and secret give the same dumps on any machine.
"""
from __future__ import annotations

import ast
import csv
import json
import re
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from kpanic_lab.errors import LabError
from kpanic_lab.exercises.culprit import (FIELDS, DumpError, Truth, field_results, make_dump, plan_for, read_key,
                                          write_check, write_key)

EXERCISES_DIR = Path(__file__).resolve().parents[2] / "exercises"
NOTEBOOKS = ("01_predict_then_run", "02_who_stopped_the_cpu", "03_panic_notifier", "04_size_crashkernel",
             "05_dump_level", "06_fix_kdump_conf", "07_find_the_culprit")
ProgressFn = Callable[[int, int, str], None]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class CourseError(LabError):
    """A roster, a submissions folder or a course folder that cannot be used (one line: what and where)."""


def read_roster(path: Union[str, Path]) -> List[str]:
    """Student ids from a CSV: the ``student`` (or ``id``) column, or the first column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CourseError(f"{p}: cannot read the roster ({e})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise CourseError(f"{p}: the roster is empty")
    header = [h.strip().lower() for h in rows[0]]
    col = next((header.index(h) for h in ("student", "id", "student_id", "username") if h in header), None)
    body = rows[1:] if col is not None else rows
    col = col or 0
    ids: List[str] = []
    for i, row in enumerate(body, start=2 if body is not rows else 1):
        if not row or not "".join(row).strip():
            continue
        sid = row[col].strip() if col < len(row) else ""
        if not _ID.match(sid):
            raise CourseError(f"{p}:{i}: {sid!r} is not a student id (letters, digits, _ . @ -; at most 64)")
        if sid in ids:
            raise CourseError(f"{p}:{i}: student {sid!r} is listed twice")
        ids.append(sid)
    if not ids:
        raise CourseError(f"{p}: no students in the roster")
    return ids


def _one(student: str, secret: str, folder: str, reuse: bool = True) -> Truth:
    truth = make_dump(plan_for(student, secret), folder, reuse=reuse)
    write_check(folder, truth)
    return truth


@dataclass
class Generated:
    students: Path
    key: Path
    truths: List[Truth]


def generate(students: Sequence[str], out: Union[str, Path], secret: str = "", jobs: Optional[int] = None,
             progress: Optional[ProgressFn] = None, reuse: bool = True) -> Generated:
    """Every student's dump under ``out/students/``, the key at ``out/key/answers.csv``.
    Each process boots the class's kernel once and starts every student from it (``reuse``;
    False boots for every student: the same dumps, slower)."""
    import os

    out = Path(out)
    sdir = out / "students"
    sdir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    truths: List[Truth] = []
    total = len(students)
    if jobs == 1:
        for i, s in enumerate(students, 1):
            truths.append(_one(s, secret, str(sdir / s), reuse))
            if progress:
                progress(i, total, s)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_one, s, secret, str(sdir / s), reuse): s for s in students}
            for i, f in enumerate(as_completed(futures), 1):
                try:
                    truths.append(f.result())
                except DumpError:
                    raise
                except Exception as e:  # a worker died: name the student
                    raise DumpError(f"student {futures[f]}: {type(e).__name__}: {e}") from None
                if progress:
                    progress(i, total, futures[f])
    key = write_key(out / "key" / "answers.csv", truths)
    return Generated(sdir, key, sorted(truths, key=lambda t: t.student))


# ------------------------------------------------------------------ grading
def answer_in_notebook(path: Union[str, Path], name: str = "culprit") -> Optional[Dict[str, object]]:
    """The literal dict assigned to ``name`` in a notebook's code cells (the last one), or None.
    Read with ``ast.literal_eval``: nothing a student wrote is run."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    found: Optional[Dict[str, object]] = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    found = value
    return found


def _submission_answer(folder: Path) -> Optional[Dict[str, object]]:
    ans = folder / "answers.json"
    if ans.is_file():
        try:
            data = json.loads(ans.read_text())
        except ValueError as e:
            raise CourseError(f"{ans}: not JSON ({e})") from None
        return data.get("culprit", data) if isinstance(data, dict) else None
    for nb in sorted(folder.rglob("*find_the_culprit*.ipynb")):
        if ".ipynb_checkpoints" not in nb.parts:
            return answer_in_notebook(nb)
    return None


@dataclass
class Grade:
    student: str
    points: Dict[str, int]
    note: str = ""

    @property
    def total(self) -> int:
        return sum(self.points.values())


def grade(submissions: Union[str, Path], key: Union[str, Path]) -> List[Grade]:
    """Exercise 7 for every ``submissions/<student>/`` (an ``answers.json`` or the submitted
    notebook; nbgrader's ``submitted/<student>/<assignment>/`` works too), against the key."""
    root = Path(submissions)
    if not root.is_dir():
        raise CourseError(f"{root}: not a folder of submissions")
    truths = read_key(key)
    grades = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        sid = folder.name
        if sid not in truths:
            grades.append(Grade(sid, {f: 0 for f in FIELDS}, "not in the answer key"))
            continue
        answer = _submission_answer(folder)
        if answer is None:
            grades.append(Grade(sid, {f: 0 for f in FIELDS}, "no answer found"))
            continue
        res = field_results(answer, sid, truth=truths[sid])
        grades.append(Grade(sid, {f: int(ok) for f, (ok, _) in res.items()}))
    return grades


def write_grades(grades: Sequence[Grade], out: Union[str, Path]) -> Path:
    p = Path(out)
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *FIELDS, "total", "note"])
        for g in grades:
            w.writerow([g.student, *(g.points[k] for k in FIELDS), g.total, g.note])
    return p


# ------------------------------------------------------------------ notebooks
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def strip_solutions(nb):  # type: ignore[no-untyped-def]
    """A student version of a source notebook, as nbgrader's generate_assignment makes it: each
    solution region becomes ``raise NotImplementedError()``, hidden tests go, outputs go."""
    import copy

    out = copy.deepcopy(nb)
    for cell in out.cells:
        src = cell.source
        src = _SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", src)
        src = _HIDDEN.sub("", src)
        cell.source = src.rstrip("\n")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return out


NBGRADER_CONFIG = """\
# nbgrader's configuration for the kpanic_lab exercises (made by kpanic-lab exercises course)
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course!r}
c.CourseDirectory.root = {root!r}
c.ExecutePreprocessor.timeout = 600
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
"""


def make_course(out: Union[str, Path], course: str = "kpanic_lab", notebooks: Sequence[str] = NOTEBOOKS,
                source: Path = EXERCISES_DIR) -> Path:
    """An nbgrader course folder: ``source/<notebook>/<notebook>.ipynb`` (one assignment per
    exercise, in the lecture's order), ``nbgrader_config.py``, and ``student/`` with the
    stripped versions for a class without nbgrader."""
    import nbformat

    root = Path(out).resolve()
    for name in notebooks:
        src = source / f"{name}.ipynb"
        if not src.is_file():
            raise CourseError(f"{src}: no such exercise notebook")
        (root / "source" / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / "source" / name / f"{name}.ipynb")
        (root / "student").mkdir(parents=True, exist_ok=True)
        nbformat.write(strip_solutions(nbformat.read(str(src), as_version=4)), str(root / "student" / f"{name}.ipynb"))
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(course=course, root=str(root)))
    return root
