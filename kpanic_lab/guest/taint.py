"""The kernel's taint flags: bit, letter and meaning (Linux 6.1's kernel/panic.c ``taint_flags[]``,
which the guest's panic.c and taint.h copy in the same order).

A set bit of ``tainted_mask`` (``/proc/sys/kernel/tainted``) or of a module's ``taints`` prints as
its letter: ``Tainted: G      D    OE`` in an oops, ``null_deref(OE)`` in ``Modules linked in:``.

>>> taint_letters(0x3080)
'DOE'
>>> TAINT_FLAGS[7]
TaintFlag(name='TAINT_DIE', letter='D', meaning='the kernel died: an oops or BUG happened')
"""
from __future__ import annotations

from typing import NamedTuple, Tuple


class TaintFlag(NamedTuple):
    name: str           # include/linux/panic.h's TAINT_* (its bit is its index in TAINT_FLAGS)
    letter: str         # taint_flags[].c_true
    meaning: str        # why it is set, as Documentation/admin-guide/tainted-kernels.rst says


TAINT_FLAGS: Tuple[TaintFlag, ...] = (
    TaintFlag("TAINT_PROPRIETARY_MODULE", "P", "a proprietary module was loaded"),
    TaintFlag("TAINT_FORCED_MODULE", "F", "a module was force-loaded"),
    TaintFlag("TAINT_CPU_OUT_OF_SPEC", "S", "the CPU is out of spec"),
    TaintFlag("TAINT_FORCED_RMMOD", "R", "a module was force-unloaded"),
    TaintFlag("TAINT_MACHINE_CHECK", "M", "a machine check happened"),
    TaintFlag("TAINT_BAD_PAGE", "B", "a bad page was found"),
    TaintFlag("TAINT_USER", "U", "user space asked for it"),
    TaintFlag("TAINT_DIE", "D", "the kernel died: an oops or BUG happened"),
    TaintFlag("TAINT_OVERRIDDEN_ACPI_TABLE", "A", "an ACPI table was overridden"),
    TaintFlag("TAINT_WARN", "W", "a WARN() fired"),
    TaintFlag("TAINT_CRAP", "C", "a staging driver was loaded"),
    TaintFlag("TAINT_FIRMWARE_WORKAROUND", "I", "a firmware bug is being worked around"),
    TaintFlag("TAINT_OOT_MODULE", "O", "an out-of-tree module was loaded"),
    TaintFlag("TAINT_UNSIGNED_MODULE", "E", "an unsigned module was loaded"),
    TaintFlag("TAINT_SOFTLOCKUP", "L", "a soft lockup happened"),
    TaintFlag("TAINT_LIVEPATCH", "K", "the kernel was live-patched"),
    TaintFlag("TAINT_AUX", "X", "auxiliary taint"),
    TaintFlag("TAINT_RANDSTRUCT", "T", "built with struct randomisation"),
    TaintFlag("TAINT_TEST", "N", "a test module was loaded"),
)


def set_flags(mask: int) -> Tuple[TaintFlag, ...]:
    """The flags set in ``mask``, in the kernel's order (pure)."""
    return tuple(f for bit, f in enumerate(TAINT_FLAGS) if mask >> bit & 1)


def taint_letters(mask: int) -> str:
    """The letters of the set flags, as a module's taints print (``module_flags_taint()``)."""
    return "".join(f.letter for f in set_flags(mask))
