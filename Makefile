# Two set-up commands on a fresh machine (Python 3.11+): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: demo test reliability lint format typecheck bench bench-quick clean install dev

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet -e .

dev: $(PY)
	$(PIP) install --quiet -e '.[dev]'

## make demo: create .venv, install freight, run the main job on the embedded DuckDB default
## (then: .venv/bin/freight history --url duckdb:///demo.duckdb)
demo: install
	$(PY) examples/demo.py

## make test: install the dev dependencies and run the whole suite (the PostgreSQL tests use
## the database named by FREIGHT_TEST_POSTGRES; see the README's Set-up)
test: dev
	$(PY) -m pytest -q

## make reliability: the full reliability sweep (tests/reliability); writes docs/reliability.md
reliability: dev
	FREIGHT_RELIABILITY=full FREIGHT_RELIABILITY_REPORT=docs/reliability.md \
		$(PY) -m pytest -q -m reliability -p no:cacheprovider --timeout 3600 tests/reliability

lint: dev
	$(VENV)/bin/ruff check src tests examples bench
	$(VENV)/bin/ruff format --check src tests examples bench
	$(VENV)/bin/mypy

format: dev
	$(VENV)/bin/ruff format src tests examples bench
	$(VENV)/bin/ruff check --fix src tests examples bench

## make bench: freight beside dlt and the raw driver path, ratios printed (see docs/benchmarks.md)
bench: $(PY)
	$(PIP) install --quiet -e '.[bench]'
	$(PY) -m bench

bench-quick: $(PY)
	$(PIP) install --quiet -e '.[bench]'
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo.duckdb demo.duckdb.wal
