# Two commands for a reader: `make book` and `make test`. Both set up first.
PY := .venv/bin/python
FORCE ?= 0
FORCE_FLAG := $(if $(filter 1,$(FORCE)),--force,)

.PHONY: setup book smoke test bench lint clean

setup:
	@bash scripts/setup.sh

book: setup  ## full profile: run the experiments, build the HTML book
	$(PY) -m bnbook.build --profile full $(FORCE_FLAG)

smoke: setup  ## the same book on tiny data, in minutes
	$(PY) -m bnbook.build --profile smoke $(FORCE_FLAG)

test: setup  ## the whole test suite, including a smoke-profile book build
	$(PY) -m pytest

bench: setup  ## speed: batch norm's step-time cost, our loop vs model.fit (last line: JSON)
	$(PY) -m bnbook.bench

lint: setup
	.venv/bin/ruff check src tests && .venv/bin/ruff format --check src tests

clean:
	rm -rf _build
