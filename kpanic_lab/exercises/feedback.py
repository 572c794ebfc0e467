"""What a check tells a student: passed with its reasons, or failed with a message and hints.

A check either returns a :class:`Feedback` (the notebook shows it) or raises
:class:`ExerciseFailed`, an ``AssertionError``: nbgrader marks a test cell that raises as
failed, and without nbgrader the message is what the student reads under the cell.

>>> Feedback("ex", ["right"]).passed
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from kpanic_lab.i18n import _


class ExerciseFailed(AssertionError):
    """An answer that does not pass: the message says what is wrong, the hints where to look."""

    def __init__(self, exercise: str, problems: Sequence[str], hints: Sequence[str] = ()) -> None:
        self.exercise = exercise
        self.problems = list(problems)
        self.hints = list(hints)
        lines = [_("{exercise}: not yet.").format(exercise=exercise)] + [f"  - {p}" for p in self.problems]
        if self.hints:
            lines.append(_("Hints:"))
            lines += [f"  * {h}" for h in self.hints]
        super().__init__("\n".join(lines))


@dataclass
class Feedback:
    """A passed check: what was verified, in the student's words."""

    exercise: str
    lines: List[str] = field(default_factory=list)
    passed: bool = True

    def __str__(self) -> str:
        return "\n".join([_("{exercise}: passed.").format(exercise=self.exercise)] + [f"  - {l}" for l in self.lines])

    def __repr__(self) -> str:
        return str(self)


class _Missing:
    pass


def require(exercise: str, **answers: object) -> None:
    """Fail at once, with a clear message, on answers not given yet (``...``, None, or nbgrader's
    placeholder)."""
    missing = [k for k, v in answers.items() if v is None or v is Ellipsis or isinstance(v, _Missing)]
    if missing:
        raise ExerciseFailed(exercise, [_("no answer yet for: {names}").format(names=", ".join(missing))],
                             [_("replace the ... (or the raise NotImplementedError()) in the answer cell, "
                                "then run the cell and this one again")])
