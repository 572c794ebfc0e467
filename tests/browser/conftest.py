"""The real-browser tests: JupyterLab on 127.0.0.1, driven by Playwright in Debian's chromium.

They need ``/usr/bin/chromium`` (``apt-get install chromium``), the ``playwright`` package
(in the test extras: ``pip install -e '.[test]'``, which ``make install`` runs; its own browser
download is not used) and
the guest image.  Without them the tests are skipped, saying what is missing, except under CI
(``CI=true``), where .ci/run installs both and a missing piece is a failure, never a silent skip.

Every wait is bounded, and the JupyterLab server is stopped at the end whatever happened.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest

from kpanic_lab.guest import vmlinux_path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 90       # JupyterLab answering /api/status
SERVER_STOP_SECONDS = 15        # SIGTERM, then SIGKILL


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives JupyterLab in a real (headless) chromium")


def _missing() -> List[str]:
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (make install, or pip install -e '.[test]')")
    if importlib.util.find_spec("jupyterlab") is None:
        missing.append("jupyterlab")
    if not vmlinux_path().is_file():
        missing.append("the guest image (make guest)")
    return missing


@pytest.fixture(scope="module", autouse=True)
def _needs_a_browser() -> None:
    missing = _missing()
    if not missing:
        return
    why = "the real-browser test needs " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail("CI must run it: " + why, pytrace=False)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    url: str            # http://127.0.0.1:PORT
    token: str
    process: "subprocess.Popen[bytes]"
    log: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _wait_until_up(server: LabServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.page_url("api/status"), timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{server.log_tail()}")


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM the server's process group (the server and its kernels), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=SERVER_STOP_SECONDS)


@pytest.fixture(scope="module")
def lab_server() -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1, a free port, a token, its own config and settings folders."""
    home = Path(tempfile.mkdtemp(prefix="kpanic-lab-browser-"))
    port, token = free_port(), os.urandom(16).hex()
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={NOTEBOOKS}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    # no autosave (the notebook in the repository stays as it is), and no "official Jupyter news?"
    # prompt over the page in the screenshot
    for plugin, setting in (("docmanager-extension/plugin", '{"autosave": false}'),
                            ("apputils-extension/notification", '{"fetchNews": "false"}')):
        folder, name = plugin.split("/")
        (home / "settings" / "@jupyterlab" / folder).mkdir(parents=True, exist_ok=True)
        (home / "settings" / "@jupyterlab" / folder / f"{name}.jupyterlab-settings").write_text(setting)
    log = home / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=NOTEBOOKS, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, process, log)
    try:
        _wait_until_up(server, time.monotonic() + SERVER_START_SECONDS)
        yield server
    finally:
        _stop(process)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def browser_page(lab_server: LabServer) -> Iterator["object"]:
    """A page in a fresh headless chromium (a new user data dir), closed at the end."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="kpanic-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, timeout=60_000)
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
