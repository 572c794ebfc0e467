"""A class on one JupyterHub, simulated: a local hub, N students, their notebooks, what each costs.

Shared by tests/hub/test_hub.py (10 students) and benchmarks/bench_hub.py (up to the limit).

- :class:`LocalHub` starts ``jupyterhub`` on 127.0.0.1 (free ports, a folder of its own) with
  JupyterHub's DummyAuthenticator and SimpleLocalProcessSpawner, answers its REST API with a service
  token, and on :meth:`LocalHub.stop` kills the hub, the proxy and every server and kernel it spawned
  (collected from the process tree before the hub goes), whatever state they are in.
- :class:`Student` does what a student's browser does, over HTTP and the kernel websocket only: log in
  (a token from the hub's REST API for username + password), start the server, upload the notebook
  :data:`STUDENT_NOTEBOOK` (contents API), open it (sessions API, which starts its kernel), run its
  cells, and click the stepper's Step button (a widget ``comm_msg``, as JupyterLab sends on a click).
- :func:`tree_memory` is the resident memory of a student's server and its kernel (psutil).

Every wait is bounded; nothing listens beyond 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import nbformat
import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
# the students' Jupyter server config that deploy/ installs (extensions a student does not use, off)
SERVER_CONFIG = ROOT / "deploy" / "jupyter"
# the students' environment that deploy/ sets (Zero to JupyterHub's singleuser.extraEnv, TLJH's
# Spawner.environment): glibc's mmap threshold fixed at its 128 KiB default, so the multi-MiB numpy
# buffers of a snapshot or a dump go back to the system when freed instead of staying in the heap
STUDENT_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": "131072"}
PASSWORD = "kpanic-class"          # DummyAuthenticator's shared password (127.0.0.1 only)
REQUEST_TIMEOUT = 120.0            # one HTTP request, at most (a server start under load is the slowest)
CELL_TIMEOUT = 180.0               # one notebook cell, at most

# The notebook each simulated student runs: a panic stepper and a whole kdump cycle, as in notebooks
# 02 and 05.  Cell 0's last line names the Step button's widget model, which the student then clicks.
STUDENT_CELLS: Tuple[str, ...] = (
    "from kpanic_lab.viz import stepper_for\n"
    "st = stepper_for('sysrq-c')\n"
    "st.step()\n"
    "display(st)\n"
    "print(st.stage_key, st.step_button.model_id)",
    "from kpanic_lab.kdump.run import KdumpRun\n"
    "run = KdumpRun('sysrq-c', crash_dir='crash').run()\n"
    "print(run.end, run.outcome.status, run.outcome.vmcore.stat().st_size)",
    "print(st.position, st.stage_key, repr(st.error))",
)


class HubError(RuntimeError):
    """The local hub, a student's server or a kernel did not do what was asked (one line, with who)."""


def missing_tools() -> Optional[str]:
    """Why a local hub cannot run here (the missing package named), or None."""
    for exe, pkg in (("jupyterhub", "jupyterhub (pip install jupyterhub)"),
                     ("jupyterhub-singleuser", "jupyterhub (pip install jupyterhub)")):
        if not (BIN / exe).exists():
            return f"{exe} not in {BIN}: install {pkg}"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy not on PATH: npm install -g configurable-http-proxy"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def student_notebook() -> nbformat.NotebookNode:
    """The notebook a simulated student opens and runs (:data:`STUDENT_CELLS`)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in STUDENT_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


# ------------------------------------------------------------------------------------------ hub
HUB_CONFIG = """\
# written by tests/hub/hubload.py: a throw-away hub on 127.0.0.1 for simulated students
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = "sqlite:///{dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{dir}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{dir}/home/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {environment!r}
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.services = [{{"name": "class-admin", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "class-admin", "services": ["class-admin"],
                             "scopes": ["admin:users", "admin:servers", "tokens", "list:users"]}}]
