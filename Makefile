# Coinswarm: the two commands a user types are `make run` and `make test`.
# Everything else here is for developers.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# Two stamps: what running needs (the package and its dependencies) and what developing needs (the dev
# extras: the cloud SDKs, moto, pytest, ruff, mypy, ...). The dev install is a superset, so it touches both.
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers: one per core (`make test WORKERS=0` runs in one process)
WORKERS ?= auto
# the tests `make check` runs: no local stand-in for a cloud, no process started (docs/testing.md)
CHECK_TESTS := not server and not subprocess

# mypy's cache sits beside uv's in the user's cache folder, not in the checkout: a fresh clone (CI's, a new
# worktree) then checks only what differs from the last check on this machine (~1 s) instead of analysing
# the ~2,000 modules of the dev extras afresh (~19 s of CPU). mypy takes an entry only where the file's hash
# matches, so clones at other commits or paths share it safely. `make typecheck MYPY_CACHE=.mypy_cache`
# keeps one per checkout.
MYPY_CACHE ?= $(if $(HOME),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/coinswarm/mypy,.mypy_cache)
# `make check` keeps its tests' temporary files (every tmp_path: SQLite stores, zips) on the RAM disk where
# there is one with room (a run writes ~120 MB): a live account's store commits with fsync (synchronous
# FULL), which on a disk is a third of the live venue tests' time. pytest's numbered folders under it keep
# concurrent runs apart, and only failed tests' folders are kept, so no memory stays taken. Elsewhere (no
# /dev/shm, or a container's 64 MB one) the usual temporary folder.
CHECK_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] \
	&& [ "$$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $$4}')" -gt 2000000 ] 2>/dev/null && echo /dev/shm)
CHECK_TMP = $(if $(CHECK_TMPDIR),TMPDIR=$(CHECK_TMPDIR) )
CHECK_KEEP = $(if $(CHECK_TMPDIR), -o tmp_path_retention_policy=failed)

# pytest keeps its rewritten test modules, and Python the compiled ones, only where bytecode may be written:
# an environment that forbids it (PYTHONDONTWRITEBYTECODE) makes every run compile everything again.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help run test check unit servers lint typecheck bench budget package clean judge-learned

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The packages are installed with uv where it can be had (pip-installed once into .servers/uv): it fetches
# and unpacks the ~180 packages of the dev extras side by side, ~20 s where pip takes ~2.5 minutes. Without
# it, or where uv fails (it reads PyPI only, not pip's configuration), pip installs them as before. The venv
# keeps pip: packaging runs it. `make run` installs only what running needs, by pip (14 packages), no uv.
# The venv is created without pip, and uv installs the current pip beside the packages in the same step;
# pip is bootstrapped (ensurepip, then upgraded) only where pip installs. uv goes into .servers/uv with the
# interpreter's own pip (`--target`), with no virtualenv of its own. Together ~14 s less of a fresh clone's
# set-up than two virtualenvs with pip, a pip upgrade and a pip install of uv one after another.
UV      := .servers/uv/bin/uv
# uv first resolves from its cache alone (`--offline`): where the cache holds versions that satisfy
# pyproject.toml, as on a machine that has installed Coinswarm before, that takes ~3 s instead of ~13 s of
# asking PyPI about each of ~180 packages. Where it does not, uv asks PyPI. The versions then move on when
# pyproject.toml asks for more than the cache holds, or with `make ... UV_CACHE_FIRST=` (always ask PyPI).
UV_CACHE_FIRST ?= 1
uv_install = $(UV) pip install --quiet --python $(BIN)/python pip $(1)
ensure_pip = $(BIN)/python -m pip --version >/dev/null 2>&1 \
	|| { $(BIN)/python -m ensurepip --upgrade >/dev/null && $(BIN)/python -m pip install --quiet --upgrade pip; }
install  = { [ -x $(UV) ] && { { [ -n "$(UV_CACHE_FIRST)" ] && $(call uv_install,--offline $(1)) 2>/dev/null; } \
		|| $(call uv_install,$(1)); }; } \
	|| { $(ensure_pip) && $(BIN)/python -m pip install --quiet $(1); }

$(UV):
	@echo "==> installing uv into .servers/uv, to install the packages (first run only)"
	@$(PYTHON) -m pip install --quiet --target .servers/uv uv 2>/dev/null \
		|| { rm -rf .servers/uv && $(PYTHON) -m venv .servers/uv && .servers/uv/bin/python -m pip install --quiet uv; } \
		|| { rm -rf .servers/uv; echo "note: uv could not be installed; pip installs the packages instead" >&2; }

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Coinswarm needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11.")'
	@echo "==> creating the virtual environment in $(VENV) (first run only)"
	$(PYTHON) -m venv --without-pip $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing Coinswarm and what it needs to run (first run only)"
	@$(call install,-e .)
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python $(UV)
	@echo "==> installing Coinswarm with the developers' extras: cloud SDKs, local stand-ins, test tools (first run only)"
	@$(call install,-e '.[dev]')
	@touch $(RUN_STAMP) $(DEV_STAMP)

run: $(RUN_STAMP) ## set up (runtime dependencies only), then run a short paper-trading session on the embedded store
	$(BIN)/coinswarm run --cycles 240

servers: | $(UV) ## install the local stand-ins for cloud services that are not Python packages
	@UV=$(UV) scripts/install-servers.sh

# The stand-ins install beside the dev extras (both wait mostly on downloads and disks), and lint and
# types run as soon as the dev extras are in, while the stand-ins may still be installing; then the tests.
test: ## set up, then lint, type-check and run every test (in parallel)
	@$(MAKE) --no-print-directory -j2 servers lint typecheck
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

check: $(DEV_STAMP) lint typecheck ## the inner loop: lint, type-check and the tests that need no local server or process
	$(CHECK_TMP)$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup -q -m '$(CHECK_TESTS)'$(CHECK_KEEP)

unit: $(DEV_STAMP) ## the tests in tests/unit only (no lint, no types)
	$(BIN)/python -m pytest -q tests/unit

lint: $(DEV_STAMP) ## ruff over the code and tests
	$(BIN)/ruff check --no-cache shared functions tests benchmarks
	$(BIN)/ruff format --no-cache --check shared functions tests benchmarks

typecheck: $(DEV_STAMP) ## mypy, strict on the domain
	$(BIN)/mypy --cache-dir '$(MYPY_CACHE)'

bench: $(DEV_STAMP) ## run the benchmarks and print their figures
	$(BIN)/python -m benchmarks

judge-learned: $(DEV_STAMP) ## the committee with vs without the learned agent vs buy-and-hold, out of sample (walk-forward)
	$(BIN)/python -m benchmarks.judge_learned

budget: $(RUN_STAMP) ## a month of cloud usage from the configuration, against the free tiers (exit 1 over 50 %)
	$(BIN)/coinswarm budget

package: $(DEV_STAMP) ## one zip per function and cloud in dist/, each checked against its platform's size limits
	$(BIN)/python -m coinswarm.packaging --out dist

clean: ## remove the virtual environment and local state
	rm -rf $(VENV) .coinswarm .servers .pytest_cache .mypy_cache .ruff_cache
