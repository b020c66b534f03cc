# Two commands on a fresh machine:  `make lab` (set up + launch)  and  `make test` (set up + all tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
PORT   ?= 8888
TOKEN  ?= $(shell $(PYTHON) -c "import secrets; print(secrets.token_hex(16))")
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test warm bench binder-check strip screenshots clean

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

test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

binder-check: $(VENV)/.dev
	$(VENV)/bin/repo2docker --no-build --no-run --debug --user-id 1000 --user-name jovyan .

strip: $(VENV)/.dev
	$(PY) tests/strip_notebooks.py notebooks/*.ipynb

screenshots: $(VENV)/.dev
	$(PY) tests/browser/screenshots.py

clean:
	rm -rf $(VENV) out tests/artifacts benchmarks/results