"""


class LocalHub:
    """``jupyterhub`` on 127.0.0.1 in ``workdir``; a context manager that always cleans up."""

    def __init__(self, workdir: Path, *, start_timeout: float = 90.0,
                 server_config: Optional[Path] = SERVER_CONFIG,
                 environment: Optional[Dict[str, str]] = None) -> None:
        """``server_config``: a folder put on the servers' JUPYTER_CONFIG_PATH (None: stock servers);
        ``environment``: the servers' (and so their kernels') environment (default deploy/'s)."""
        self.dir = Path(workdir).resolve()
        self.server_config = server_config
        self.environment = dict(STUDENT_ENVIRONMENT if environment is None else environment)
        self.start_timeout = start_timeout
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.log_path = self.dir / "jupyterhub.log"
        self.hub_port = 0
        self._seen: Dict[int, psutil.Process] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LocalHub":
        why = missing_tools()
        if why:
            raise HubError(why)
        (self.dir / "home").mkdir(parents=True, exist_ok=True)
        args = ["--allow-root"] if os.geteuid() == 0 else []
        environment = dict(self.environment)
        if self.server_config:
            environment["JUPYTER_CONFIG_PATH"] = str(self.server_config)
        cfg = self.dir / "jupyterhub_config.py"
        self.hub_port = free_port()
        cfg.write_text(HUB_CONFIG.format(port=self.port, hub_port=self.hub_port, proxy_api_port=free_port(),
                                         proxy_token=secrets.token_hex(16), dir=self.dir, password=PASSWORD,
                                         singleuser=str(BIN / "jupyterhub-singleuser"), args=args,
                                         token=self.token, environment=environment))
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(cfg)], cwd=self.dir, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with {self.proc.returncode} while starting: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HubError(f"jupyterhub did not answer on {self.url} within {self.start_timeout:.0f} s: "
                               f"{self.log_tail()}")
            time.sleep(0.3)
        self._remember()
        return self

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) + f" (log: {self.log_path})"

    def __enter__(self) -> "LocalHub":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ processes
    def _remember(self) -> None:
        """Note every process under the hub now, so stop() can kill them after the hub is gone."""
        if self.proc is None:
            return
        try:
            root = psutil.Process(self.proc.pid)
            for p in [root] + root.children(recursive=True):
                self._seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass

    def hub_memory(self) -> Dict[str, float]:
        """Resident memory of the hub and its proxy (the students' servers not counted), in MiB."""
        if self.proc is None:
            raise HubError("the hub is not running")
        root = psutil.Process(self.proc.pid)
        total = {"rss": 0.0, "pss": 0.0, "uss": 0.0, "processes": 0.0}
        proxies = [c for c in root.children() if "configurable-http-proxy" in " ".join(_cmdline(c))]
        for part in [_one_memory(root)] + [tree_memory(p) for p in proxies]:
            for k in total:
                total[k] += part[k]
        return total

    def processes(self) -> List[psutil.Process]:
        """Every process the hub started that is still alive (empty after :meth:`stop`)."""
        self._remember()
        return [p for p in self._seen.values() if _alive(p)] + self.strays()

    def strays(self) -> List[psutil.Process]:
        """Servers and kernels of this hub no longer under it (their parent died first): found by the
        hub API URL in their environment, which every server and kernel of this hub inherits."""
        if not self.hub_port:
            return []
        mark = f"127.0.0.1:{self.hub_port}/"
        found = []
        for p in psutil.process_iter():
            if p.pid in self._seen or p.pid == os.getpid():
                continue
            try:
                if mark in p.environ().get("JUPYTERHUB_API_URL", ""):
                    found.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return [p for p in found if _alive(p)]

    def server_process(self, user: str) -> psutil.Process:
        """The single-user server the hub spawned for ``user``."""
        if self.proc is None:
            raise HubError("the hub is not running")
        self._remember()
        for c in psutil.Process(self.proc.pid).children():
            try:
                if c.environ().get("JUPYTERHUB_USER") == user:
                    return c
            except (psutil.AccessDenied, psutil.NoSuchProcess):
                continue
        raise HubError(f"no server process for student {user!r} under the hub (pid {self.proc.pid})")

    def stop(self) -> None:
        """Kill the hub, its proxy, and every server and kernel it spawned; idempotent."""
        self._remember()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        procs = [p for p in self._seen.values() if _alive(p)] + self.strays()
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=10)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    # ------------------------------------------------------------------ REST
    async def api(self, method: str, path: str, body: Any = None, *, token: Optional[str] = None,
                  timeout: float = REQUEST_TIMEOUT) -> Tuple[int, Any]:
        """One call to the hub's REST API (``/hub/api`` + path) with the admin service's token."""
        return await http_json(method, f"{self.url}/hub/api{path}", body, token=token or self.token,
                               timeout=timeout)


