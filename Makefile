# webinar_mgr: `make run` serves the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := webinar_mgr
export WEBINAR_ENV ?= development

.PHONY: run test install db seed worker bench lint clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

db: install
	$(BIN)/flask db upgrade

seed: db
	$(BIN)/flask seed-demo

run: seed
	@echo ""
	@echo "  webinar_mgr is at http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	@echo ""
	$(BIN)/flask run --host $(HOST) --port $(PORT)

worker: db
	$(BIN)/flask worker

# The whole suite on SQLite; again on PostgreSQL when TEST_DATABASE_URL is set.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$TEST_DATABASE_URL) =="; \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

translations: install
	$(BIN)/pybabel extract -F babel.cfg -o webinar_mgr/translations/messages.pot .
	$(BIN)/pybabel update -i webinar_mgr/translations/messages.pot -d webinar_mgr/translations
	$(BIN)/pybabel compile -d webinar_mgr/translations

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
