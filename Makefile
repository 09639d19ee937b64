# The two commands: `make demo` and `make test`. Both set everything up from scratch.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint typecheck bench bench-limits system-deps clean docs up down

$(STAMP): pyproject.toml $(wildcard logstd/*.c logstd/*.h tracing/*.c)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: system-deps $(STAMP)
	$(BIN)/opsplane demo

test: system-deps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/logstd lint .
	$(BIN)/pytest -q

# the orders stack on Docker (deploy/local/stack.sh): generated rules, routes and dashboards,
# every service on 127.0.0.1; ports etc. from STACK_* variables (deploy/local/stack.py)
up: | $(STAMP)
	bash deploy/local/stack.sh up

down:
	bash deploy/local/stack.sh down

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/logstd keys --markdown > docs/log-keys.md
	$(BIN)/logstd keys --python > logstd/keys.py
	$(BIN)/python -m opsplane.blackbox._docs docs/collections.md
	$(BIN)/python -m opsplane._clidocs docs/cli.md

bench: $(STAMP)
	$(BIN)/python bench/logging_calls.py
	$(BIN)/python bench/service.py
	$(BIN)/python bench/pretty.py
	$(BIN)/python bench/lint.py
	$(BIN)/python bench/tracing_overhead.py

bench-limits: $(STAMP)
	$(BIN)/python bench/limits.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
