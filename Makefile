# bulk-provision: every target creates the virtual environment itself when it is missing.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install test test-fast test-scale lint docs portability bench chaos demo serve-demo browser screenshots clean

help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# the bytecode a wheel install compiles: without it every start compiles the sources
	@# again when PYTHONDONTWRITEBYTECODE is set (about 0.3 s of CPU per run here)
	$(BIN)/python -m compileall -q bulk_provision schemas > /dev/null
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the tool with its development tools

test: $(STAMP) ## run the test suite but the scale tests (those run in make chaos)
	$(BIN)/python -m pytest -q -m "not scale"

test-fast: $(STAMP) ## the unit layer only, without the slow tests (well under a minute)
	$(BIN)/python -m pytest -q tests/unit -m "not slow"

test-scale: $(STAMP) ## the scale tests only: a million rows, 10,000 columns (minutes)
	$(BIN)/python -m pytest -q -m scale

portability: $(STAMP) ## wheels for Windows/macOS resolve; unit layer under -X warn_default_encoding; POSIX audit
	$(BIN)/python tools/portability.py

docs: $(STAMP) ## regenerate docs/commands.md from the parsers' --help
	$(BIN)/python -m bulk_provision.cli.reference > docs/commands.md

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check bulk_provision schemas tests bench tools
	$(BIN)/mypy

bench: $(STAMP) ## run the performance benchmarks (minutes; prints measured ratios)
	$(BIN)/python bench/run_all.py

chaos: $(STAMP) ## kill -9 / fault-injection reliability run (R1, R2), then the scale tests
	$(BIN)/python bench/chaos.py
	$(BIN)/python -m pytest -q -m scale

demo: $(STAMP) ## provision sample_data/roster.xlsx against the local simulator
	$(BIN)/bulk-provision demo

serve-demo: $(STAMP) ## the browser page against the local simulator, with the sample rosters
	$(BIN)/bulk-provision serve --demo

browser: ## headless Chromium for the browser tests, from the distribution's packages (root)
	@if [ -x /usr/bin/chromium ]; then \
		echo "browser: /usr/bin/chromium is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver fonts-dejavu-core; \
	else \
		echo "browser: as root on Debian/Ubuntu: apt-get install chromium chromium-driver" \
			"fonts-dejavu-core; without it the browser tests are skipped"; \
	fi

screenshots: $(STAMP) browser ## refresh the README's screenshots under docs/ (browser tests)
	BP_SCREENSHOTS=docs $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/browser/test_web_browser.py -k "valid_roster or errors or guard_refusing"

clean: ## remove the virtual environment and generated files
	rm -rf $(VENV) demo-results.xlsx .pytest_cache .mypy_cache .ruff_cache
