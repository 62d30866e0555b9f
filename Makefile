# The two commands a newcomer needs: `make demo` and `make test`.
# Everything they need is installed by them (Python venv, Java/Maven via apt when missing,
# Kafka and Elasticsearch from Maven Central, cached under /var/tmp/newsflow/cache).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint install stack-up stack-down clean help

help:
	@echo "make demo       bring up the local stack, poll the bundled sample feeds, index, search, subscribe"
	@echo "make test       install, bring the stack up, run all tests (unit, integration, e2e), bring it down"
	@echo "make test-fast  unit tests only (no servers)"
	@echo "make lint       ruff and mypy --strict"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	bash deploy/demo/demo.sh

test: $(STAMP)
	bash deploy/local/with-stack.sh $(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

stack-up: $(STAMP)
	$(BIN)/newsflow stack up

stack-down: $(STAMP)
	$(BIN)/newsflow stack down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
