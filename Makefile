PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format openapi bench clean pgbouncer chromium

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API on http://127.0.0.1:8000, or HOST and PORT (embedded PostgreSQL unless DATABASE_URL is set).
run: install
	$(BIN)/helpdesk serve --host $(HOST) --port $(PORT) --migrate --demo

## Lint and run the whole suite (TEST_DATABASE_URL's server when set, else an embedded one).
test: install lint pgbouncer chromium
	$(BIN)/pytest

## Debian's PgBouncer, which tests/test_pgbouncer.py starts in front of the test database, installed when
## it is missing. When it cannot be, those tests fail, saying so (the rest of the suite still runs).
pgbouncer:
	@PATH="$$PATH:/usr/sbin" command -v pgbouncer >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer; } || \
		echo "pgbouncer could not be installed (apt-get install -y pgbouncer): tests/test_pgbouncer.py will fail" >&2

## Debian's Chromium, which the customer pages' browser test drives headless (Playwright downloads no
## browser of its own), installed when it is missing. When it cannot be, that test fails, saying so.
chromium:
	@command -v chromium >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
		echo "chromium could not be installed (apt-get install -y chromium): tests/test_customer_pages_browser.py will fail" >&2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Write the OpenAPI document the app serves to openapi/openapi.json.
openapi: install
	$(BIN)/helpdesk openapi --output openapi/openapi.json

## Measure ticket creation, webhook delivery, SLA clocks and triggers, channel messages, a noisy neighbour
## under rate limits (see the README).
bench: install
	$(BIN)/python bench/create_tickets.py
	$(BIN)/python bench/deliver_events.py
	$(BIN)/python bench/sla_rules.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/noisy_neighbour.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
