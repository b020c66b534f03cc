# Two commands on a fresh machine:  `make lab` (set up + launch)  and  `make test` (set up + all tests).
# The repository the Binder links point at: the one setting. Change it with
# `make binder-links REPO=owner/name [BRANCH=branch]`, which rewrites this line and every link.
REPO   ?= explorer-project/explorer
BRANCH ?= main
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
PORT   ?= 8888
# evaluated once (":="), so the printed URL and the server agree on the token
ifndef TOKEN
TOKEN := $(shell $(PYTHON) -c "import secrets; print(secrets.token_hex(16))")
endif
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab dashboard test warm bench binder-check binder-links strip screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(PY)
	$(PIP) -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: pyproject.toml $(VENV)/.dev
	$(PIP) -e ".[dev,bench]"
	touch $@

warm: $(VENV)/.runtime
	$(PY) -m explorer warm

lab: warm
	@echo "JupyterLab on http://127.0.0.1:$(PORT)/lab?token=$(TOKEN)"
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) \
	    --IdentityProvider.token=$(TOKEN) notebooks/00_tour.ipynb

# one view as a code-free Voila app: `make dashboard VIEW=fractal` (or grokking, koopman,
# blending); without VIEW, a page listing every dashboard
VIEW ?=
DASHBOARD_PORT ?= 8866
ifneq ($(VIEW),)
ifeq ($(wildcard dashboards/$(VIEW).ipynb),)
$(error VIEW=$(VIEW): no dashboards/$(VIEW).ipynb; choose one of: $(basename $(notdir $(wildcard dashboards/*.ipynb))))
endif
endif
dashboard: warm
	@echo "Dashboard on http://127.0.0.1:$(DASHBOARD_PORT)/?token=$(TOKEN)"
	$(VENV)/bin/voila $(if $(VIEW),dashboards/$(VIEW).ipynb,dashboards) --no-browser --Voila.ip=127.0.0.1 \
	    --port=$(DASHBOARD_PORT) --token=$(TOKEN)

# lint (rules in pyproject.toml), then every test and the package's docstring examples
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	@# compile every kernel once, in parallel processes, before the notebook, Voila and Dask
	@# kernels of the tests would each compile them on first use (a fresh clone: minutes)
	$(PY) -m explorer warm
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

binder-check: $(VENV)/.dev
	$(VENV)/bin/repo2docker --no-build --no-run --debug --user-id 1000 --user-name jovyan .

# point every Binder link (README.md) and the REPO/BRANCH lines above at $(REPO) and $(BRANCH)
binder-links:
	$(PYTHON) binder/links.py $(REPO) $(BRANCH)

strip: $(VENV)/.dev
	$(PY) tests/strip_notebooks.py notebooks/*.ipynb

screenshots: $(VENV)/.dev
	$(PY) tests/browser/screenshots.py

clean:
	rm -rf $(VENV) out tests/artifacts benchmarks/results
