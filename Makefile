# kpanic_lab: set up, test, rebuild the guest, benchmark.
#
#   make lab        create .venv, install the lab, start JupyterLab on notebooks/ (JUPYTER_IP:JUPYTER_PORT)
#   make install    the same without starting JupyterLab
#   make lab LAB_LANG=zh   make lab opening the Chinese series (中文), JupyterLab's menus in Chinese
#   make test       the whole test suite, notebooks included
#   make test-fast  the tests that boot nothing (pytest -m "not slow"): under 30 s, for while you work
#   make test-real  the real Linux 6.1 kdump cycle under QEMU (needs Debian's qemu-system-x86, linux-image-amd64, ...)
#   make guest      rebuild the guest kernel image from source (needs gcc, make, binutils)
#   make bench      run the benchmarks (results in benchmarks/results/)
#   make bench-compare BASE=REV   every benchmark on REV and on this tree, side by side
#
# Installing is done once: .venv/.installed is the stamp, redone when pyproject.toml changes.

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Jupyter refuses to run as root unless told; root is usual in containers and CI machines
AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
JUPYTER_PORT ?= 8888
# the address JupyterLab listens on: 127.0.0.1 (this machine only); 0.0.0.0 for a classroom server
JUPYTER_IP ?= 127.0.0.1

.DEFAULT_GOAL := help

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

install: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(VENV)/bin/pip ]; then \
	  rm -rf $(VENV); \
	  $(PYTHON3) -m venv $(VENV) || { \
	    echo "make: could not create $(VENV): install python3-venv (apt-get install python3-venv)" >&2; \
	    rm -rf $(VENV); exit 1; }; \
	fi
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@command -v dot >/dev/null || { \
	  echo "installing graphviz (dot) with apt-get"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz; }
	@fc-list ':lang=zh-cn' family 2>/dev/null | grep -q 'Noto Sans CJK' || { \
	  echo "installing the Chinese font (fonts-noto-cjk) with apt-get"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk; }
	@touch $@

# make lab LAB_LANG=zh: open the Chinese series (notebooks/zh/index.ipynb) with JupyterLab's menus in
# Chinese (its settings for this kept in $(VENV)/lab-settings-zh, so an English `make lab` is untouched)
LAB_LANG ?= en
ZH_SETTINGS := $(CURDIR)/$(VENV)/lab-settings-zh
lab: $(STAMP)
	@$(if $(filter-out en zh,$(LAB_LANG)),$(error LAB_LANG=$(LAB_LANG): the lab speaks en or zh))
	$(if $(filter zh,$(LAB_LANG)),@mkdir -p $(ZH_SETTINGS)/@jupyterlab/translation-extension && \
	  { [ -f $(ZH_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings ] || \
	    printf '{"locale": "zh_CN"}\n' > $(ZH_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings; })
	$(if $(filter zh,$(LAB_LANG)),JUPYTERLAB_SETTINGS_DIR=$(ZH_SETTINGS)) \
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=$(JUPYTER_IP) --port=$(JUPYTER_PORT) --no-browser $(AS_ROOT) \
	  $(if $(filter zh,$(LAB_LANG)),--LabApp.default_url=/lab/tree/zh/index.ipynb)

test: $(STAMP)
	$(PY) -m pytest -rs tests --nbmake notebooks/

# slow: boots a machine, runs a notebook, a browser, a hub or QEMU (tests/conftest.py decides)
test-fast: $(STAMP)
	$(PY) -m pytest -q -rs -m "not slow" tests

test-real: $(STAMP)
	KPANIC_LAB_TEST_REAL=1 $(PY) -m pytest -rs tests/real

guest:
	$(MAKE) -C kpanic_lab/guest

bench: $(STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

# before/after in one run: make bench-compare BASE=<commit>
bench-compare: $(STAMP)
	$(PY) benchmarks/compare.py $(BASE)

.PHONY: help install lab test test-fast test-real guest bench bench-compare
