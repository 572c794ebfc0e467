"""Exercises 1-6: each solution passes its check, each blank fails it with a helpful message,
and a wrong answer is told what the lab did instead."""
from __future__ import annotations

import pytest

from kpanic_lab.exercises import (BROKEN_KDUMP_CONF, NOTIFY_DONE, ExerciseFailed, broken_kdump_conf_errors,
                                  check_core_collector, check_cpu_stop, check_crashkernel, check_kdump_conf,
                                  check_notifier, check_predictions)

PREDICTIONS = {"A": ("hang", [0]), "B": ("reboot after 5 s", [0, 1]), "C": ("oops and go on", []),
               "D": ("capture kernel", [0, 1]), "E": ("reboot after 10 s", [0, 1])}
FIXED_CONF = BROKEN_KDUMP_CONF.replace("dump_level 31\n", "").replace("makedumpfile -l", "makedumpfile -F -l")


def make(pstore):
    def save_last_lines(ctx):
        pstore.write("\n".join(ctx.machine.console_lines[-30:]))
        return NOTIFY_DONE
    return save_last_lines


def make_nothing(pstore):
    return lambda ctx: NOTIFY_DONE


BLANK = "no answer yet for"


@pytest.mark.parametrize("check,args", [
    (check_predictions, (...,)),
    (check_cpu_stop, (..., ..., ...)),
    (check_notifier, (..., ..., ...)),
    (check_crashkernel, (...,)),
    (check_core_collector, (...,)),
    (check_kdump_conf, (...,)),
])
def test_blank_answers_fail_at_once_with_what_to_do(check, args):
    with pytest.raises(ExerciseFailed) as e:
        check(*args)
    assert BLANK in str(e.value) and "replace the ..." in str(e.value)


@pytest.mark.slow
def test_exercise1_solution_passes_and_a_wrong_row_is_explained():
    fb = check_predictions(PREDICTIONS)
    assert fb.passed and len(fb.lines) == 5
    wrong = dict(PREDICTIONS, C=("hang", [0]))
    with pytest.raises(ExerciseFailed) as e:
        check_predictions(wrong)
    msg = str(e.value)
    assert "row C" in msg and "you said 'hang', the lab did 'oops and go on'" in msg
    assert "row A" not in msg
    with pytest.raises(ExerciseFailed, match="'explode' is not one of"):
        check_predictions(dict(PREDICTIONS, A=("explode", [])))


def test_exercise1_wants_every_row():
    with pytest.raises(ExerciseFailed, match="one entry for each row: A, B, C, D, E"):
        check_predictions({"A": ("hang", [0])})


@pytest.mark.slow
def test_exercise2_solution_passes_and_wrong_fields_get_hints():
    assert check_cpu_stop("STOP_IPI", "REBOOT_VECTOR", 0x10000).passed
    with pytest.raises(ExerciseFailed) as e:
        check_cpu_stop("STOP_IPI", "NMI", 0)
    msg = str(e.value)
    assert "CPU 0 was not stopped through 'NMI'" in msg and "preempt count 0 is not" in msg
    assert "HARDIRQ_OFFSET" in msg and "stage" not in e.value.problems[0]


@pytest.mark.slow
def test_exercise3_solution_passes_and_a_notifier_that_saves_nothing_fails():
    fb = check_notifier(make, False, True)
    text = str(fb)
    assert "the chain never ran" in text and "raised RuntimeError" in text and "did not return" in text
    with pytest.raises(ExerciseFailed) as e:
        check_notifier(make_nothing, False, True)
    assert "saved 0 bytes" in str(e.value)
    with pytest.raises(ExerciseFailed) as e:
        check_notifier(make, True, True)
    assert "you said it runs, it did not run" in str(e.value) and "__crash_kexec()" in str(e.value)


@pytest.mark.slow
def test_exercise4_just_right_passes_too_small_fails_as_linux_does():
    assert check_crashkernel("32M").passed
    with pytest.raises(ExerciseFailed) as e:
        check_crashkernel("4M")
    assert "crashkernel=4M is too small" in str(e.value)
    assert "Kernel panic - not syncing: memblock_alloc: Failed to allocate" in str(e.value)   # the guest's own
    with pytest.raises(ExerciseFailed, match="takes 128 MiB of 256"):
        check_crashkernel("128M")
    with pytest.raises(ExerciseFailed, match="crashkernel=lots"):
        check_crashkernel("lots")


@pytest.mark.slow
def test_exercise5_a_level_that_fits_passes_one_that_does_not_fails():
    assert check_core_collector("makedumpfile -l --message-level 7 -d 31").passed
    with pytest.raises(ExerciseFailed) as e:
        check_core_collector("makedumpfile -l --message-level 7 -d 17")   # free pages and zero pages only
    assert "KiB; the budget is 1280 KiB" in str(e.value) and "-d is a bitmask" in str(e.value)
    with pytest.raises(ExerciseFailed, match="Invalid kdump config option"):
        check_core_collector("makedumpfile -d 31\nbogus 1")


@pytest.mark.slow
def test_exercise6_fixed_conf_passes_broken_ones_show_kdumpctl():
    assert broken_kdump_conf_errors() == "kdump.conf:6: Invalid kdump config option dump_level"
    fb = check_kdump_conf(FIXED_CONF)
    assert "kdump: saving vmcore complete" in str(fb)
    with pytest.raises(ExerciseFailed, match="Invalid kdump config option dump_level"):
        check_kdump_conf(BROKEN_KDUMP_CONF)
    no_f = BROKEN_KDUMP_CONF.replace("dump_level 31\n", "")
    with pytest.raises(ExerciseFailed, match='needs makedumpfile "-F" option'):
        check_kdump_conf(no_f)
    with pytest.raises(ExerciseFailed, match="must still go to the backup server"):
        check_kdump_conf("path /var/crash\n")
