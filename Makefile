# Homeroom: `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := ASYNC_MODE=threading $(BIN)/flask --app app:create_app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: translations-update run serve test test-fast e2e deps test-deps browser coturn lint format audit bench translations clean

$(VENV)/.deps: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

node_modules/.deps: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: $(VENV)/.deps node_modules/.deps translations

translations: $(VENV)/.deps
	@if [ -d app/translations ]; then $(BIN)/pybabel compile --statistics -d app/translations; fi

## translations-update: extract new strings into app/translations (then translate the .po)
translations-update: $(VENV)/.deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --omit-header --ignore-dirs=".venv node_modules" -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

## run: install, migrate, seed the demo district and serve on http://127.0.0.1:5000
run: deps
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	@echo "Serving Homeroom on http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python wsgi.py

## browser: Debian's Chromium for the Playwright tests (never a downloaded browser build)
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	  else echo "Install Chromium first: sudo apt-get install chromium"; fi; }

## coturn: the TURN server used by the relay-only call test
coturn:
	@command -v turnserver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn; \
	  else echo "Install coturn first: sudo apt-get install coturn"; fi; }

test-deps: deps browser coturn

## test: install what the tests need and run the whole suite
test: test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: deps
	$(BIN)/python -m pytest -m "not e2e and not slow" $(PYTEST_ARGS)

lint: $(VENV)/.deps
	$(BIN)/ruff check .

format: $(VENV)/.deps
	$(BIN)/ruff format .

## audit: known vulnerabilities in every installed Python package (requirements-dev.txt resolved:
## runtime pins, test tools and what they pull in; pip-audit --strict) and the npm packages (npm audit).
## Where an advisory service is unreachable, .ci/audit says so and falls back to PyPI's per-project
## JSON for packages at their latest release; see docs/SECURITY.md "Dependency audit".
audit: deps
	$(BIN)/python .ci/audit

bench: deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
