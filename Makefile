# Coinswarm: the two commands a user types are `make run` and `make test`.
# Everything else here is for developers.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help run test servers lint typecheck unit bench budget package clean judge-learned

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Coinswarm needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11.")'
	@echo "==> creating the virtual environment in $(VENV) and installing Coinswarm (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## set up, then run a short paper-trading session on the embedded store
	$(BIN)/coinswarm run --cycles 240

servers: ## install the local stand-ins for cloud services that are not Python packages
	@scripts/install-servers.sh

test: $(STAMP) servers lint typecheck ## set up, then lint, type-check and run every test
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff over the code and tests
	$(BIN)/ruff check --no-cache shared functions tests benchmarks
	$(BIN)/ruff format --no-cache --check shared functions tests benchmarks

typecheck: $(STAMP) ## mypy, strict on the domain
	$(BIN)/mypy

bench: $(STAMP) ## run the benchmarks and print their figures
	$(BIN)/python -m benchmarks

judge-learned: $(STAMP) ## the committee with vs without the learned agent vs buy-and-hold, out of sample (walk-forward)
	$(BIN)/python -m benchmarks.judge_learned

budget: $(STAMP) ## a month of cloud usage from the configuration, against the free tiers (exit 1 over 50 %)
	$(BIN)/coinswarm budget

package: $(STAMP) ## one zip per function and cloud in dist/, each checked against its platform's size limits
	$(BIN)/python -m coinswarm.packaging --out dist

clean: ## remove the virtual environment and local state
	rm -rf $(VENV) .coinswarm .servers .pytest_cache .mypy_cache .ruff_cache
