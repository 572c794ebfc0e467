#!/usr/bin/env bash
# The Littlest JupyterHub (TLJH) on one Ubuntu machine, for a kpanic_lab class.
#
#   git clone REPO_URL kpanic_lab && cd kpanic_lab
#   sudo bash deploy/tljh/install.sh teacher
#
# installs TLJH (its bootstrap script) with `teacher` as the admin, the lab into the students'
# environment, the per-student limits measured by benchmarks/bench_hub.py, idle culling and the
# students' server config; then prints the nbgitpuller links that put the notebooks in each
# student's home.  Running it again updates the lab and the settings.
set -euo pipefail

ADMIN="${1:?usage: sudo bash deploy/tljh/install.sh ADMIN_USER}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"       # this repository
LAB=/opt/kpanic_lab                                # where the students' environment reads it from
TLJH_CONFIG=/opt/tljh/hub/bin/tljh-config

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo bash deploy/tljh/install.sh $ADMIN)" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive

# 1. TLJH itself, unless it is there already
if [ ! -x "$TLJH_CONFIG" ]; then
    apt-get update -q
    apt-get install -y -q python3 python3-dev git curl
    curl -fsSL https://tljh.jupyter.org/bootstrap.py | python3 - --admin "$ADMIN"
fi

# 2. the lab in the students' environment: binder/apt.txt's packages, then the lab itself and
#    nbgitpuller (the links below), from a copy of this repository under /opt
apt-get install -y -q $(grep -v '^#' "$SRC/binder/apt.txt")
rm -rf "$LAB" && mkdir -p "$LAB"
git -C "$SRC" archive HEAD | tar -x -C "$LAB"          # the committed files only
/opt/tljh/user/bin/pip install --no-cache-dir "$LAB" nbgitpuller

# 3. one student: <= 1 GiB and one core (deploy/z2jh/config.yaml says why), JupyterLab,
#    servers idle for an hour stopped (checked every 5 minutes)
"$TLJH_CONFIG" set limits.memory 1G
"$TLJH_CONFIG" set limits.cpu 1
"$TLJH_CONFIG" set user_environment.default_app jupyterlab
"$TLJH_CONFIG" set services.cull.timeout 3600
"$TLJH_CONFIG" set services.cull.every 300

# 4. the students' environment and server config (deploy/tljh/kpanic_class.py)
install -m 0644 "$SRC/deploy/tljh/kpanic_class.py" /opt/tljh/config/jupyterhub_config.d/kpanic_class.py
"$TLJH_CONFIG" reload hub

echo "TLJH is up.  Add students in the admin panel (Control Panel > Admin), then send them a link:"
/opt/tljh/user/bin/python "$SRC/deploy/nbgitpuller_links.py" "http://$(hostname -f)" \
    "$(git -C "$SRC" remote get-url origin 2>/dev/null || echo REPO_URL)"
