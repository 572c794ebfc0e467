#!/usr/bin/env bash
# Binder check: build what repo2docker would build from binder/ alone, then run every notebook in it.
#
#   - a fresh virtual environment, installed from exactly binder/requirements.txt (which names the
#     lab itself, `-e .`), wheels only (--only-binary=:all:): nothing may need compiling;
#   - apt.txt's packages present (`dot` for the stage graphs), runtime.txt's Python used;
#   - postBuild run into a scratch HOME: it must set JupyterLab's start page to a notebook that exists;
#   - every notebook in notebooks/ executed top to bottom by nbclient, in that environment's kernel,
#     from notebooks/ as JupyterLab would; any error fails the check.
#
# Usage: bash .ci/binder_check.sh      (CI calls it after the main tests; needs network for pip)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

work="$(mktemp -d -t kpanic-binder-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# --- runtime.txt: python-X.Y --------------------------------------------------------------------
want="$(sed -n 's/^python-\([0-9]*\.[0-9]*\).*/\1/p' binder/runtime.txt)"
py=""
for cand in "python$want" python3; do
    if command -v "$cand" >/dev/null && [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$want" ]; then
        py="$cand"; break
    fi
done
if [ -z "$py" ]; then
    echo "binder-check: binder/runtime.txt asks for Python $want; no python$want here" >&2
    exit 1
fi

# --- apt.txt ------------------------------------------------------------------------------------
while read -r pkg; do
    pkg="${pkg%%#*}"; pkg="$(echo "$pkg" | tr -d '[:space:]')"
    [ -z "$pkg" ] && continue
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        echo "binder-check: apt.txt names $pkg, which is not installed here (apt-get install $pkg)" >&2
        exit 1
    fi
done < binder/apt.txt

# --- requirements.txt, into a fresh venv, wheels only ---------------------------------------------
start=$(date +%s)
"$py" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check -q --only-binary=:all: \
    -r binder/requirements.txt </dev/null
"$work/venv/bin/python" -m pip check
echo "binder-check: installed binder/requirements.txt into a fresh venv (Python $want) in $(( $(date +%s) - start )) s"

# --- postBuild: the start page --------------------------------------------------------------------
mkdir -p "$work/home"
HOME="$work/home" bash binder/postBuild </dev/null
"$work/venv/bin/python" - "$work/home/.jupyter" "$ROOT" <<'PY'
import sys
from pathlib import Path
from traitlets.config.loader import PyFileConfigLoader

folder, root = sys.argv[1], Path(sys.argv[2])
url = PyFileConfigLoader("jupyter_server_config.py", path=folder).load_config().ServerApp.default_url
prefix = "/lab/tree/"
assert url.startswith(prefix) and (root / url[len(prefix):]).is_file(), f"postBuild's default_url {url!r}"
print(f"binder-check: postBuild opens JupyterLab at {url}")
PY

# --- every notebook, in that environment's own kernel ------------------------------------------
export PATH="$work/venv/bin:$PATH" JUPYTER_DATA_DIR="$work/jupyter-data" JUPYTER_CONFIG_DIR="$work/jupyter-config"
export JUPYTER_RUNTIME_DIR="$work/jupyter-runtime" MPLBACKEND=Agg
# Binder's image has no QEMU (binder/apt.txt): notebook 10 shows the recorded real runs there, so
# here too, even on a CI machine that has QEMU (make test runs the real ones)
export KPANIC_LAB_REAL=recorded
"$work/venv/bin/python" - "$work/venv" notebooks <<'PY'
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

venv, folder = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()

# the kernel must be the venv's own Python, not one found elsewhere on the machine
probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
NotebookClient(probe, timeout=120, kernel_name="python3").execute()
kernel_prefix = Path(probe.cells[0].outputs[0]["text"].strip()).resolve()
assert kernel_prefix == venv, f"the notebooks' kernel runs in {kernel_prefix}, not in {venv}"

failed, total = [], 0.0
for path in sorted(folder.glob("*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        status = "ok"
    except (CellExecutionError, CellTimeoutError, RuntimeError) as e:
        status = "FAILED"
        failed.append((path.name, str(e)))
    dt = time.monotonic() - t
    total += dt
    print(f"binder-check: {path.name:<36} {status:<6} {dt:6.1f} s", flush=True)
for name, err in failed:
    print(f"\n===== {name}\n{err[-3000:]}", file=sys.stderr)
print(f"binder-check: {len(list(folder.glob('*.ipynb'))) - len(failed)} notebooks ran, {len(failed)} failed, "
      f"{total:.1f} s in the Binder environment")
sys.exit(1 if failed else 0)
PY
