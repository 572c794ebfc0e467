"""The exercise notebooks in nbgrader's format: generate_assignment and autograde on a real
course folder, solution notebooks scoring full marks and the blank (released) ones zero."""
from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kpanic_lab.exercises.course import NOTEBOOKS, make_course, strip_solutions
from kpanic_lab.exercises.culprit import DUMPS_ENV, KEY_ENV

from tests.exercises.conftest import two_students

if importlib.util.find_spec("nbgrader") is None:     # found, not imported: the tests run it as a command
    pytest.skip("nbgrader is not installed (make install)", allow_module_level=True)
NBGRADER = [str(Path(sys.executable).parent / "nbgrader")]
EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
POINTS = {"01_predict_then_run": 2, "02_who_stopped_the_cpu": 3, "03_panic_notifier": 2, "04_size_crashkernel": 1,
          "05_dump_level": 1, "06_fix_kdump_conf": 1, "07_find_the_culprit": 5}


def _cells(name: str):
    return nbformat.read(str(EXERCISES / f"{name}.ipynb"), as_version=4).cells


def test_every_exercise_is_an_nbgrader_notebook_in_the_lectures_order():
    assert sorted(p.stem for p in EXERCISES.glob("*.ipynb")) == list(NOTEBOOKS) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        cells = _cells(name)
        meta = [c.metadata.get("nbgrader", {}) for c in cells]
        assert any(m.get("solution") for m in meta), name
        assert sum(m.get("points", 0) for m in meta if m.get("grade")) == POINTS[name], name
        ids = [m["grade_id"] for m in meta if "grade_id" in m]
        assert len(ids) == len(set(ids)), name
        for c in cells:                               # stored without outputs
            assert c.cell_type != "code" or (not c.outputs and c.execution_count is None)
            if c.metadata.get("nbgrader", {}).get("solution"):
                assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source


def test_strip_solutions_makes_the_students_version():
    nb = nbformat.read(str(EXERCISES / "04_size_crashkernel.ipynb"), as_version=4)
    student = strip_solutions(nb)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and '"32M"' not in text
    assert "# YOUR CODE HERE\nraise NotImplementedError()" in text
    assert "check_crashkernel(crashkernel)" in text


def _run(args, cwd, env):
    r = subprocess.run(NBGRADER + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_generate_assignment_and_autograde(class_dumps, tmp_path):
    """Student 1 hands in the solutions, student 2 the released notebooks untouched."""
    root = make_course(tmp_path / "course")
    good, blank = two_students()
    env = dict(os.environ, **{DUMPS_ENV: str(class_dumps.students), KEY_ENV: str(class_dumps.key)})
    env.pop("KPANIC_LAB_STUDENT", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])   # nbgrader runs alembic
    for name in NOTEBOOKS:
        _run(["generate_assignment", name, "--force"], root, env)
        released = root / "release" / name / f"{name}.ipynb"
        text = released.read_text()
        assert "BEGIN SOLUTION" not in text and "raise NotImplementedError()" in text
        assert "answer_from_key(STUDENT)" not in text          # the way to the key stays with the teacher
        for student, src in ((good, root / "source" / name), (blank, root / "release" / name)):
            dest = root / "submitted" / student / name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / f"{name}.ipynb", dest / f"{name}.ipynb")
    for name in NOTEBOOKS:
        _run(["autograde", name, "--force"], root, env)
    _run(["export", "--to", str(tmp_path / "grades.csv")], root, env)
    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    scores = {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"])) for r in rows}
    for name in NOTEBOOKS:
        assert scores[(name, good)] == (POINTS[name], POINTS[name]), (name, scores)
        assert scores[(name, blank)] == (0.0, POINTS[name]), (name, scores)
