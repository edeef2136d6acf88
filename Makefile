# Portside: `make up` runs it, `make test` tests it. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs on pytest-xdist workers, each with its own Portside server (and the agents,
# HAProxy and containers its tests start); a test file stays on one worker, so its module
# fixtures start once. Most of a worker's time is spent waiting (on containers, Terraform,
# health checks), so there are three workers a core: on 2 cores, 2 workers kept them under
# half busy, 4 at 1.5 cores, 6 at 1.7; 8 ran the Terraform tests past their timeouts (at
# most 8). PYTEST_WORKERS=0 runs it in pytest's own process.
PYTEST_WORKERS ?= $(shell n=$$(( $$(nproc) * 3 )); echo $$(( n > 8 ? 8 : n )))

.PHONY: setup up test lint typecheck check bench clean

setup: $(STAMP)
	@bash scripts/ensure-docker.sh
	@bash scripts/ensure-haproxy.sh
	@bash scripts/ensure-registry.sh
	@bash scripts/ensure-network-tools.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,postgres]'
	@touch $(STAMP)

up: setup
	$(BIN)/portside up

test: setup
	@bash scripts/ensure-test-deps.sh
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check portside tests bench
	$(BIN)/ruff format --check portside tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

bench: setup
	$(BIN)/python bench/api_throughput.py
	$(BIN)/python bench/task_start.py
	$(BIN)/python bench/services.py
	$(BIN)/python bench/placement.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/soak.py --hostile --chaos-points 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
