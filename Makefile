# The two commands that matter: `make demo` and `make test`.
# Django 6 needs Python 3.12+; the first candidate that really runs is kept,
# because a pyenv shim can exist and still fail without PYENV_VERSION.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON_CANDIDATES := python3.14 python3.13 python3.12 "env PYENV_VERSION=3.13.0 python3.13" "env PYENV_VERSION=3.12.1 python3.12" python3

.PHONY: install demo test lint format bench migrations-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@set -e; PYBIN=""; \
	for cand in $(PYTHON_CANDIDATES); do \
	  if $$cand -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then PYBIN="$$cand"; break; fi; \
	done; \
	if [ -z "$$PYBIN" ]; then echo "Python 3.12 or newer is required (Django 6)." >&2; exit 1; fi; \
	echo "Using $$PYBIN ($$($$PYBIN --version))"; \
	[ -x $(PY) ] || $$PYBIN -m venv $(VENV); \
	$(PY) -m pip install --quiet --upgrade pip; \
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

demo: install
	@bash scripts/demo.sh

test: install
	@bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

bench: install
	@bash scripts/bench.sh

clean:
	rm -rf $(VENV) var
