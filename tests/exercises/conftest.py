"""Two students' dumps, made once for the exercise tests (a few seconds each)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kpanic_lab.exercises.course import Generated, generate
from kpanic_lab.exercises.culprit import plan_for

SECRET = "test-course"


def two_students() -> list:
    """Two ids whose seeds pick different drivers and bug kinds (found, not assumed)."""
    first = plan_for("s000", SECRET)
    for i in range(1, 100):
        other = plan_for(f"s{i:03d}", SECRET)
        if other.module != first.module and other.kind != first.kind:
            return ["s000", f"s{i:03d}"]
    raise AssertionError("no two different plans among 100 ids")


@pytest.fixture(scope="session")
def class_dumps(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out: Path = tmp_path_factory.mktemp("class")
    return generate(two_students(), out, secret=SECRET, jobs=2)
