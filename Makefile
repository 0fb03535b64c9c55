# pbqms — the two README commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL run of the suite: set PBQMS_PG_URL='' to skip it.
PBQMS_PG_URL ?= postgres://postgres@127.0.0.1:5432/pbqms
PYTEST_ARGS ?=

.PHONY: install install-dev demo serve test lint check test-sqlite test-postgres messages bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: install, create the SQLite database under var/, load the demo, serve on :8000
demo: install
	mkdir -p var
	PBQMS_DEMO=1 $(PY) manage.py migrate --noinput
	PBQMS_DEMO=1 $(PY) manage.py demo
	PBQMS_DEMO=1 $(PY) manage.py demo_documents
	PBQMS_DEMO=1 $(PY) manage.py demo_improvement
	PBQMS_DEMO=1 $(PY) manage.py demo_records
	PBQMS_DEMO=1 $(PY) manage.py demo_objectives
	PBQMS_DEMO=1 $(PY) manage.py demo_audits
	PBQMS_DEMO=1 $(PY) manage.py demo_plans
	PBQMS_DEMO=1 $(PY) manage.py demo_reviews
	PBQMS_DEMO=1 $(PY) manage.py send_reminders
	PBQMS_DEMO=1 $(PY) manage.py runserver --noreload $(HOST):$(PORT)

## make test: lint, checks, then the whole suite on SQLite and (if reachable) PostgreSQL
test: install-dev lint check test-sqlite test-postgres

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check:
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	PBQMS_SECRET_KEY=ci-check-$$(date +%s)-a-long-random-enough-secret-key-value-xyz \
	  DJANGO_SETTINGS_MODULE=pbqms.settings_production $(PY) manage.py check --deploy --fail-level WARNING

test-sqlite:
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgres:
	@if [ -n "$(PBQMS_PG_URL)" ] && $(PY) -c "import sys,psycopg; psycopg.connect('$(PBQMS_PG_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== PostgreSQL run =="; \
	  PBQMS_DATABASE_URL=$(PBQMS_PG_URL) $(VENV)/bin/pytest -m "not browser" $(PYTEST_ARGS); \
	else echo "PostgreSQL not reachable at $(PBQMS_PG_URL): skipping the PostgreSQL run"; fi

## make messages: extract every app's strings (Python and templates under src/pbqms) into
## src/pbqms/locale/zh_Hans/LC_MESSAGES/django.po, then compile django.mo
I18N_ENV := PYTHONPATH=.. DJANGO_SETTINGS_MODULE=pbqms.settings
messages:
	cd src/pbqms && $(I18N_ENV) $(abspath $(PY)) -m django makemessages -l zh_Hans --no-obsolete -i "static/*"
	cd src/pbqms && $(I18N_ENV) $(abspath $(PY)) -m django compilemessages -l zh_Hans

## make bench [BENCH_ARGS="--db postgres"]: 5,000 units / 100,000 people, prints latencies
bench: install-dev
	$(PY) tests/perf/bench_orgs.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3*
