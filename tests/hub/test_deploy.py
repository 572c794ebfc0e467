"""Every file in deploy/ is checked: it parses, its keys are real, and the files agree with each other
and with what tests/hub measures (the environment, the server config, the per-student figures).

Zero to JupyterHub's own values.schema.json is not published in a package registry, so
deploy/z2jh/values.schema.json holds the chart's names and types for the keys config.yaml sets
(copied by hand from jupyterhub/values.schema.yaml in jupyterhub/zero-to-jupyterhub-k8s, chart 4.x).
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from tests.hub import hubload

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG = DEPLOY / "z2jh" / "config.yaml"
SCHEMA = DEPLOY / "z2jh" / "values.schema.json"
SERVER_CONFIG = DEPLOY / "jupyter" / "jupyter_server_config.json"
TLJH_SNIPPET = DEPLOY / "tljh" / "kpanic_class.py"
TLJH_INSTALL = DEPLOY / "tljh" / "install.sh"
LINKS = DEPLOY / "nbgitpuller_links.py"
README = DEPLOY / "README.md"

# the settings tljh-config knows (TLJH's docs, "Configuring TLJH with tljh-config": limits.memory,
# limits.cpu, user_environment.default_app, services.cull.*)
TLJH_KEYS = {"limits.memory", "limits.cpu", "user_environment.default_app", "services.cull.enabled",
             "services.cull.timeout", "services.cull.every", "services.cull.concurrency",
             "services.cull.users", "services.cull.max_age", "auth.type", "https.enabled"}

# the per-student figure the limits rest on: benchmarks/bench_hub.py --check holds one student to GOAL_MIB
from tests.hub.hubload import GOAL_MIB  # noqa: E402


def _values() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def _schema() -> dict:
    return json.loads(SCHEMA.read_text())


def _bytes(k8s_quantity: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", str(k8s_quantity))
    assert m, f"not a Kubernetes quantity: {k8s_quantity!r}"
    unit = m.group(2) or ""
    base = 1024 if unit.endswith("i") else 1000
    power = " KMGT".index(unit[:1]) if unit else 0
    return int(float(m.group(1)) * base ** power)


def test_every_file_in_deploy_is_checked_here():
    checked = {CONFIG, SCHEMA, SERVER_CONFIG, TLJH_SNIPPET, TLJH_INSTALL, LINKS, README}
    present = {p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert present == checked, f"unchecked: {sorted(map(str, present - checked))}; gone: {sorted(map(str, checked - present))}"


# ------------------------------------------------------------------------------ Zero to JupyterHub
def test_the_helm_values_validate_against_the_charts_schema():
    schema = _schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(_values(), schema)


@pytest.mark.parametrize("path, value", [
    (("singleuser", "memory", "limt"), "1G"),           # a misspelt key
    (("singleuser", "cpu", "limit"), "one"),             # a wrong type
    (("cull", "timeout"), "1h"),
    (("prePuller", "hook", "enabled"), "yes"),
    (("singleuser", "storage", "type"), "nfs"),          # not one of the chart's enum
])
def test_the_schema_catches_a_bad_value(path, value):
    v = copy.deepcopy(_values())
    node = v
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(v, _schema())


def test_the_per_student_resources_follow_the_measurements():
    su = _values()["singleuser"]
    guarantee, limit = _bytes(su["memory"]["guarantee"]), _bytes(su["memory"]["limit"])
    assert GOAL_MIB * 2**20 <= guarantee < limit            # a measured student fits its guarantee
    assert limit >= guarantee + 3 * 150 * 2**20             # and three more kernels fit its limit
    assert 0 < su["cpu"]["guarantee"] <= su["cpu"]["limit"] == 1    # the machine runs on one thread
    assert su["cpu"]["guarantee"] >= 1 / 7          # bench_hub.py: ~7 students a core kept clicks <= 1 s
    assert _values()["cull"]["enabled"] is True and _values()["cull"]["timeout"] > 0


def test_the_helm_values_carry_the_measured_environment_and_server_config():
    su = _values()["singleuser"]
    for k, v in hubload.STUDENT_ENVIRONMENT.items():
        assert su["extraEnv"][k] == v
    files = su["extraFiles"]
    (mounted,) = [f for f in files.values() if f["mountPath"].endswith("/jupyter_server_config.json")]
    assert mounted["data"] == json.loads(SERVER_CONFIG.read_text())
    assert su["extraEnv"]["JUPYTER_CONFIG_PATH"] == str(Path(mounted["mountPath"]).parent)


def test_the_hub_config_names_real_traits():
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator

    hub = _values()["hub"]["config"]
    classes = {"JupyterHub": JupyterHub, "Authenticator": Authenticator}
    for cls_name, traits in hub.items():
        if cls_name not in classes:
            # FirstUseAuthenticator ships in the chart's hub image, not in our test extras
            assert cls_name == "FirstUseAuthenticator" and set(traits) == {"create_users"}
            continue
        for trait in traits:
            assert classes[cls_name].class_traits(config=True).get(trait), f"{cls_name}.{trait} is not a config trait"


# ------------------------------------------------------------------------------ the server config
def test_the_server_config_turns_off_only_what_a_student_does_not_use():
    cfg = json.loads(SERVER_CONFIG.read_text())
    ext = cfg["ServerApp"]["jpserver_extensions"]
    assert set(cfg) == {"ServerApp"} and set(cfg["ServerApp"]) == {"jpserver_extensions"}
    assert all(v is False for v in ext.values())
    for needed in ("jupyterlab", "voila.server_extension", "nbgitpuller", "jupyter_server_terminals"):
        assert needed not in ext
    assert {"jupyter_lsp", "nbgrader.server_extensions.formgrader"} <= set(ext)


# ------------------------------------------------------------------------------ TLJH
def test_the_tljh_snippet_sets_real_spawner_traits_to_the_measured_environment():
    from jupyterhub.spawner import Spawner

    c = Config()
    exec(compile(TLJH_SNIPPET.read_text(), str(TLJH_SNIPPET), "exec"), {"get_config": lambda: c})
    traits = Spawner.class_traits(config=True)
    for name in c.Spawner:
        assert name in traits, f"Spawner.{name} is not a config trait"
    env = c.Spawner.environment.get_value({}) if hasattr(c.Spawner.environment, "get_value") else c.Spawner.environment
    for k, v in hubload.STUDENT_ENVIRONMENT.items():
        assert env[k] == v
    assert env["JUPYTER_CONFIG_PATH"] == "/opt/kpanic_lab/deploy/jupyter"


def test_the_tljh_recipe_is_valid_bash_with_known_settings_matching_the_helm_values():
    text = TLJH_INSTALL.read_text()
    subprocess.run(["bash", "-n", str(TLJH_INSTALL)], check=True)
    sets = dict(re.findall(r'"\$TLJH_CONFIG" set (\S+) (\S+)', text))
    assert set(sets) <= TLJH_KEYS, f"unknown tljh-config keys: {set(sets) - TLJH_KEYS}"
    su = _values()["singleuser"]
    assert _bytes(sets["limits.memory"]) == _bytes(su["memory"]["limit"])
    assert float(sets["limits.cpu"]) == su["cpu"]["limit"]
    assert int(sets["services.cull.timeout"]) == _values()["cull"]["timeout"]
    assert sets["user_environment.default_app"] == "jupyterlab"
    assert "/opt/tljh/config/jupyterhub_config.d/" in text and "deploy/tljh/kpanic_class.py" in text
    for path in re.findall(r'\$SRC/([\w./-]+)', text):
        assert (ROOT / path).exists(), f"install.sh names {path}, which is not in the repository"


def test_the_tljh_recipe_without_an_admin_says_how_to_call_it():
    r = subprocess.run(["bash", str(TLJH_INSTALL)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "usage:" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ nbgitpuller links
def _links_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("nbgitpuller_links", LINKS)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_link_opens_a_notebook_that_exists():
    mod = _links_module()
    rows = mod.links("https://hub.example.org", "https://github.com/OWNER/kpanic_lab")
    assert [nb for nb, _ in rows][:2] == ["notebooks/00_tour.ipynb", "notebooks/01_oops_and_panic.ipynb"]
    for nb, url in rows:
        parts = urlsplit(url)
        assert parts.path == "/hub/user-redirect/git-pull"
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert q["repo"] == "https://github.com/OWNER/kpanic_lab" and q["branch"] == "main"
        prefix = f"lab/tree/{q['targetpath']}/"
        assert q["urlpath"].startswith(prefix)
        assert (ROOT / q["urlpath"][len(prefix):]).is_file()


def test_a_bad_url_is_one_line_naming_it(capsys):
    mod = _links_module()
    with pytest.raises(ValueError, match="hub 'hub.example.org': not an http"):
        mod.link("hub.example.org", "https://github.com/OWNER/kpanic_lab", "notebooks/00_tour.ipynb")
    assert mod.main(["https://hub.example.org", "git@github.com:OWNER/kpanic_lab"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nbgitpuller_links: repo ") and len(err.splitlines()) == 1


def test_the_image_has_nbgitpuller_for_the_links():
    reqs = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("nbgitpuller==") for line in reqs)


# ------------------------------------------------------------------------------ the README
def test_the_readme_names_only_files_that_exist_and_the_build_flags_the_hub_needs():
    text = README.read_text()
    for name in re.findall(r"`((?:z2jh|tljh|jupyter)/[\w.]+|nbgitpuller_links\.py)`", text):
        assert (DEPLOY / name).is_file(), name
    for flag in ("--user-id 1000", "--target-repo-dir"):
        assert flag in text
    assert "repo2docker" in text and "binder/" in text


def test_the_readmes_class_section_names_only_deploy_files_that_exist():
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## For a class\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"deploy/[\w./-]*\w", section))
    assert {"deploy/tljh/install.sh", "deploy/z2jh/config.yaml", "deploy/nbgitpuller_links.py"} <= named
    for path in named:
        assert (ROOT / path).exists(), f"README's 'For a class' names {path}, which is not there"
    assert "bench_hub.py" in section and "Binder" in section


def test_nbgitpuller_links_never_hand_out_the_exercise_solutions():
    """exercises/ is nbgrader's source (solutions inside): no student link may open it."""
    import importlib.util
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("nbgitpuller_links", root / "deploy" / "nbgitpuller_links.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    found = mod.notebooks(root)
    assert found and not any(p.startswith("exercises/") for p in found)
    assert any("BEGIN SOLUTION" in p.read_text() for p in (root / "exercises").glob("*.ipynb"))
