# The two commands a newcomer needs: `make demo` and `make test`.
# Everything they need is installed by them (Python venv, Java/Maven via apt when missing,
# Kafka and Elasticsearch from Maven Central, cached under /var/tmp/newsflow/cache; for the
# browser tests Debian's chromium via apt when missing, Playwright's client from the dev extras).

# Python 3.12 (or 3.13) when the machine has it (spaCy's NER is much faster there), else 3.11.
ifndef PYTHON
PYTHON := $(shell bash deploy/local/find-python.sh)
endif
VENV   ?= .venv
BIN    := $(VENV)/bin
# The stamp names the interpreter's version: switching Python rebuilds the venv.
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP  := $(VENV)/.installed-py$(PYVER)

.PHONY: demo test test-fast lint install stack-up stack-down clean help

help:
	@echo "make demo       bring up the local stack, poll the bundled sample feeds, index, search, subscribe"
	@echo "make test       install, bring the stack up, run all tests (unit, integration, e2e, browser), bring it down"
	@echo "make test-fast  unit tests only (no servers)"
	@echo "make lint       ruff, mypy --strict and the import contracts (lint-imports)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYVER)" || { echo "no usable Python (3.12, 3.13 or 3.11) found: PYTHON='$(PYTHON)'" >&2; exit 1; }
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYVER)")'; then \
		echo "$(VENV) was made with another Python: recreating it with $(PYTHON)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	bash deploy/demo/demo.sh

test: $(STAMP)
	bash deploy/local/ensure-chromium.sh
	bash deploy/local/with-stack.sh $(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

stack-up: $(STAMP)
	$(BIN)/newsflow stack up

stack-down: $(STAMP)
	$(BIN)/newsflow stack down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
