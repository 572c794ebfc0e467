"""A crash-like shell over the analysis layer: crash's commands and output forms.

>>> from kpanic_lab.crash import CrashSession          # doctest: +SKIP
>>> s = CrashSession.live("sysrq-c")                    # a panicked lab machine  # doctest: +SKIP
>>> s = CrashSession.open("vmcore")                     # or a dump               # doctest: +SKIP
>>> print(s.run("bt"))                                  # doctest: +SKIP

``registry`` holds the command table (the ``@command`` decorator), ``session`` runs
lines (pipes, ``--py``, errors as one line), ``render``/``render_mem`` write crash's
forms, ``commands/`` are the commands, ``repl`` is the interactive and batch front-end.
"""
from kpanic_lab.crash.registry import COMMANDS, CommandError, Output, command
from kpanic_lab.crash.session import CrashSession

__all__ = ["CrashSession", "COMMANDS", "CommandError", "Output", "command"]
