# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint golden bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/sqlwave export --out wavespec.json --pack-order-out wavespec.pack_order.parquet

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check sqlwave tests benchmarks
	$(VENV)/bin/mypy

golden: setup
	$(VENV)/bin/sqlwave macros --write

# pandas and Polars live only in .venv-bench, never in the project's dependencies.
bench:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q -e . -r benchmarks/requirements.txt
	.venv-bench/bin/python benchmarks/bench_export.py --rows 10000000
