# Clarion. `make run` and `make test` are all a new machine needs (Python 3.11+ and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install install-dev run test lint bench stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Start everything (embedded PostgreSQL + Redis unless DATABASE_URL / REDIS_URL are set).
run: install
	$(BIN)/python -m config.run

## Run the whole test suite (its own embedded servers unless DATABASE_URL / REDIS_URL are set).
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=postgres://lint@localhost/lint REDIS_URL=redis://localhost SECRET_KEY=lint \
		$(BIN)/mypy apps config

## Run every benchmark in bench/ (each prints one JSON line; bench/_*.py are their helpers).
bench: install-dev
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script; done

## Stop embedded servers left running by `make run` or an interrupted test run.
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m config.embedded stop .clarion .clarion/test $(CLARION_EMBEDDED_DIR); fi

clean: stop
	rm -rf .clarion
