# One entry point: `make up` runs the platform, `make test` runs every check.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install up test lint check domain format clean chromium bench

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

up: install
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

test: lint chromium
	$(BIN)/pytest -n auto

# Benchmarks print their figures beside a reference measured in the same run.
bench: install
	$(BIN)/python bench/readings.py
	$(BIN)/python bench/fdb_export.py
	$(BIN)/python bench/arima_quality.py
	$(BIN)/python bench/charts.py
	$(BIN)/python bench/load.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules .dtbase .mypy_cache .pytest_cache .ruff_cache
