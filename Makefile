# `make demo` and `make test` are the only commands a new user needs: both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

export SEGMENTS_DUCKDB_PATH ?= $(CURDIR)/warehouse/segments.duckdb
export SEGMENTS_DATA_DIR ?= $(CURDIR)/data/demo
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 42
DEMO_DIR := $(CURDIR)/data/demo

.PHONY: setup demo run backfill test test-spark dev bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The spark extra (dbt-spark, pyspark: about 30 s to install) where Java can run it; without it the Spark tests skip.
JAVA := $(shell command -v java 2>/dev/null)
$(BIN)/.spark-installed: pyproject.toml | $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n' > $@

# The dbt manifest is prepared by the code location itself when it is missing or stale (dagster_assets/project.py).
setup: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	mkdir -p "$(dir $(SEGMENTS_DUCKDB_PATH))"

$(DEMO_DIR)/transactions.csv: | $(BIN)/.installed
	$(BIN)/python -m python_models.datasets shop --config demo --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED) --out $(DEMO_DIR)

# The demo: generated shop data through the whole graph, then a summary of the warehouse.
demo: setup $(DEMO_DIR)/transactions.csv
	$(MAKE) --no-print-directory run SEGMENTS_DATA_DIR=$(DEMO_DIR)

# Materialize every asset on SEGMENTS_DATA_DIR into SEGMENTS_DUCKDB_PATH (bring your own data this way).
# After a failure, the summary prints why last, so Dagster's traceback does not bury it.
run: setup
	@started=$$(date +%s); $(BIN)/dagster asset materialize -m dagster_assets.definitions --select '*' \
		|| { $(BIN)/python -m dagster_assets.summary --failed-since $$started; exit 1; }
	$(BIN)/python -m dagster_assets.summary

# Segment history from the same data: one snapshot per past month end (FROM/TO as YYYY-MM, default all), after `run`.
backfill: setup
	$(BIN)/python -m dagster_assets.backfill $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

# two workers for two cores; a file's tests stay on one worker, so each module's fixtures are built once
test: setup $(if $(JAVA),$(BIN)/.spark-installed)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The same dbt project on Spark against DuckDB, alone (tests/test_spark_parity.py; needs Java 17).
test-spark: setup $(BIN)/.spark-installed
	$(BIN)/python -m pytest tests/test_spark_parity.py --durations=5

# The UI on loopback only; DEV_PORT to move it.
DEV_PORT ?= 3000
dev: setup
	$(BIN)/dagster dev -m dagster_assets.definitions -h 127.0.0.1 -p $(DEV_PORT)

bench: setup
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_model_selection.py
	$(BIN)/python bench/bench_clv.py
	$(BIN)/python bench/bench_recommend.py
	$(BIN)/python bench/bench_deep.py
	$(BIN)/python bench/bench_meta.py
	$(BIN)/python bench/bench_graph.py

clean:
	rm -rf target logs warehouse $(DAGSTER_HOME) data/demo
