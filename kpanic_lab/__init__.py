"""kpanic_lab: what happens when the Linux kernel meets a fatal error, on a machine you can stop.

A small but real x86-64 kernel (``kpanic_lab/guest``) boots on an emulated multi-CPU machine
(``kpanic_lab/machine``, Unicorn driven from Python).  Students crash it, watch ``panic()`` one
stage at a time, and read the dump it leaves.

>>> from kpanic_lab import Machine
>>> m = Machine(cpus=2, memory="256M")
>>> _ = m.boot()
>>> "Linux version" in m.console_text
True
"""
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpanic_lab.machine import Machine, MachineConfig

__all__ = ["Machine", "MachineConfig"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Machine is imported when first asked for, not with the package: so `python -m kpanic_lab` in a
    # Python without the lab's requirements (unicorn, ...) gets to say how to set up (__main__.py)
    if name in __all__:
        from kpanic_lab import machine

        return getattr(machine, name)
    raise AttributeError(f"module 'kpanic_lab' has no attribute {name!r}")
