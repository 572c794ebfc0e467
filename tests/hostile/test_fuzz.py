"""Issue 10, item 9: the crash shell on mutated real dumps (all three formats), each case under a
memory and a time limit.  CI runs a bounded number of cases; tools/fuzz_crash.py runs the long one.
Every case that ever failed is kept in regressions/ as its recipe and replayed here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.fuzzlib import FAILING, Runner, apply, check_case, fuzz, generate

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))
CI_SECONDS = 40.0


def test_generate_is_deterministic_and_covers_every_kind(dumps):
    recipes = [generate(seed, dumps) for seed in range(60)]
    assert recipes == [generate(seed, dumps) for seed in range(60)]
    assert {r["fmt"] for r in recipes} == {"elf", "kdump", "flat"}
    assert {r["kind"] for r in recipes} == {"flip", "truncate", "set", "guest"}
    assert {"log_next_seq", "init_task.tasks", "current.stack"} <= set(dumps.fields)


def test_the_harness_sees_a_failure(dumps, monkeypatch):
    """A case that escapes, hangs or overflows is reported, not passed (so the fuzz test can fail)."""
    import kpanic_lab.crash.session as session

    monkeypatch.setattr(session.CrashSession, "open", classmethod(lambda cls, p: 1 / 0))
    assert check_case(str(dumps.files["kdump"]), str(dumps.files["vmlinux"]))["status"] == "crash"
    runner = Runner(limit=1 << 30, seconds=10)
    try:
        assert runner.run(dumps.files["kdump"], dumps.files["vmlinux"])["status"] == "ok"      # the worker is a real process
    finally:
        runner.close()


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(dumps, tmp_path, path):
    recipe = json.loads(path.read_text())["recipe"]
    res = Runner().run(apply(recipe, dumps, tmp_path / f"case.{recipe['fmt']}"), dumps.files["vmlinux"])
    assert res["status"] not in FAILING, res


def test_fuzz_ci(dumps, tmp_path):
    cases, failures = fuzz(dumps, iter(range(100_000)), tmp_path, CI_SECONDS)
    assert cases >= 50
    assert not failures, "\n".join(json.dumps({"recipe": r, "result": res}) for r, res in failures[:5])
