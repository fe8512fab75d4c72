# Every target creates .venv itself when needed, so each works on a fresh clone on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

## demo: stream a recorded response through the real client over loopback and print its span
demo: $(STAMP_RUN)
	$(BIN)/spanstream demo

## test: lint, format check, strict type check of src/, then the whole test suite
test: $(STAMP_DEV) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests dashboards benchmarks examples scripts
	$(BIN)/ruff format --check src tests dashboards benchmarks examples scripts

typecheck: $(STAMP_DEV)
	$(BIN)/mypy --strict src

format: $(STAMP_DEV)
	$(BIN)/ruff format src tests dashboards benchmarks examples scripts
	$(BIN)/ruff check --fix src tests dashboards benchmarks examples scripts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

.PHONY: dashboards stack-up stack-down

## dashboards: regenerate dashboards/*.json from dashboards/generate.py
dashboards: $(STAMP_RUN)
	$(BIN)/python dashboards/generate.py

STACK := docker compose --env-file telemetry/.env -f telemetry/compose.yaml

## stack-up: start the local Collector, Jaeger, Prometheus, Tempo and Grafana (needs Docker)
stack-up: telemetry/.env
	$(STACK) up -d
	@echo "Send OTLP to  http://127.0.0.1:4318 (HTTP) or 127.0.0.1:4317 (gRPC)"
	@echo "Grafana       http://127.0.0.1:3000  (admin password in telemetry/.env)"
	@echo "Jaeger        http://127.0.0.1:16686"
	@echo "Prometheus    http://127.0.0.1:9090"

## stack-down: stop the stack (its data volumes are kept; add -v to docker compose down to drop them)
stack-down: telemetry/.env
	$(STACK) down

# A random Grafana admin password, readable only by you, created once.
telemetry/.env:
	umask 077 && printf 'GRAFANA_ADMIN_PASSWORD=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(18))')" > $@

STAMP_BENCH := $(VENV)/.installed-bench

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(STAMP_DEV) $(STAMP_RUN)

.PHONY: bench bench-quick

## bench: speed and memory against the openai SDK and the json.loads floor (7-20 min on
## 2 cores); writes benchmarks/RESULTS.md and RESULTS.json
bench: $(STAMP_BENCH)
	$(BIN)/python -m benchmarks

## bench-quick: the same harness with small N, in seconds (dev extra only; prints the table)
bench-quick: $(STAMP_DEV)
	$(BIN)/python -m benchmarks --quick

.PHONY: view

# The demos send their spans to Phoenix over OTLP/HTTP: the otlp extra.
STAMP_OTLP := $(VENV)/.installed-otlp

$(STAMP_OTLP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[otlp]'
	touch $@ $(STAMP_RUN)

## view: start Arize Phoenix on 127.0.0.1:6006 (installed once into .phoenix-venv, no Docker),
## replay the demos into it and print where to look; Ctrl-C stops it and deletes its data
view: $(STAMP_OTLP)
	$(BIN)/python scripts/phoenix.py
