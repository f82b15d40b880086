# Dropguard: `make run` starts everything on a bare machine with Python 3.11+; `make test` tests it.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.11 if present, else python3; the version is checked before a virtualenv is made from it.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
VPY := $(VENV)/bin/python
# Reinstalls only when pyproject.toml changes.
STAMP := $(VENV)/.installed-stamp
# One process: the suite is xdist-safe (each worker gets its own database, Redis prefix, ports and
# processes), but on two cores `-n 2` measured no faster (4m32s against 3m58s serially) since the
# end-to-end tests already keep both cores busy with real servers and workers. PYTEST_ARGS overrides.
PYTEST_ARGS ?=
BENCH_ARGS ?= --requests 5000 --concurrency 32

.PHONY: help install run test lint bench browser settings-doc

help:
	@echo "make run    start Dropguard with embedded PostgreSQL and Redis, the sandbox store and a demo shop"
	@echo "make test   run the test suite (real PostgreSQL and Redis; embedded ones unless DROPGUARD_* URLs are set)"
	@echo "make lint   ruff"
	@echo "make bench  webhook ingest benchmark against a minimal baseline"

$(VPY):
	@if [ -z "$(PYTHON)" ]; then echo "error: no python3 found; install Python 3.11 or newer" >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
		echo "error: Dropguard needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP)

# e.g. make run RUN_ARGS="--port 8001 --orders-per-minute 0"
run: $(STAMP)
	$(VENV)/bin/dropguard run $(RUN_ARGS)

# Debian's Chromium for the browser tests (marked `browser`), only when there are such tests, it is
# missing and apt is usable as root; otherwise those tests skip and say why.
browser:
	@if ! grep -rqs --include='*.py' 'mark.browser' tests || command -v chromium >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
			|| echo "warning: could not install chromium; browser tests will be skipped"; \
	else \
		echo "note: chromium is not installed and apt is not usable as root; browser tests will be skipped"; \
	fi

# pytest exits 5 when it collected no test: that is reported, not hidden as a pass or a crash.
test: $(STAMP) browser
	@set +e; $(VPY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check app tests bench

# wrk (Debian) drives the load when it is there or installable as root; else an httpx client does.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) ; } || \
		echo "note: wrk is not available; the benchmark uses its httpx load generator"
	$(VPY) -m bench.ingest $(BENCH_ARGS)

# Regenerates the configuration table in README.md from app/config.py.
settings-doc: $(STAMP)
	$(VPY) -m app.ops settings-table --write README.md
