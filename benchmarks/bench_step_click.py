"""A Step click in the real browser: from the click to the repainted stepper, in JupyterLab.

    python benchmarks/bench_step_click.py [--check]

Runs tests/browser/test_lab_widgets.py (JupyterLab on 127.0.0.1, Debian's headless chromium driven
by Playwright, notebooks/02 at 1024x768): 20 clicks, each timed in the page from the click to the
second animation frame after the stage label changed (the kernel ran the guest to the next stage
and every widget of the stepper was updated).  Target (issue 12): <= 100 ms median.  Needs
/usr/bin/chromium and the playwright package; without them it is skipped with a message.  Writes
benchmarks/results/bench_step_click.json (every click's time).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, Result, arg_parser, no_guest_image, report, skip_all  # noqa: E402

TARGET = 0.100
FIGURES = ROOT / "tests" / "browser" / "artifacts" / "stepper_latency.json"


def main(argv: Optional[List[str]] = None) -> int:
    a = arg_parser(__doc__, runs_help="ignored: the browser test makes 20 clicks").parse_args(argv)
    click = Result("Step click to repaint, in chromium (median of 20)", "s", TARGET,
                   measured_on="JupyterLab 4, headless chromium, notebooks/02's stepper at 1024x768, SysRq-c")
    results = [click]
    missing = no_guest_image()
    if not missing and not Path("/usr/bin/chromium").is_file():
        missing = "no /usr/bin/chromium (apt-get install chromium)"
    if missing:
        skip_all(results, missing)
        return report("bench_step_click", results, a.check)
    FIGURES.unlink(missing_ok=True)
    env = dict(os.environ, CI="")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/browser/test_lab_widgets.py::test_stepper_in_02_fits_1024x768_and_steps"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if not FIGURES.is_file():
        skip_all(results, "the browser test measured nothing: " + (run.stdout + run.stderr).strip()[-300:])
        return report("bench_step_click", results, a.check)
    figures = json.loads(FIGURES.read_text())
    click.runs = [ms / 1000 for ms in figures["clicks"]]
    return report("bench_step_click", results, a.check, extra={"browser_test": "passed" if run.returncode == 0
                                                                else "failed: " + run.stdout.strip()[-300:]})


if __name__ == "__main__":
    sys.exit(main())
