# The two commands: `make demo` and `make test`. Both set everything up from scratch.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test test-lowest lint typecheck bench bench-limits system-deps clean docs up down \
	pipeline dist chart-package chart-push

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
	$(BIN)/lint-imports
	$(BIN)/logstd lint .
	$(BIN)/pytest -q

# the suite against the lowest version of every dependency pyproject.toml allows, in its own
# venv (CI's `lowest` job; scripts/lowest-constraints.py)
LOWVENV ?= build/venv-lowest
test-lowest: system-deps
	$(PY) -m venv $(LOWVENV)
	$(LOWVENV)/bin/pip install --quiet --upgrade pip
	$(PY) scripts/lowest-constraints.py > $(LOWVENV)/constraints.txt
	$(LOWVENV)/bin/pip install --quiet -c $(LOWVENV)/constraints.txt -e '.[dev]' \
		--config-settings editable_mode=compat
	$(LOWVENV)/bin/pytest -q

# the orders stack on Docker (deploy/local/stack.sh): generated rules, routes and dashboards,
# every service on 127.0.0.1; ports etc. from STACK_* variables (deploy/local/stack.py)
up: | $(STAMP)
	bash deploy/local/stack.sh up

down:
	bash deploy/local/stack.sh down

# the service image opsplane/orders:local (scripts/docker.sh: dockerd started when missing, the
# python slim base if it can be pulled, else one built from Debian packages; host wheels)
.PHONY: image
image:
	@bash scripts/docker.sh image opsplane/orders:local

# the delivery pipeline here: gates, image, deploy into the local stack, smoke + integration,
# rollback to the previous image when they fail, report (opsplane pipeline run --local)
pipeline: system-deps $(STAMP)
	$(BIN)/opsplane pipeline run --local --dir examples/orders

# release (.github/workflows/release.yml runs these on a version tag)
VERSION        ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
CHART_REGISTRY ?= oci://ghcr.io/opsplane/charts

# the sdist, and manylinux wheels (PyPI takes no plain linux wheels) built by cibuildwheel
dist:
	$(PY) -m pip install --quiet 'build>=1.2,<2' 'cibuildwheel>=2.21,<3'
	rm -rf dist
	$(PY) -m build --sdist --outdir dist .
	CIBW_BUILD='cp311-* cp312-* cp313-*' CIBW_SKIP='*-musllinux_*' \
	  $(PY) -m cibuildwheel --output-dir dist .

# the charts (the standard service chart, the Locust worker Job), versioned like the package,
# pushed as OCI artifacts (needs helm)
CHARTS := service loadtest
chart-package:
	mkdir -p dist/chart
	for c in $(CHARTS); do \
	  helm package helm/$$c --version $(VERSION) --app-version $(VERSION) --destination dist/chart \
	  || exit 1; done

chart-push: chart-package
	for c in $(CHARTS); do helm push dist/chart/$$c-$(VERSION).tgz $(CHART_REGISTRY) || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/logstd keys --markdown > docs/log-keys.md
	$(BIN)/logstd keys --python > logstd/keys.py
	$(BIN)/python -m opsplane.testing.blackbox._docs docs/collections.md
	$(BIN)/python -m opsplane.cli._clidocs docs/cli.md

bench: $(STAMP)
	$(BIN)/python bench/logging_calls.py
	$(BIN)/python bench/service.py
	$(BIN)/python bench/pretty.py
	$(BIN)/python bench/lint.py
	$(BIN)/python bench/tracing_overhead.py

bench-limits: $(STAMP)
	$(BIN)/python bench/limits.py

clean:
	rm -rf $(VENV) build/venv-lowest .pytest_cache .mypy_cache .ruff_cache
