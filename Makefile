# Two commands on a fresh machine with only python3 and make: `make demo`, `make test`.
# The Makefile bootstraps its own tooling: uv goes into .tools/ when it is not on PATH,
# the project and its locked dependencies into .venv/.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT := false
export PREFECT_HOME := $(CURDIR)/var/prefect
export UV_PYTHON_DOWNLOADS := never

# Benchmark sizes: county,city by default; the province (136 counties on a Prefect work pool,
# COUNTIES=N for fewer; WORKERS=2 for the 2-worker round only) and the giant jurisdiction are
# opt-in (make bench SIZE=province).
SIZE ?= county,city
COUNTIES ?= 136
WORKERS ?= 1,2

.PHONY: setup demo test test-fast lint typecheck fmt clean bench docs dist

setup: $(BIN)/bihuan

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
# process would otherwise compile Prefect and its dependencies from source, 5–10 s each time.
$(BIN)/bihuan: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@mkdir -p var/prefect
	@touch $@

demo: setup
	$(BIN)/bihuan demo

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not server and not postgres and not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# References generated from the code (a test fails when they drift).
docs: setup
	$(BIN)/python -m bihuan.ingest.reference > docs/workbook-format.md

clean:
	rm -rf $(VENV) .tools var dist .pytest_cache .mypy_cache .ruff_cache

# What an installation needs (docs/operations.md): the wheel (and the sdist it is built from) and
# dist/constraints.txt, the locked versions of the run-time dependencies, so that
# `pip install -c constraints.txt bihuan-*.whl` installs what the tests ran against.
dist: | $(UV)
	rm -rf dist
	$(UV) build --out-dir dist
	$(UV) export --quiet --frozen --no-dev --no-emit-project --no-hashes --format requirements-txt \
		--output-file dist/constraints.txt

bench: setup
	$(BIN)/python -m benchmarks.run --size $(SIZE) --counties $(COUNTIES) --workers $(WORKERS)
