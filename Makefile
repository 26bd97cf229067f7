# webinar_mgr: `make run` serves the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := webinar_mgr
export WEBINAR_ENV ?= development

.PHONY: run test install db seed worker bench bench-pg lint format clean translations system-packages system-packages-test

# Debian packages: Pango and the Noto fonts for PDFs in the region's scripts (run and test);
# Chromium and poppler-utils (pdftotext, pdffonts) for the browser and PDF tests.
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core fonts-noto-cjk
TEST_PACKAGES := $(RUN_PACKAGES) chromium poppler-utils

# Installs only what is missing (root or password-less sudo on Debian/Ubuntu); elsewhere it says
# what to install and goes on.
define ensure_packages
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	else echo "note: not a Debian system; PDFs and browser tests need Pango, Noto fonts, Chromium and poppler-utils"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi; \
	  if [ "$$sudo" = none ]; then \
	    echo "note: missing Debian packages:$$missing (run: sudo apt-get install -y$$missing)"; \
	  else \
	    echo "== installing Debian packages:$$missing"; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi
endef

system-packages:
	$(call ensure_packages,$(RUN_PACKAGES))

system-packages-test:
	$(call ensure_packages,$(TEST_PACKAGES))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

db: install system-packages
	$(BIN)/flask db upgrade

seed: db
	$(BIN)/flask seed-demo

# The app and, beside it, the mail worker (in development it prints each mail here); Ctrl-C stops
# both. HOST and PORT reach both, so links in mails open this server (unless BASE_URL is set).
run: seed
	@echo ""
	@echo "  webinar_mgr is at http://$(HOST):$(PORT)  (Ctrl-C stops the server and the mail worker)"
	@echo ""
	@export HOST='$(HOST)' PORT='$(PORT)'; \
	$(BIN)/flask worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	trap 'exit 0' INT TERM; \
	$(BIN)/flask run --host $(HOST) --port $(PORT)

worker: db
	HOST='$(HOST)' PORT='$(PORT)' $(BIN)/flask worker

# The whole suite on SQLite; again on PostgreSQL when TEST_DATABASE_URL is set.
# The first run is on SQLite even when TEST_DATABASE_URL is set (it used to run on PostgreSQL twice).
test: install system-packages-test
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$TEST_DATABASE_URL) =="; \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

# Issue 19's figures beside their floors (bench/run.py, docs/performance.md). `make bench`: quick,
# SQLite in-process; `make bench-pg`: PostgreSQL, the app under gunicorn with the production
# settings (BENCH_PG names the database: created if missing, WIPED if present). BENCH_ARGS passes
# e.g. --only review. The other bench/bench_*.py scripts run one by one.
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/webinar_bench
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-pg: install
	BENCH_DATABASE_URL='$(BENCH_PG)' $(BIN)/python bench/run.py $(BENCH_ARGS)

# ruff: the lint rules and the formatting of pyproject.toml; CI fails on any finding.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract the messages (templates, code, forms' lazy labels), update every catalogue, compile them;
# then list what each catalogue still lacks (docs/translations.md).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -c TRANSLATORS: -o webinar_mgr/translations/messages.pot .
	$(BIN)/pybabel update -i webinar_mgr/translations/messages.pot -d webinar_mgr/translations
	$(BIN)/pybabel compile -d webinar_mgr/translations --statistics
	-$(BIN)/python -m pytest tests/test_translations.py -q -k catalogue_is_complete --no-header -p no:cacheprovider

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
