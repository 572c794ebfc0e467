"""``python -m kpanic_lab`` is the ``kpanic-lab`` command."""
import sys

from kpanic_lab.cli import main

sys.exit(main())
