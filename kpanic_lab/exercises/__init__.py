"""Student exercises with checks that run the lab, and a dump of their own for every student.

A notebook cell imports a check, the student answers, and the check runs the lab and
says what happened (``Feedback``) or why not (``ExerciseFailed``, an AssertionError, so
nbgrader's test cells mark it).  The teacher's side (``course``) makes every student's
dump and the answer key, grades, and writes an nbgrader course folder.

>>> from kpanic_lab.exercises import check_crashkernel     # doctest: +SKIP
>>> check_crashkernel("32M")                               # doctest: +SKIP
Exercise 4 (size crashkernel=): passed.
"""
from kpanic_lab.exercises.feedback import ExerciseFailed, Feedback
from kpanic_lab.exercises.kdump_checks import (BROKEN_KDUMP_CONF, broken_kdump_conf_errors, check_core_collector,
                                               check_crashkernel, check_kdump_conf)
from kpanic_lab.exercises.panic_checks import (NOTIFY_DONE, OUTCOMES, SETTINGS, Pstore, check_cpu_stop,
                                               check_notifier, check_predictions)
from kpanic_lab.exercises.unseen import check_culprit, crash_session, student_dump, student_id
from kpanic_lab.exercises.culprit import KINDS, answer_from_key

__all__ = ["ExerciseFailed", "Feedback", "BROKEN_KDUMP_CONF", "broken_kdump_conf_errors", "check_core_collector",
           "check_crashkernel", "check_kdump_conf", "NOTIFY_DONE", "OUTCOMES", "SETTINGS", "Pstore",
           "check_cpu_stop", "check_notifier", "check_predictions", "check_culprit", "crash_session",
           "student_dump", "student_id", "KINDS", "answer_from_key"]
