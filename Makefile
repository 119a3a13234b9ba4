# serverless-patterns: every target does its own set-up on a fresh machine (Python 3.11+, Node 20+).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The lowest aws-cdk-lib the library supports (pyproject.toml's floor) gets a virtualenv of its
# own, where the construct and example tests run too (make test-floor).
CDK_FLOOR := $(shell sed -n 's/.*"aws-cdk-lib>=\([0-9.]*\),.*/\1/p' pyproject.toml)
FLOOR_VENV := .venv-floor

# jsii (under aws-cdk-lib) prints a Node.js end-of-life banner on Node 20; this is its own switch.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Byte code in lambda_src/ would change asset hashes from machine to machine.
export PYTHONDONTWRITEBYTECODE := 1
# The CDK CLI runs `python app.py` (cdk.json): the project's interpreter comes first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true
export NO_MKDOCS_2_WARNING := 1

.PHONY: help setup test lint unit test-floor synth deploy demo destroy deploy-stop clean docs

help:
	@echo "make test    - lint, type-check and run the whole test suite (the docs build strictly in it)"
	@echo "make docs    - serve the documentation site on http://127.0.0.1:8000"
	@echo "make test-floor - the construct and example tests on the lowest supported aws-cdk-lib"
	@echo "make deploy  - deploy the example stacks into a local AWS emulator (TARGET=aws: to AWS)"
	@echo "make demo    - sample events through every example on the local runtime (after make deploy)"
	@echo "make destroy - delete the example stacks (buckets emptied first; TARGET=aws: on AWS)"
	@echo "make deploy-stop - stop the local AWS emulator that make deploy left running"
	@echo "make synth   - synthesize the example stacks into cdk.out/"
	@echo "make bench   - benchmarks: synth, handlers, imports, assets (writes benchmarks/results/)"
	@echo "make clean   - remove generated output (cdk.out, caches)"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20 or newer" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A worker per core; the tests sharing a costly session fixture keep to one (tests/conftest.py).
PYTEST_WORKERS ?= auto

unit: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS)

$(FLOOR_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR_VENV)/bin/python -m pip install --quiet -e '.[dev]' 'aws-cdk-lib==$(CDK_FLOOR)'
	@touch $@

# The snapshots pin the newest aws-cdk-lib's output (CDK changes details of its L2s' templates
# between releases: docs/contributing.md); every other construct and example test runs as is.
test-floor: $(FLOOR_VENV)/.installed node_modules/.installed
	@$(FLOOR_VENV)/bin/python -c "import importlib.metadata as m; v = m.version('aws-cdk-lib'); \
		print(f'aws-cdk-lib {v} (the floor)'); assert v == '$(CDK_FLOOR)', v"
	$(FLOOR_VENV)/bin/pytest -q -p no:cacheprovider tests/constructs tests/examples \
		--deselect tests/examples/test_snapshots.py::test_example_stack_matches_snapshot

# The three jobs run at once: the suite's workers, the floor job and lint share the two cores,
# the latter two filling the time the end-to-end tests wait on the emulator. Each job's output
# is printed whole when it ends; make fails if any of them fails.
test: setup
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint unit test-floor

synth: setup
	npx cdk synth --quiet

docs: $(VENV)/.installed
	$(BIN)/mkdocs serve

deploy: setup
	$(PY) tools/deploy.py deploy

destroy: setup
	$(PY) tools/deploy.py destroy

demo: setup
	$(PY) tools/demo.py

deploy-stop:
	@if [ -x $(PY) ]; then $(PY) tools/deploy.py stop; else echo "Nothing to stop."; fi

clean:
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info $(FLOOR_VENV)

# Benchmarks (docs/performance.md). AWS Solutions Constructs pin their own aws-cdk-lib,
# so SqsToLambda gets a venv of its own, made only when missing; when it cannot be made (no
# PyPI), the bench still runs and reports that comparison as null, saying why.
.PHONY: bench
bench: setup
	@if [ ! -f benchmarks/.venv-solutions/.installed ]; then \
		echo "Creating benchmarks/.venv-solutions (for the SqsToLambda comparison)"; \
		rm -rf benchmarks/.venv-solutions && mkdir -p benchmarks/results; \
		if ( $(PYTHON) -m venv benchmarks/.venv-solutions \
			&& benchmarks/.venv-solutions/bin/pip install --quiet --retries 2 --timeout 30 \
				-r benchmarks/requirements-solutions.txt ) \
			> benchmarks/results/solutions-venv.log 2>&1; then \
			touch benchmarks/.venv-solutions/.installed; \
		else \
			rm -rf benchmarks/.venv-solutions; \
			echo "Could not create benchmarks/.venv-solutions (see" \
				"benchmarks/results/solutions-venv.log): SqsToLambda will be null" >&2; \
		fi; \
	fi
	$(PY) benchmarks/run.py
