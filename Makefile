# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on Python 3.13 when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# pyenv (if present) provides 3.13; sam build also needs 3.13 on PATH.
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0
export SAM_CLI_TELEMETRY := 0
PYTHON313 ?= $(shell command -v python3.13 2>/dev/null || (PYENV_VERSION=3.13.0 pyenv which python3 2>/dev/null) || echo python3)

.PHONY: help demo up test lint typecheck unit validate build lock clean bench

help: ## list targets
	@grep -E '^[a-zA-Z_.-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	@$(PY) -c 'import sys; v=sys.version_info[:2]; print(f"venv python {v[0]}.{v[1]}"); sys.exit(0 if v >= (3,13) else "Python 3.13 (the Lambda runtime) is required: install it or set PYTHON313")'
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

.venv: $(VENV)/.installed ## create the virtualenv from the pinned lock

demo: .venv ## run the product locally end to end (sandboxes + moto + handlers) and print what happened
	$(PY) -m local_stack demo

up: .venv ## start the local stack and keep it running (Ctrl-C stops it)
	$(PY) -m local_stack up

test: .venv lint typecheck unit validate ## ruff, mypy, the tests and sam validate --lint

lint: .venv ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: .venv ## mypy
	$(VENV)/bin/mypy

unit: .venv ## the test suite (unit, contract, integration over moto and the sandboxes)
	$(PY) -m pytest -q

validate: .venv ## sam validate --lint
	$(VENV)/bin/sam validate --lint --region eu-west-1

build: .venv ## sam build (needs python3.13 on PATH; pyenv provides it here)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/sam build

bench: .venv ## benchmarks (print figures)
	$(PY) -m benchmarks.bulk_move
	$(PY) -m benchmarks.xero_webhook_latency

lock: ## regenerate requirements-dev.txt from requirements-dev.in
	$(PY) -m pip install -q -r requirements-dev.in && $(PY) -m pip freeze | grep -v -E '^(pip|setuptools|wheel)==' | sed '1i # Fully pinned lock of requirements-dev.in for Python 3.13 (regenerate with `make lock`).' > requirements-dev.txt

clean: ## remove build output and the virtualenv
	rm -rf .aws-sam $(VENV) .pytest_cache .mypy_cache .ruff_cache
