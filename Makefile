VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/discovery demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) tests/benchmarks/bench_dsl.py

lint: $(STAMP)
	$(VENV)/bin/ruff check dsl discovery tests

clean:
	rm -rf $(VENV) *.egg-info
