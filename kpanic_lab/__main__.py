"""``python -m kpanic_lab`` is the ``kpanic-lab`` command.

Run with a Python that lacks the lab's requirements (the system's ``python3`` instead of the one in
``.venv``), it says in one line how to set up, not with an ImportError's traceback.
"""
import sys

# Said in English only: the lab's translations need its requirements too (babel), which are missing here.
SETUP_HINT = ("kpanic-lab: this Python ({python}) does not have the lab's requirements (no module {module!r}): "
              "run `make install` in the lab's folder, then `source .venv/bin/activate` "
              "(or use .venv/bin/python -m kpanic_lab)")

if __name__ == "__main__":
    # the commands import what they need when they run (makedumpfile does not start Unicorn), so a
    # missing requirement can show up in main() as well as in importing the CLI
    try:
        from kpanic_lab.cli import main

        rc = main()
    except ModuleNotFoundError as e:
        if not e.name or e.name.split(".")[0] == "kpanic_lab":
            raise                                   # the lab itself is broken: that is a bug, show it
        print(SETUP_HINT.format(python=sys.executable, module=e.name), file=sys.stderr)
        sys.exit(1)
    sys.exit(rc)
