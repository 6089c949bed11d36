# Two commands on a fresh machine (Python 3.11+, JDK 17+, Maven):
#   make demo   the demo exchange on a local Kafka broker it starts itself
#   make test   lint, types, schema drift, and the whole test suite on a real broker
# Both create the virtual environment and fetch the broker jars when missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint asyncapi jars bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

jars: $(STAMP)
	$(BIN)/accord broker fetch

demo: jars
	$(BIN)/accord demo

lint: $(STAMP)
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests
	$(BIN)/mypy
	$(BIN)/accord schemas check
	$(BIN)/accord conformance --verifier '$(BIN)/python -m accord.conformance.reference'
	$(BIN)/accord conformance --vectors schemas/vectors/v2 --verifier '$(BIN)/python -m accord.conformance.reference'
	$(BIN)/accord api check
	$(MAKE) asyncapi

# The AsyncAPI document, validated by the AsyncAPI initiative's own parser (npm).
asyncapi:
	cd schemas/asyncapi/validate && npm ci --no-audit --no-fund --silent \
		&& node validate.mjs ../accord.asyncapi.json

test: lint jars
	$(BIN)/pytest

bench: jars
	$(BIN)/accord bench

soak: jars
	$(BIN)/accord soak

clean:
	rm -rf var .cache/kafka/*/data
