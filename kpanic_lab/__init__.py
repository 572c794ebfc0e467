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
from kpanic_lab.machine import Machine, MachineConfig

__all__ = ["Machine", "MachineConfig"]
__version__ = "0.1.0"
