# KetaScreen: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# XStatic-Bootstrap builds only with setuptools<81 (see .ci/constraints.txt).
export PIP_CONSTRAINT := $(CURDIR)/.ci/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench bench-journey setup lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt .ci/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_knowledge_base --if-empty
	$(PY) manage.py create_demo_users

run: setup
	$(PY) manage.py runserver 127.0.0.1:8000

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed node_modules/.installed lint
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmarks of `make bench`, each a module of bench/ (with its
# arguments) run in turn: the pages on PostgreSQL and Redis at 4 and 16
# connections with the growth check, the same pages on SQLite (make run's
# database), the audit's scaling, the engine and the PDF. Then
# bench/report.py prints every figure of their results in one table.
BENCHES := "http" "http --database sqlite --growth 0" "audit" "engine" "pdf"

bench: $(VENV)/.installed
	@failed=""; for bench in $(BENCHES); do \
		echo "== bench.$$bench"; $(PY) -m bench.$$bench $(BENCH_ARGS) || failed="$$failed bench.$$bench"; \
	done; \
	echo "== summary"; $(PY) -m bench.report; \
	if [ -n "$$failed" ]; then echo "missed a target or failed:$$failed"; exit 1; fi

# A whole screening journey under load (Locust): JOURNEY_ARGS="--users 10 --seconds 60" for a short run.
bench-journey: $(VENV)/.installed
	$(PY) -m bench.journey $(JOURNEY_ARGS)

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache
