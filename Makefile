# Two commands: `make run` (demo on http://127.0.0.1:8080) and `make test` (whole suite on a
# throwaway PostgreSQL and Redis). Both install what they need into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml 2>/dev/null | cut -c1-12)
PORT ?= 8080

.PHONY: help install run test lint bench clean

help: ## Show the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv"; apt-get install -y python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Install the project and its tools into .venv

# First run: writes the git-ignored .env (DEBUG=1, a generated SECRET_KEY, the demo's settings)
# that manage.py, gunicorn, the relay and the worker read (config/env.py), so commands run in the
# checkout work and their one-time codes are accepted by this server.
run: install ## Migrate, create the demo merchant and serve on 127.0.0.1:8080 (SQLite, in-process broker)
	@$(BIN)/python -c 'from config.env import env_file_local_write as w; \
	  w() and print("wrote .env (local development settings, git-ignored)")' || exit 1
	@set -a; DEBUG=$${DEBUG:-1}; OUTBOX_ALLOW_PRIVATE_TARGETS=$${OUTBOX_ALLOW_PRIVATE_TARGETS:-1}; \
	  PORT=$(PORT); set +a; \
	  $(BIN)/python manage.py migrate --noinput -v 0 && \
	  $(BIN)/python manage.py demo_setup --port $(PORT) && \
	  if [ -n "$${REDIS_URL:-}" ]; then \
	    echo "REDIS_URL is set: starting the relay and a Dramatiq worker beside the api"; \
	    WORKERS_ENABLED=1 $(BIN)/python manage.py rundramatiq --processes 1 --threads 4 & \
	    $(BIN)/python manage.py outbox_relay & \
	    trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT INT TERM; \
	  fi; \
	  BIND=127.0.0.1:$(PORT) $(BIN)/gunicorn config.wsgi:application -c config/gunicorn.py

MYPY_PATHS := core loyalty outbox integrations notifications platform_ops portal config
#: Debian packages whose servers the scale-out tests start themselves (tests/scaleout/servers.py).
SCALEOUT_PACKAGES := rabbitmq-server pgbouncer redis-sentinel

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	DEBUG=1 $(BIN)/mypy $(MYPY_PATHS)

test: install ## Whole suite against a throwaway PostgreSQL and Redis
	@command -v shellcheck >/dev/null || { apt-get install -y shellcheck >/dev/null 2>&1 || \
	  { apt-get update >/dev/null 2>&1 && apt-get install -y shellcheck >/dev/null 2>&1; } || \
	  echo "shellcheck could not be installed; its test will fail"; }
	@command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 || true
	@command -v amtool >/dev/null || apt-get install -y --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 || true # tests/scripts/test_monitoring.py checks the routing example
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } || echo "wrk could not be installed; tests/scripts/test_load_test.py will fail" # for scripts/load-test.sh
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
	  apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update >/dev/null 2>&1 && \
	    apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "chromium/chromium-driver could not be installed; the browser tests will fail"; }
	@missing=; for p in $(SCALEOUT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (servers of tests/scaleout)"; \
	  apt="apt-get -o DPkg::Lock::Timeout=600 -y -q"; \
	  { DEBIAN_FRONTEND=noninteractive $$apt install --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { $$apt update >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive $$apt install --no-install-recommends $$missing >/dev/null 2>&1; }; } || \
	  echo "could not install$$missing; the tests in tests/scaleout will fail"; \
	fi
	@# The Node webhook-verification snippet of docs/webhooks.md runs against its pinned lockfile.
	@[ -d tests/docs/node/node_modules/standardwebhooks ] || \
	  npm ci --prefix tests/docs/node --no-audit --no-fund >/dev/null 2>&1 || \
	  echo "npm ci in tests/docs/node failed; the Node webhook snippet test will fail"
	@dir=$$(mktemp -d /tmp/loyalty-test-XXXXXX); \
	  trap '.ci/services.sh stop "$$dir" >/dev/null 2>&1 || true' EXIT; \
	  eval "$$(.ci/services.sh start "$$dir")" && \
	  export SECRET_KEY=test-secret-key-0123456789abcdef0123456789 OUTBOX_ALLOW_PRIVATE_TARGETS=1 \
	    METRICS_PUBLIC=1 && \
	  export ENV_FILE= && \
	  $(BIN)/ruff check . && \
	  $(BIN)/mypy $(MYPY_PATHS) && \
	  $(BIN)/pytest $(PYTEST_ARGS)

bench: install ## Benchmarks (figures printed, also recorded in the README)
	@dir=$$(mktemp -d /tmp/loyalty-bench-XXXXXX); \
	  trap '.ci/services.sh stop "$$dir" >/dev/null 2>&1 || true' EXIT; \
	  eval "$$(.ci/services.sh start "$$dir")" && \
	  export SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 OUTBOX_ALLOW_PRIVATE_TARGETS=1 \
	    METRICS_PUBLIC=1 && \
	  for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean: ## Remove the virtualenv and the demo database
	rm -rf $(VENV) db.sqlite3
