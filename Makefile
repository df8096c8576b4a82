# The two commands of the README: `make demo` and `make test`.  Every target
# creates and uses .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ODOO_PATH ?=

.PHONY: demo test test-odoo lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/relance demo
	@mkdir -p out
	$(VENV)/bin/relance sync --config examples/demo.toml --once
	$(VENV)/bin/relance report --config examples/demo.toml --html out/report.html --xlsx out/report.xlsx
	@echo "Report: $(CURDIR)/out/report.html"

test: $(STAMP)
	$(PY) -m pytest
ifneq ($(strip $(ODOO_PATH)),)
	$(MAKE) test-odoo ODOO_PATH=$(ODOO_PATH)
else
	@echo "Odoo addon tests skipped: ODOO_PATH is not set (make test-odoo ODOO_PATH=/path/to/odoo runs them)."
endif

test-odoo: $(STAMP)
	@if [ -z "$(ODOO_PATH)" ]; then echo "set ODOO_PATH=/path/to/odoo (the folder holding odoo-bin)"; exit 2; fi
	@if [ ! -d odoo_addon_relance ]; then \
		echo "Odoo addon tests skipped: odoo_addon_relance/ is not in this checkout yet."; \
	else bash tests/odoo_addon_relance/run_odoo_tests.sh "$(ODOO_PATH)"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out
