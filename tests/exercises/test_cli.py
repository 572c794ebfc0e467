"""kpanic-lab exercises generate|grade|course: what a teacher types."""
from __future__ import annotations

import json

import pytest

from kpanic_lab.cli import main
from kpanic_lab.exercises.culprit import truth_values


def test_generate_refuses_a_bad_roster_in_one_line(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nalice\nalice\n")
    assert main(["exercises", "generate", "--students", str(roster), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"kpanic-lab: --students: {roster}:3: student 'alice' is listed twice"
    assert not (tmp_path / "c").exists()


def test_grade_writes_grades_csv(class_dumps, tmp_path, capsys):
    t = class_dumps.truths[0]
    (tmp_path / "subs" / t.student).mkdir(parents=True)
    (tmp_path / "subs" / t.student / "answers.json").write_text(json.dumps(truth_values(t)))
    out = tmp_path / "grades.csv"
    assert main(["exercises", "grade", str(tmp_path / "subs"), "--key", str(class_dumps.key), "--out", str(out)]) == 0
    assert f"{t.student},1,1,1,1,1,5," in out.read_text()
    assert f"{t.student}" in capsys.readouterr().out


def test_grade_names_a_missing_folder_and_key(tmp_path, capsys):
    assert main(["exercises", "grade", str(tmp_path / "nope"), "--key", str(tmp_path / "k.csv"),
                 "--out", str(tmp_path / "g.csv")]) == 1
    assert "nope: not a folder of submissions" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    assert main(["exercises", "grade", str(tmp_path / "subs"), "--key", str(tmp_path / "k.csv"),
                 "--out", str(tmp_path / "g.csv")]) == 1
    assert "k.csv: no answer key there" in capsys.readouterr().err


def test_course_folder(tmp_path, capsys):
    assert main(["exercises", "course", "--out", str(tmp_path / "course")]) == 0
    root = tmp_path / "course"
    assert (root / "nbgrader_config.py").read_text().count("course_id = 'kpanic_lab'") == 1
    assert len(list((root / "source").glob("*/*.ipynb"))) == 7
    assert len(list((root / "student").glob("*.ipynb"))) == 7
    for nb in (root / "student").glob("*.ipynb"):
        assert "BEGIN SOLUTION" not in nb.read_text()


@pytest.mark.parametrize("argv,words", [
    (["exercises"], "the following arguments are required: ACTION"),
    (["exercises", "generate", "--students", "r.csv"], "the following arguments are required: --out"),
])
def test_usage_errors(argv, words, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and words in capsys.readouterr().err
