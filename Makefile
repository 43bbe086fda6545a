# One entry point: `make up` runs the platform, `make test` runs every check.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install up test lint check domain format clean chromium mosquitto bench

# What `make up` installs: the platform and the services of `up --demo`'s loop (ARIMA, the
# FDB export). The development tools (Pulumi, statsforecast, playwright, linters, pytest)
# come with `make install`, which `make test` runs. `make up UP_EXTRAS=frontend` is the
# lightest; `up --demo` then says which services it does not schedule.
UP_EXTRAS ?= frontend,arima,fdb

install: $(VENV)/.installed node_modules/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-up: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(UP_EXTRAS)]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

up: $(VENV)/.installed-up node_modules/.installed mosquitto
	$(BIN)/dtbase up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# After changing one domain (a folder of dtbase/backend): `make check DOMAIN=sensors`.
# Lint, types, import contracts, then the migrations, the authorization matrix, the client
# contract and the domain's backend, frontend and client tests; under two minutes.
DOMAIN_TESTS = $(wildcard tests/backend/$(DOMAIN) tests/frontend/$(DOMAIN) tests/client/test_$(DOMAIN)*.py)
check: domain lint
	$(BIN)/pytest -n auto -p no:randomly -q tests/backend/test_migrations.py \
		tests/backend/test_authorization.py tests/client/test_contract.py $(DOMAIN_TESTS)

domain:
	@test -n "$(DOMAIN)" || (echo "Say which domain: make check DOMAIN=sensors" >&2; exit 2)
	@test -d dtbase/backend/$(DOMAIN) || (echo "No domain dtbase/backend/$(DOMAIN)" >&2; exit 2)

# Browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The MQTT broker: Debian's Mosquitto, for `up` and for the MQTT tests.
mosquitto:
	command -v mosquitto >/dev/null || (apt-get update -qq && apt-get install -y -qq mosquitto mosquitto-clients >/dev/null)

test: lint chromium mosquitto
	$(BIN)/pytest -n auto

# Benchmarks print their figures beside a reference measured in the same run.
bench: install mosquitto
	$(BIN)/python bench/readings.py
	$(BIN)/python bench/fdb_export.py
	$(BIN)/python bench/arima_quality.py
	$(BIN)/python bench/charts.py
	$(BIN)/python bench/mqtt.py
	$(BIN)/python bench/load.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules .dtbase .mypy_cache .pytest_cache .ruff_cache
