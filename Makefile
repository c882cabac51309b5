VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ISAS ?= SSE4_2 AVX

.PHONY: run test test-isa docs docs-screenshot quick-numbers bench bench-dsl bench-trainer bench-engine bench-tuning bench-coevolution bench-screening bench-discovery bench-versus-random lint clean

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PIP_CONSTRAINT=constraints.txt $(PY) -m pip install -q -e '.[test,docs]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/discovery run --preset quick

test: $(STAMP)
	$(PY) -m pytest --durations=15

# The golden run's checks compiled as older CPUs would: its numbers may move by a unit of their
# last decimal between instruction sets (tests/test_golden.py says why), never its rules.
test-isa: $(STAMP)
	for isa in $(ISAS); do \
		XLA_FLAGS=--xla_cpu_max_isa=$$isa $(PY) -m pytest -n 0 tests/test_golden.py tests/test_run_folder.py -k golden || exit 1; \
	done

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

# The screenshot of a tiny run's report.html in docs/inspect-export.md (needs chromium).
docs-screenshot: $(STAMP)
	$(PY) -m tests.benchmarks.report_screenshot docs/report-html.png

quick-numbers: $(STAMP)
	$(PY) -m tests.benchmarks.refresh_quick_run --seed 0

bench: bench-dsl bench-trainer bench-engine bench-tuning bench-coevolution

bench-dsl: $(STAMP)
	$(PY) tests/benchmarks/bench_dsl.py

bench-trainer: $(STAMP)
	$(PY) tests/benchmarks/bench_trainer.py

bench-engine: $(STAMP)
	$(PY) tests/benchmarks/bench_engine.py

bench-tuning: $(STAMP)
	$(PY) -m tests.benchmarks.bench_tuning

bench-coevolution: $(STAMP)
	$(PY) -m tests.benchmarks.bench_coevolution --family mlp
	$(PY) -m tests.benchmarks.bench_coevolution --family token_model

bench-screening: $(STAMP)
	$(PY) -m tests.benchmarks.bench_screening

bench-discovery: $(STAMP)
	$(PY) -m tests.benchmarks.bench_discovery

bench-versus-random: $(STAMP)
	$(PY) -m tests.benchmarks.bench_versus_random

lint: $(STAMP)
	$(VENV)/bin/ruff check dsl discovery tests examples

clean:
	rm -rf $(VENV) *.egg-info site
