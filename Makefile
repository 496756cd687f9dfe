# audio-wgan: `make run` (demo, end to end) and `make test` bootstrap .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
# pytest-xdist workers for `make test`: run in one process the suite keeps about one core busy (94% of one on a 2-core
# machine), so two workers use the second core (docs/development.md); TEST_JOBS=0 runs it serially
TEST_JOBS ?= 2
SNAKEMAKE := $(BIN)/snakemake
export PYTHONPATH := $(CURDIR)/workflow/scripts

# TensorFlow build (scripts/tf-route.sh): TF=cuda (tensorflow[and-cuda]), TF=plain (tensorflow) or
# TF=cpu (tensorflow-cpu); unset, it is detected: cuda where `nvidia-smi -L` lists a GPU (Linux),
# plain on macOS arm64 and Linux aarch64, cpu elsewhere. An explicit choice is remembered in
# .venv/bin/.installed until another is given (TF=auto detects again).
TF ?=
TF_CHOICE := $(shell TF='$(TF)' TF_STAMP='$(BIN)/.installed' UNAME_S='$(UNAME_S)' UNAME_M='$(UNAME_M)' \
	NVIDIA_SMI='$(NVIDIA_SMI)' bash scripts/tf-route.sh 2>/dev/null)
TF_ROUTE := $(word 1,$(TF_CHOICE))
TF_HOW := $(word 2,$(TF_CHOICE))
INSTALLED := $(shell cat $(BIN)/.installed 2>/dev/null)
# Reinstall when the route (or how it was chosen) differs from the one recorded at the last install.
TF_CHANGED := $(if $(filter tf-route=$(TF_ROUTE),$(INSTALLED)),$(if $(filter tf-route-chosen=$(TF_HOW),$(INSTALLED)),,FORCE),FORCE)

.PHONY: setup venv tf-route system-deps run demo-audio test lint format clean FORCE

# The virtual environment is updated whenever a requirements file or scripts/setup-venv.sh changes,
# and rebuilt from scratch when the TensorFlow route changes (scripts/setup-venv.sh).
$(BIN)/.installed: scripts/setup-venv.sh requirements.txt requirements-dev.txt requirements-no-deps.txt $(if $(TF_ROUTE),requirements-tf-$(TF_ROUTE).txt,tf-route) $(TF_CHANGED)
	PYTHON='$(PYTHON)' VENV='$(VENV)' bash scripts/setup-venv.sh $(TF_ROUTE) $(TF_HOW)

setup: system-deps venv ## create .venv (TensorFlow build: TF=cpu|cuda|plain, detected when unset) and install ffmpeg if missing

venv: $(BIN)/.installed ## only the virtual environment

tf-route: ## print the TensorFlow route make setup would install, and why
	@TF='$(TF)' TF_STAMP='$(BIN)/.installed' UNAME_S='$(UNAME_S)' UNAME_M='$(UNAME_M)' \
		NVIDIA_SMI='$(NVIDIA_SMI)' bash scripts/tf-route.sh --why 2>&1 >/dev/null

FORCE:

system-deps:
	@bash scripts/install-system-deps.sh ffmpeg

demo-audio: $(BIN)/.installed
	$(BIN)/python -m audiowgan.ingest.demo results/demo

run: setup demo-audio ## run the whole workflow on the synthetic demo corpus
	$(SNAKEMAKE) --cores $(CORES) --configfile config/demo.yaml

test: setup ## lint, format check and the test suite
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile

lint:
	$(SNAKEMAKE) --lint --configfile config/demo.yaml
	$(BIN)/snakefmt --check --diff Snakefile workflow/rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/snakefmt Snakefile workflow/rules
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf results .snakemake

.PHONY: docs
docs: $(BIN)/.installed ## regenerate docs/configuration.md from the config schema
	$(BIN)/python scripts/config-reference.py --write
