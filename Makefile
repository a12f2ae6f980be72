# nasweb: `make run` serves a demo on a fresh machine; `make test` runs the whole suite
# against the real PostgreSQL and Redis (started here when they are down).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=
# The suite runs in TEST_WORKERS pytest-xdist processes (1: in this process). Each has its own test
# database (pytest-django adds _gwN) and its own channel/event-log prefix on the shared Redis, because
# every test database numbers its searches from 1 and the groups and event logs are named by search id.
TEST_WORKERS ?= 2
XDIST := $(if $(filter-out 1,$(TEST_WORKERS)),--dist worksteal $(foreach i,$(shell seq 1 $(TEST_WORKERS)),--tx popen//env:NASWEB_CHANNEL_PREFIX=nasweb-test$(i)))

.PHONY: install run serve worker oneshot-worker measure-worker gpu-worker beat test test-forms services chromium lint bench clean

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

# The embedded default: SQLite, an in-process channel layer and worker; no services needed.
run: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py nas_demo
	@echo "Open http://$(HOST):$(PORT)/ and log in as demo / nasweb-demo"
	$(PY) manage.py nas_serve --host $(HOST) --port $(PORT)

# A Celery worker for another host: set DATABASE_URL and REDIS_URL to the shared services. Two processes:
# the trial worker (default, cpu: WORKER_CONCURRENCY slots shared fairly, round robin across searches) and
# a one-slot worker for one-shot supernets (oneshot), so a supernet never takes a trial slot.
worker: install
	$(PY) -m celery -A nasweb worker -Q oneshot --loglevel INFO --concurrency 1 -n oneshot@%h & supernets=$$!; \
	trap 'kill $$supernets 2>/dev/null' EXIT INT TERM; \
	$(PY) -m celery -A nasweb worker -Q default,cpu --loglevel INFO --concurrency $${WORKER_CONCURRENCY:-1}

# Only the one-shot supernets' worker (a host that trains supernets and no trials).
oneshot-worker: install
	$(PY) -m celery -A nasweb worker -Q oneshot --loglevel INFO --concurrency 1 -n oneshot@%h

# A measuring worker: device costs of the trials that matter, and its own machine as a measured target
# (consumes `measure` and `measure.<its target id>`); trial workers never measure.
measure-worker: install
	$(PY) -m celery -A nasweb worker -Q measure --loglevel INFO --concurrency 1 -n measure@%h

# GPU trials, and beside them a worker for GPU searches' supernets (gpu.oneshot) on the same GPU.
gpu-worker: install
	$(PY) -m celery -A nasweb worker -Q gpu.oneshot --loglevel INFO --concurrency 1 -n gpu-oneshot@%h & supernets=$$!; \
	trap 'kill $$supernets 2>/dev/null' EXIT INT TERM; \
	$(PY) -m celery -A nasweb worker -Q gpu --loglevel INFO --concurrency 1 -n gpu@%h

# The clock of the recovery sweep (stale trials requeued, lost messages re-sent): ONE per installation.
beat: install
	mkdir -p var
	$(PY) -m celery -A nasweb beat --loglevel INFO --schedule var/celerybeat-schedule

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; sleep 2; }
	@pg_isready -h 127.0.0.1 -p 5432
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "starting Redis"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; sleep 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping

chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

test: install services chromium
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-forms: install services   # the full form matrix and 500 fuzzed posts per form (about 10 CPU-minutes)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(XDIST) -m "matrix or fuzz" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
