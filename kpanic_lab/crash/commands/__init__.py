"""The shell's commands; importing this package registers them all (registry.COMMANDS)."""
from kpanic_lab.crash.commands import code, help, kernel, memory, tasks  # noqa: F401
