# Kehu: `make run` starts the app on http://localhost:8000, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# Without REDIS_URL, Celery uses the embedded filesystem broker and one process runs worker + beat.
PROCFILE := $(if $(strip $(REDIS_URL)),Procfile,Procfile.dev)

DEMO_PASSWORD := kehu-demo-2026
DEMO_USERS := owner finance clerk rep rep2 auditor

.PHONY: help venv run test lint messages clean bench

help:
	@echo "make run       migrate, seed the demo organization and start web + worker on :$(PORT)"
	@echo "make test      run the test suite (PYTEST_ARGS=... to pass options to pytest)"
	@echo "make lint      ruff check and ruff format --check"
	@echo "make messages  update and compile the zh_Hans translations (needs gettext)"
	@echo "make clean     remove caches, collected static files and the embedded broker's queue"
	@echo "make bench     performance benchmarks on PostgreSQL (DATABASE_URL; BENCH_ARGS=--quick)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the stamp.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(PY)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@echo
	@echo "Kehu is running at http://localhost:$(PORT)"
	@echo "Demo logins (password $(DEMO_PASSWORD)):"
	@for u in $(DEMO_USERS); do echo "  $$u@demo.kehu.local"; done
	@echo
	exec $(VENV)/bin/honcho start -f $(PROCFILE) -p $(PORT)

test: venv
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

messages: venv
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

# Benchmarks, never run by `make test` or CI (bench/run.py): generate one mid-size company into the
# PostgreSQL database kehu_bench (as the owner role of DATABASE_URL), measure aging, the API (gunicorn
# under wrk, from Debian's package) and analytics on it, then the benches that build their own data
# (import, credit, dunning, and fanout with two Celery workers on REDIS_URL's Redis, database 15);
# figures go to bench/results.json and the table of docs/performance.md. About 25 minutes.
BENCH_ARGS ?=
bench: venv
	@case "$(DATABASE_URL)" in postgres*://*) ;; *) echo "make bench needs DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench (and DATABASE_APP_ROLE=kehu_app)" >&2; exit 2;; esac
	$(PY) bench/run.py $(BENCH_ARGS)

# Keeps .venv and the development database (var/kehu.sqlite3).
clean:
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .mypy_cache .hypothesis test-results
	rm -rf var/static var/broker var/celerybeat-schedule*
