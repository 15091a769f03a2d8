# soilmetal: `make demo` runs the whole workflow on the demo data, `make test` runs the tests.
# Both install what is missing first (QGIS 3.22 and Python packages from Debian's archive).
#
# QGIS's Python bindings live in Debian's own interpreter, so every command names it: the
# `python3` first on PATH may be another one that cannot import qgis.
PYTHON ?= /usr/bin/python3
# Debian's /usr/bin/qgis_process wrapper passes --noversioncheck, which 3.22's binary rejects.
QGIS_PROCESS ?= /usr/bin/qgis_process.bin
# The linter lives in its own venv outside the repository (scripts/install_deps.sh puts it there).
RUFF_VENV ?= /var/cache/soilmetal/ruff-venv
export PYTHON QGIS_PROCESS RUFF_VENV
# ruff keeps its cache beside itself, not in the plugin folder.
export RUFF_CACHE_DIR = $(RUFF_VENV)/cache
export QT_QPA_PLATFORM = offscreen
export PYTHONDONTWRITEBYTECODE = 1

PYTEST = $(PYTHON) -m pytest -q

.PHONY: all deps lint test tiers test-core test-algorithms test-cli test-qgis340 test-qgis344 demo demo-data package bench clean

all: test

deps:
	@bash scripts/install_deps.sh

lint: deps
	$(RUFF_VENV)/bin/ruff check .

# The linter first, then the three tiers (`tiers`, below), each its own process: core without
# QGIS, algorithms through processing.run, and qgis_process as a user's script would call it.
test: lint
	@$(MAKE) --no-print-directory tiers

test-core: deps
	$(PYTEST) tests/core

test-algorithms: deps
	$(PYTEST) tests/algorithms

test-cli: deps
	$(PYTEST) tests/cli

# The same three tiers in other QGIS versions, each inside a Debian root that
# scripts/qgis_root.sh builds once with debootstrap and caches in /var/cache/soilmetal/roots
# (about 4 minutes the first time, seconds after). Needs root. The root brings its own QGIS and
# Python packages (qgis_root.sh), so the tiers run there without `deps` (Debian 12's installer,
# and the linter, which already ran on this checkout).
TIERS_IN_ROOT = make --no-print-directory tiers

tiers:
	$(PYTEST) tests/core
	$(PYTEST) tests/algorithms
	$(PYTEST) tests/cli

test-qgis340:
	bash scripts/qgis_root.sh run trixie $(TIERS_IN_ROOT)

test-qgis344:
	bash scripts/qgis_root.sh run sid $(TIERS_IN_ROOT)

demo-data: deps
	$(PYTHON) demo/generate_demo_data.py demo/data

demo: deps demo-data
	$(PYTHON) demo/run_demo.py --data demo/data --output demo-output

package:
	$(PYTHON) scripts/package.py --output dist

bench: deps demo-data
	$(PYTHON) bench/run_bench.py --output BENCHMARKS.md

clean:
	rm -rf dist demo-output .build
