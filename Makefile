# LabelHub — the two commands: `make run` (embedded demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: venv run test lint fmt bench migrations-check clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Embedded default: SQLite file, Celery eager (no broker), demo data, DEBUG on.
run: venv
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py load_demo
	@echo "Serving http://$(HOST):$(PORT)/ — log in with a demo login above (Ctrl+C stops)."
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The whole suite. DATABASE_URL=postgres://... runs it on PostgreSQL (CI does), including the
# concurrency tests; browser tests need /usr/bin/chromium (Debian package `chromium`).
test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: venv
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# Needs PostgreSQL on 127.0.0.1:5432; see bench/README.md.
bench: venv
	$(BIN)/python bench/api_load.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
