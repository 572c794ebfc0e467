"""Exercise 7: a dump per student from a seed, graded against its own truth, hints not answers."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from kpanic_lab.exercises import ExerciseFailed, check_culprit
from kpanic_lab.exercises.course import grade, read_roster, write_grades, CourseError
from kpanic_lab.exercises.culprit import (FIELDS, KINDS, MODULES, AnswerFormatError, normalise, plan_for, read_key,
                                          truth_values)

from tests.exercises.conftest import SECRET


def test_plans_are_deterministic_and_cover_every_driver_and_kind():
    assert plan_for("alice", SECRET) == plan_for("alice", SECRET)
    plans = [plan_for(f"s{i:03d}", SECRET) for i in range(300)]
    pairs = Counter((p.module, p.kind) for p in plans)
    assert set(pairs) == {(m, k) for m in MODULES for k in KINDS}
    assert min(pairs.values()) >= 5                     # spread over the class, not clumped
    assert len({p.slot for p in plans}) == 8
    other = [plan_for(f"s{i:03d}", "another course") for i in range(300)]
    assert plans != other                               # the course secret changes the seeds


@pytest.mark.parametrize("field,value,want", [
    ("address", "0xFFFFFFFF8101C0A4", "ffffffff8101c0a4"),
    ("address", 0xffffffff8101c0a4, "ffffffff8101c0a4"),
    ("function", "netq_xmit.constprop.0+0x12/0x20", "netq_xmit"),
    ("module", "[xnetq]", "xnetq"),
    ("kind", "BUG_ON", "bug"),
    ("kind", "double free detected by the slab", "dfree"),
    ("kind", "use-after-free", "uaf"),
    ("kind", "Use after free (slab poison)", "uaf"),
    ("kind", "oops in a timer", "timer"),
    ("line", "kernel/modules/xnetq.c: 44", "44"),
    ("line", "xnetq.c:44", "44"),
])
def test_answers_are_normalised(field, value, want):
    assert normalise(field, value) == want


@pytest.mark.parametrize("field,value,words", [
    ("address", "somewhere", "address: 'somewhere' is not a hex address"),
    ("kind", "a crash", "kind: 'a crash' is not one of"),
    ("line", "line forty", "line: 'line forty' is not a source line"),
    ("colour", "red", "unknown answer field 'colour'"),
])
def test_bad_answers_are_named_in_one_line(field, value, words):
    with pytest.raises(AnswerFormatError) as e:
        normalise(field, value)
    assert words in str(e.value) and "\n" not in str(e.value)


def _answer(truth):
    v = truth_values(truth)
    v["line"] = f"{truth.file}:{truth.line}"
    return v


def test_two_students_dumps_differ_and_each_is_graded_against_its_own_truth(class_dumps, monkeypatch):
    monkeypatch.delenv("KPANIC_LAB_ANSWER_KEY", raising=False)
    a, b = class_dumps.truths
    assert (a.module, a.kind, a.function, a.address) != (b.module, b.kind, b.function, b.address)
    da, db = class_dumps.students / a.student, class_dumps.students / b.student
    assert (da / "vmcore").read_bytes() != (db / "vmcore").read_bytes()
    assert check_culprit(_answer(a), da).passed
    assert check_culprit(_answer(b), db).passed
    with pytest.raises(ExerciseFailed) as e:             # a's answer is wrong for b's dump
        check_culprit(_answer(a), db)
    assert {"function", "module", "address", "kind"} <= {p.split(":")[0] for p in e.value.problems}


def test_the_truth_is_what_bt_shows(class_dumps):
    """The key's function and address are on the panicking task's stack as the crash shell prints it."""
    from kpanic_lab.exercises import crash_session
    for t in class_dumps.truths:
        s = crash_session(class_dumps.students / t.student)
        bt = s.run("bt")
        assert f"{t.address:016x}" in bt or f"{t.address:x}" in bt, bt
        assert t.function in bt
        # the module: on the frame's line, or (a leaf that faulted: [exception RIP: ...]) from sym ADDRESS
        assert f"[{t.module}]" in bt or f"[{t.module}]" in s.run(f"sym {t.address:x}")
        # the line: bt -l on the culprit's frame, or dis -l on the exception RIP
        assert f"{t.file}: {t.line}" in s.run("bt -l") + s.run(f"dis -l {t.address:x} 1")
        log = s.run("log")
        expect = {"null": "BUG: kernel NULL pointer dereference", "bug": "kernel BUG at kernel/modules/",
                  "warn": "panic_on_warn set", "timer": "Fatal exception in interrupt",
                  "dfree": "kernel BUG at kernel/slab.c",
                  "uaf": "general protection fault, probably for non-canonical address 0x6b6b6b6b6b6b"}[t.kind]
        assert expect in log


def test_a_wrong_answer_gets_a_hint_not_the_answer(class_dumps, monkeypatch):
    monkeypatch.delenv("KPANIC_LAB_ANSWER_KEY", raising=False)
    t = class_dumps.truths[0]
    wrong = _answer(t)
    wrong.update(function="kfree", address="ffffffff81000000")
    with pytest.raises(ExerciseFailed) as e:
        check_culprit(wrong, class_dumps.students / t.student)
    msg = str(e.value)
    assert "function: 'kfree' is not it" in msg and "bt lists the panicking task's frames" in msg
    assert "address" in msg and "exception RIP" in msg
    assert t.function not in msg and f"{t.address:x}" not in msg    # the hint does not give it away
    assert "module" not in [p.split(":")[0] for p in e.value.problems]   # the right fields are not flagged


def test_blank_answer_says_what_to_do(class_dumps):
    with pytest.raises(ExerciseFailed) as e:
        check_culprit(..., class_dumps.students / class_dumps.truths[0].student)
    assert "culprit must be a dict with the keys: function, module, address, kind, line" in str(e.value)
    with pytest.raises(ExerciseFailed) as e:
        check_culprit({}, class_dumps.students / class_dumps.truths[0].student)
    assert "function: no answer yet" in str(e.value)


def test_students_never_receive_the_truth(class_dumps):
    """What is handed out (students/<id>/) holds no field of the truth; the key is apart."""
    for t in class_dumps.truths:
        folder = class_dumps.students / t.student
        assert sorted(p.name for p in folder.iterdir()) == ["check.json", "vmcore"]
        text = (folder / "check.json").read_text()
        for v in (t.function, t.module, f"{t.address:x}", t.file, KINDS[t.kind]):
            assert v not in text
        assert set(json.loads(text)["hashes"]) == set(FIELDS)
    assert class_dumps.key.parent != class_dumps.students and not class_dumps.key.is_relative_to(class_dumps.students)
    assert read_key(class_dumps.key) == {t.student: t for t in class_dumps.truths}


def test_the_key_overrides_a_tampered_check_file(class_dumps, tmp_path, monkeypatch):
    import shutil
    a, b = class_dumps.truths
    forged = tmp_path / a.student
    shutil.copytree(class_dumps.students / a.student, forged)
    check = json.loads((forged / "check.json").read_text())
    check["hashes"] = json.loads((class_dumps.students / b.student / "check.json").read_text())["hashes"]
    check["salt"] = json.loads((class_dumps.students / b.student / "check.json").read_text())["salt"]
    (forged / "check.json").write_text(json.dumps(check))
    assert check_culprit(_answer(b), forged).passed          # the forged file alone is fooled ...
    monkeypatch.setenv("KPANIC_LAB_ANSWER_KEY", str(class_dumps.key))
    with pytest.raises(ExerciseFailed):                      # ... the teacher's key is not
        check_culprit(_answer(b), forged)
    assert check_culprit(_answer(a), forged).passed


def test_grade_a_folder_of_submissions(class_dumps, tmp_path):
    from kpanic_lab.exercises.course import answer_in_notebook
    a, b = class_dumps.truths
    subs = tmp_path / "submitted"
    (subs / a.student).mkdir(parents=True)
    (subs / a.student / "answers.json").write_text(json.dumps(_answer(a)))
    (subs / b.student).mkdir()
    wrong = _answer(b)
    wrong["kind"] = "warn" if b.kind != "warn" else "bug"
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"culprit = {wrong!r}")])
    nbformat.write(nb, str(subs / b.student / "07_find_the_culprit.ipynb"))
    assert answer_in_notebook(subs / b.student / "07_find_the_culprit.ipynb") == wrong
    (subs / "stranger").mkdir()
    grades = {g.student: g for g in grade(subs, class_dumps.key)}
    assert grades[a.student].total == 5
    assert grades[b.student].total == 4 and grades[b.student].points["kind"] == 0
    assert grades["stranger"].total == 0 and grades["stranger"].note == "not in the answer key"
    out = write_grades(list(grades.values()), tmp_path / "grades.csv")
    assert out.read_text().splitlines()[0] == "student,function,module,address,kind,line,total,note"


def test_rosters(tmp_path):
    p = tmp_path / "roster.csv"
    p.write_text("name,student\nAda,s1\nBob,s2\n\n")
    assert read_roster(p) == ["s1", "s2"]
    p.write_text("s1\ns2\n")
    assert read_roster(p) == ["s1", "s2"]
    p.write_text("student\ns1\ns1\n")
    with pytest.raises(CourseError, match=r"roster.csv:3: student 's1' is listed twice"):
        read_roster(p)
    p.write_text("student\n../etc\n")
    with pytest.raises(CourseError, match=r"roster.csv:2: '../etc' is not a student id"):
        read_roster(p)


def test_a_dump_is_the_same_every_time_it_is_made(class_dumps, tmp_path):
    """Deterministic from the seed: made again (in this process, not a worker), the same bytes."""
    from kpanic_lab.exercises.course import generate
    t = class_dumps.truths[0]
    again = generate([t.student], tmp_path, secret=SECRET, jobs=1)
    assert again.truths == [t]
    for name in ("vmcore", "check.json"):
        assert (again.students / t.student / name).read_bytes() == (class_dumps.students / t.student / name).read_bytes()
