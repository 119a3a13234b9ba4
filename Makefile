# serverless-patterns: every target does its own set-up on a fresh machine (Python 3.11+, Node 20+).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

# jsii (under aws-cdk-lib) prints a Node.js end-of-life banner on Node 20; this is its own switch.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Byte code in lambda_src/ would change asset hashes from machine to machine.
export PYTHONDONTWRITEBYTECODE := 1
# The CDK CLI runs `python app.py` (cdk.json): the project's interpreter comes first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true

.PHONY: help setup test lint unit synth deploy demo destroy deploy-stop clean

help:
	@echo "make test    - lint, type-check and run the whole test suite"
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

unit: setup
	$(BIN)/pytest

test: lint unit

synth: setup
	npx cdk synth --quiet

deploy: setup
	$(PY) tools/deploy.py deploy

destroy: setup
	$(PY) tools/deploy.py destroy

demo: setup
	$(PY) tools/demo.py

deploy-stop:
	@if [ -x $(PY) ]; then $(PY) tools/deploy.py stop; else echo "Nothing to stop."; fi

clean:
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

# Benchmarks (README: Performance). AWS Solutions Constructs pin their own aws-cdk-lib,
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
