# Two commands for a reader: `make book` and `make test`. Both set up first.
PY := .venv/bin/python
FORCE ?= 0
FORCE_FLAG := $(if $(filter 1,$(FORCE)),--force,)

.PHONY: setup book smoke test test-fast bench lint clean notebook-pdf lab tensorboard freeze hash-pins cluster-certs

# Names for the title page (and the HTML footer), over those in _config.yml:
#   make book AUTHOR="Your Name" COLLABORATOR="Their Name"
# Passed to every command through the environment, as typed: $(value ...) expands no `$`,
# and no shell ever parses them, so quotes, `$`, `<` and backquotes all survive.
AUTHOR ?=
COLLABORATOR ?=
ifneq ($(value AUTHOR),)
export BNBOOK_AUTHOR := $(value AUTHOR)
endif
ifneq ($(value COLLABORATOR),)
export BNBOOK_COLLABORATOR := $(value COLLABORATOR)
endif

setup:
	@bash scripts/setup.sh

book: setup  ## full profile: run the experiments, build the HTML book and the PDF
	$(PY) -m bnbook.tooling.build --profile full $(FORCE_FLAG)

smoke: setup  ## the same book on tiny data, in minutes
	$(PY) -m bnbook.tooling.build --profile smoke $(FORCE_FLAG)

test: setup  ## the whole test suite, including a smoke-profile book build
	$(PY) -m pytest

test-fast: setup  ## everything but the book's tests and the slow ones (under 3 minutes)
	$(PY) -m pytest -m "not book and not slow"

bench: setup  ## speed: batch norm's step-time cost, our loop vs model.fit (last line: JSON)
	$(PY) -m bnbook.tooling.bench

# Bad input to the targets below is one line and exit status 2, before any set-up.
BNBOOK_PROFILE ?= full
# The profiles of bnbook.runs.profiles.PROFILES (tests/test_makefile.py checks they agree).
PROFILES := full smoke
ifneq ($(filter lab notebook-pdf,$(MAKECMDGOALS)),)
ifneq ($(words $(filter $(PROFILES),$(BNBOOK_PROFILE))) $(words $(BNBOOK_PROFILE)),1 1)
$(error BNBOOK_PROFILE=$(BNBOOK_PROFILE) is not a profile; use one of: $(PROFILES))
endif
endif
ifneq ($(filter notebook-pdf,$(MAKECMDGOALS)),)
ifeq ($(NB),)
$(error usage: make notebook-pdf NB=notebooks/01_data.ipynb)
else ifeq ($(shell test -f '$(subst ','\'',$(NB))' && echo yes),)
$(error no such notebook: $(NB))
endif
endif

# One chapter as PDF (nbconvert + XeLaTeX), re-executed, into _build/notebook-pdf/.
notebook-pdf: setup  ## make notebook-pdf NB=notebooks/01_data.ipynb [BNBOOK_PROFILE=smoke]
	BNBOOK_PROFILE=$(BNBOOK_PROFILE) TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/jupyter nbconvert \
	  --config book/latex/nbconvert_pdf.py --to pdf --execute "$(NB)" --output-dir _build/notebook-pdf

# Tools (README, "Tools"): JupyterLab on the notebooks, TensorBoard on the records, a Dask
# cluster's certificates, exact pins.
LAB_PORT ?= 8888
TENSORBOARD_PORT ?= 6006
# Jupyter refuses to start as root without --allow-root; nobody else gets it.
LAB_ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)
lab: setup  ## JupyterLab on notebooks/ with the "Python (bnbook)" kernel [BNBOOK_PROFILE=smoke]
	BNBOOK_PROFILE=$(BNBOOK_PROFILE) .venv/bin/jupyter lab --ServerApp.root_dir=notebooks \
	  --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) $(LAB_ALLOW_ROOT)

tensorboard: setup  ## every record's curves in TensorBoard (exported to _build/tensorboard/)
	$(PY) -m bnbook.tooling.tensorboard --serve --port $(TENSORBOARD_PORT)

cluster-certs: setup  ## TLS certificates for a Dask cluster, into cluster-certs/ (README, "A Dask cluster")
	@bash scripts/cluster-certs.sh

freeze:  ## re-resolve requirements.txt's exact pins from requirements.in, with hashes (~3 minutes)
	@bash scripts/freeze.sh

hash-pins: setup  ## re-hash today's pins from PyPI, versions untouched (~15 s)
	$(PY) scripts/hash_pins.py requirements.txt requirements-pip.txt

lint: setup
	.venv/bin/ruff check src tests notebooks scripts && .venv/bin/ruff format --check src tests notebooks scripts

clean:
	rm -rf _build
