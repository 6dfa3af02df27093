# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
COMPAT ?= .venv-duckdb15
PY := $(VENV)/bin/python
# The core suite also runs on the oldest DuckDB line we support.
COMPAT_TESTS := tests/test_export.py tests/test_api.py tests/test_bad_input.py tests/test_cases.py \
	tests/test_shell.py tests/test_reuse.py tests/test_usage_skips.py tests/test_pack_fast.py \
	tests/test_pack_extents.py tests/test_bad_logs.py tests/test_log_files.py

.PHONY: setup demo test lint golden

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(COMPAT)/.installed: pyproject.toml
	$(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install -q --upgrade pip
	$(COMPAT)/bin/python -m pip install -q -e . 'duckdb>=1.5,<1.6' pytest numpy jsonschema duckdb-cli
	touch $@

demo: setup
	$(VENV)/bin/sqlwave export --out wavespec.json --pack-order-out wavespec.pack_order.parquet

test: setup $(COMPAT)/.installed
	$(PY) -m pytest -q
	$(COMPAT)/bin/python -c 'import duckdb; print("DuckDB", duckdb.__version__)'
	$(COMPAT)/bin/python -m pytest -q -p no:cacheprovider $(COMPAT_TESTS)

lint: setup
	$(VENV)/bin/ruff check sqlwave tests benchmarks
	$(VENV)/bin/mypy

golden: setup
	$(PY) -m sqlwave.shell --write
	$(VENV)/bin/sqlwave macros --write

# pandas and Polars live only in .venv-bench, never in the project's dependencies.
bench:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q -e . -r benchmarks/requirements.txt
	.venv-bench/bin/python benchmarks/bench_export.py --rows 10000000
