# The two commands a newcomer needs: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Lock files (issue 14.4): every package at an exact version, with its hashes. lock.txt is the
# runtime (pyproject.toml's dependencies; the Docker image installs it), dev.txt the runtime at the
# same versions plus the dev and bench extras (this virtualenv, hence CI). `make lock` regenerates
# both after a change to pyproject.toml, keeping every version it can; commit them with it.
# `make lock LOCK_ARGS=--upgrade` (or `--upgrade-package NAME`) moves to newer releases.
LOCK := requirements/lock.txt
DEV_LOCK := requirements/dev.txt
UV_VERSION := 0.13.9
# Resolved for every platform (markers for the rest) from Python 3.11, the version CI and the image run.
COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' --quiet $(LOCK_ARGS)

.PHONY: run test lint format install lock migrate clean

# Re-run when pyproject.toml or the lock changes. Packages are installed from the lock alone; the
# project itself then without dependencies (an editable install). `pip check` fails when the lock
# no longer satisfies pyproject.toml: run `make lock`.
$(BIN)/activate: pyproject.toml $(LOCK) $(DEV_LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check || { echo "$(DEV_LOCK) does not satisfy pyproject.toml: run 'make lock'"; exit 1; }
	@touch $(BIN)/activate

install: $(BIN)/activate

# uv only compiles the locks (it has no dependencies of its own); installs use pip. It needs the
# virtualenv, not the project's packages: `make lock` works while the locks are out of date.
lock:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(COMPILE) -o $(LOCK)
	$(COMPILE) --extra dev --extra bench -c $(LOCK) -o $(DEV_LOCK)

migrate: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --no-input

# Embedded defaults: SQLite file, in-memory channel layer, development settings (DEBUG=1).
run: migrate
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache
