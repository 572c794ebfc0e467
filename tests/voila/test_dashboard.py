"""The stepper dashboard renders under Voilà: the notebook runs server-side, code hidden, widgets sent.

Voilà executes the notebook when the page is requested and answers with the rendered page, so a
plain HTTP GET shows whether the dashboard comes up without a traceback.  The server is always
stopped; every wait is bounded.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kpanic_lab.guest import vmlinux_path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "notebooks" / "stepper_dashboard.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("voila") is None, reason="voila not installed (pip install voila)")
def test_stepper_dashboard_renders_under_voila(tmp_path):
    if not vmlinux_path().is_file():
        pytest.skip("no guest image")
    port = _free_port()
    log = open(tmp_path / "voila.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(DASHBOARD), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1", "--strip_sources=True"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT / "notebooks", start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("voila did not start:\n" + (tmp_path / "voila.log").read_text()[-2000:])
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=180) as r:
            assert r.status == 200
            page = r.read().decode("utf-8", "replace")
        assert "application/vnd.jupyter.widget-view+json" in page      # the stepper's widgets came out
        assert "Traceback" not in page and "kpanic-error" not in page
        assert "stepper_for(" not in page                              # sources stripped: a dashboard
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