def _cmdline(p: psutil.Process) -> List[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def http_json(method: str, url: str, body: Any = None, *, token: Optional[str] = None,
                    timeout: float = REQUEST_TIMEOUT) -> Tuple[int, Any]:
    """(status, decoded JSON or None); an HTTP error is a HubError naming the method, URL and answer."""
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None if body is None else json.dumps(body)
    if method in ("POST", "PUT", "PATCH") and data is None:
        data = ""
    req = HTTPRequest(url, method=method, headers=headers, body=data, request_timeout=timeout,
                      connect_timeout=min(timeout, 20.0))
    try:
        r = await AsyncHTTPClient().fetch(req)
    except HTTPClientError as e:
        text = e.response.body.decode("utf-8", "replace")[:300] if e.response is not None and e.response.body else ""
        raise HubError(f"{method} {url}: HTTP {e.code} {text}".strip()) from None
    except OSError as e:
        raise HubError(f"{method} {url}: {e}") from None
    return r.code, (json.loads(r.body) if r.body else None)


def _one_memory(p: psutil.Process) -> Dict[str, float]:
    try:
        m = p.memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return {"rss": 0.0, "pss": 0.0, "uss": 0.0, "processes": 0.0}
    return {"rss": m.rss / 2**20, "pss": getattr(m, "pss", m.rss) / 2**20, "uss": m.uss / 2**20,
            "processes": 1.0}


def tree_memory(proc: psutil.Process) -> Dict[str, float]:
    """Resident memory of ``proc`` and every process under it, in MiB: rss, pss, uss; and their count.

    rss counts shared pages (libraries) once per process, so it is what a per-user limit sees;
    pss shares them out, so pss summed over a class is what the machine holds.
    """
    out = {"rss": 0.0, "pss": 0.0, "uss": 0.0, "processes": 0.0}
    for p in [proc] + proc.children(recursive=True):
        for k, v in _one_memory(p).items():
            out[k] += v
    return out


# ------------------------------------------------------------------------------------------ students
@dataclass
class StudentResult:
    """What one simulated student saw and cost."""

    name: str
    login_s: float = 0.0                 # token from username + password
    server_s: float = 0.0                # server start asked -> ready
    kernel_s: float = 0.0                # notebook opened -> kernel answering
    first_stage_s: float = 0.0           # the stepper cell run -> its first stage shown
    kdump_s: float = 0.0                 # the kdump cycle cell
    clicks_s: List[float] = field(default_factory=list)   # Step clicks, each answered
    outputs: List[str] = field(default_factory=list)       # each cell's printed text
    memory: Dict[str, float] = field(default_factory=dict)


class Student:
    """One simulated student on ``hub``: everything over HTTP and the kernel's websocket."""

    def __init__(self, hub: LocalHub, name: str) -> None:
        self.hub, self.name = hub, name
        self.token = ""
        self.result = StudentResult(name)
        self.ws: Optional[WebSocketClientConnection] = None
        self.session_id = uuid.uuid4().hex
        self.button = ""

    @property
    def base(self) -> str:
        return f"{self.hub.url}/user/{self.name}"

    async def login(self) -> None:
        """A token for this student from the hub's REST API, by username and password."""
        t = time.perf_counter()
        _, reply = await http_json("POST", f"{self.hub.url}/hub/api/users/{self.name}/tokens",
                                   {"auth": {"username": self.name, "password": PASSWORD},
                                    "note": "simulated student", "expires_in": 3600})
        self.token = reply["token"]
        self.result.login_s = time.perf_counter() - t

    async def start_server(self, timeout: float = 240.0) -> None:
        t = time.perf_counter()
        await http_json("POST", f"{self.hub.url}/hub/api/users/{self.name}/server", token=self.token)
        deadline = time.monotonic() + timeout
        while True:
            _, model = await http_json("GET", f"{self.hub.url}/hub/api/users/{self.name}", token=self.token)
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                break
            if server is None and model.get("pending") is None:
                raise HubError(f"student {self.name}: the server stopped while starting: {self.hub.log_tail()}")
            if time.monotonic() > deadline:
                raise HubError(f"student {self.name}: server not ready within {timeout:.0f} s")
            await asyncio.sleep(0.25)
        self.result.server_s = time.perf_counter() - t

    async def open_notebook(self, path: str = "kpanic_class.ipynb") -> None:
        """Upload the notebook, open it (a session: its kernel starts), connect to the kernel."""
        nb = student_notebook()
        await http_json("PUT", f"{self.base}/api/contents/{path}",
                        {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))},
                        token=self.token)
        t = time.perf_counter()
        _, session = await http_json("POST", f"{self.base}/api/sessions",
                                     {"path": path, "type": "notebook", "name": path,
                                      "kernel": {"name": "python3"}}, token=self.token)
        kid = session["kernel"]["id"]
        ws_url = self.base.replace("http://", "ws://", 1) + f"/api/kernels/{kid}/channels?session_id={self.session_id}"
        req = HTTPRequest(ws_url, headers={"Authorization": f"token {self.token}"}, request_timeout=REQUEST_TIMEOUT,
                          connect_timeout=60.0)
        self.ws = await asyncio.wait_for(websocket_connect(req, max_message_size=64 * 2**20), REQUEST_TIMEOUT)
        await self._request("shell", "kernel_info_request", {}, timeout=CELL_TIMEOUT)
        self.result.kernel_s = time.perf_counter() - t

    def _message(self, channel: str, msg_type: str, content: Dict[str, Any]) -> Dict[str, Any]:
        return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": self.name,
                           "session": self.session_id, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}

    async def _request(self, channel: str, msg_type: str, content: Dict[str, Any], *,
                       timeout: float) -> Tuple[str, Optional[Dict[str, Any]]]:
        """Send one message; read until the kernel is idle after it: (stdout text, the error if any)."""
        assert self.ws is not None
        msg = self._message(channel, msg_type, content)
        mid = msg["header"]["msg_id"]
        await self.ws.write_message(json.dumps(msg))
        out: List[str] = []
        error: Optional[Dict[str, Any]] = None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HubError(f"student {self.name}: no answer to {msg_type} within {timeout:.0f} s")
            raw = await asyncio.wait_for(self.ws.read_message(), left)
            if raw is None:
                raise HubError(f"student {self.name}: the kernel's websocket closed during {msg_type}")
            if isinstance(raw, bytes):
                continue                      # binary frames carry widget buffers: not needed here
            m = json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") != mid:
                continue
            kind, c = m["header"]["msg_type"], m.get("content", {})
            if kind == "stream":
                out.append(c.get("text", ""))
            elif kind == "error" or (kind.endswith("_reply") and c.get("status") == "error"):
                error = error or c
            elif kind == "status" and c.get("execution_state") == "idle":
                return "".join(out), error

    async def run_cell(self, index: int) -> str:
        """Run cell ``index`` of the notebook; its printed text (an error in it is a HubError)."""
        text, error = await self._request("shell", "execute_request",
                                          {"code": STUDENT_CELLS[index], "silent": False, "store_history": True,
                                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                                          timeout=CELL_TIMEOUT)
        if error is not None:
            raise HubError(f"student {self.name}: cell {index} failed: {error.get('ename')}: {error.get('evalue')}")
        self.result.outputs.append(text)
        return text

    async def click_step(self) -> float:
        """Click Step the way JupyterLab does (a widget comm_msg); seconds until the kernel is idle again."""
        if not self.button:
            raise HubError(f"student {self.name}: no Step button yet (run cell 0 first)")
        t = time.perf_counter()
        _, error = await self._request("shell", "comm_msg",
                                       {"comm_id": self.button, "data": {"method": "custom",
                                                                         "content": {"event": "click"}}},
                                       timeout=CELL_TIMEOUT)
        dt = time.perf_counter() - t
        if error is not None:
            raise HubError(f"student {self.name}: the Step click failed: {error.get('ename')}: {error.get('evalue')}")
        self.result.clicks_s.append(dt)
        return dt

    async def prepare(self) -> None:
        """Log in, start the server, open the notebook, run the stepper cell and the kdump cell."""
        await self.login()
        await self.start_server()
        await self.open_notebook()
        t = time.perf_counter()
        words = (await self.run_cell(0)).split()
        self.result.first_stage_s = time.perf_counter() - t
        if len(words) != 2 or words[0] != "TRIGGER":
            raise HubError(f"student {self.name}: the stepper's first stage is not TRIGGER: {' '.join(words)!r}")
        self.button = words[1]
        t = time.perf_counter()
        await self.run_cell(1)
        self.result.kdump_s = time.perf_counter() - t

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None


async def click_together(students: Sequence[Student]) -> List[float]:
    """Every student clicks Step at the same moment (a lecturer's "now step"); each one's answer time."""
    return list(await asyncio.gather(*(s.click_step() for s in students)))


async def create_students(hub: LocalHub, names: Sequence[str]) -> None:
    """The teacher's part: make the class's accounts (the admin service's token)."""
    await hub.api("POST", "/users", {"usernames": list(names)})


# ------------------------------------------------------------------------------------------ a class
# The machine the issue sizes a class for: 2 cores, 24 GiB; the operating system keeps 1 GiB.
MACHINE_MIB = 24 * 1024
RESERVED_MIB = 1024
CLICK_LIMIT_S = 1.0
GOAL_MIB = 300          # one student resident: server, kernel, a stepper and a kdump cycle (issue 16)


@dataclass
class ClassResult:
    """A whole class's run: each student, each burst of simultaneous Step clicks, the hub's own cost."""

    students: List[StudentResult]
    bursts: List[List[float]]
    hub_memory: Dict[str, float]
    prepare_s: float

    @property
    def worst_click_s(self) -> float:
        return max(max(b) for b in self.bursts)

    def per_student(self, key: str = "rss") -> float:
        """The largest student's resident memory, MiB (``key``: rss, pss or uss)."""
        return max(s.memory[key] for s in self.students)


async def run_class(hub: LocalHub, n: int, *, rounds: int = 3, prefix: str = "student",
                    timeout: float = 600.0) -> ClassResult:
    """``n`` students at once: accounts, log in, servers, the notebook, then ``rounds`` bursts of
    Step clicks by everyone together; each student's memory is read after the kdump cycle."""
    names = [f"{prefix}{i:03d}" for i in range(n)]
    await create_students(hub, names)
    students = [Student(hub, x) for x in names]
    try:
        t = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(s.prepare() for s in students)), timeout)
        prepare_s = time.perf_counter() - t
        for s in students:
            s.result.memory = tree_memory(hub.server_process(s.name))
        bursts = [await asyncio.wait_for(click_together(students), timeout) for _ in range(rounds)]
        for s in students:
            await s.run_cell(2)
        return ClassResult([s.result for s in students], bursts, hub.hub_memory(), prepare_s)
    finally:
        for s in students:
            await s.close()


def memory_capacity(per_student_mib: float, hub_mib: float, machine_mib: float = MACHINE_MIB,
                    reserved_mib: float = RESERVED_MIB) -> int:
    """How many students' memory fits beside the hub on a machine of ``machine_mib``."""
    return max(0, int((machine_mib - reserved_mib - hub_mib) // per_student_mib))


def click_capacity(students: int, worst_click_s: float, limit_s: float = CLICK_LIMIT_S) -> int:
    """An estimate: how many students clicking at once still see every Step answered in ``limit_s``,
    when the answer time grows in proportion to the number clicking (the cores are the bottleneck).
    benchmarks/bench_hub.py measures it instead, by adding students until a click takes longer."""
    return int(students * limit_s / worst_click_s) if worst_click_s > 0 else students
