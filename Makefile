# audio-wgan: `make run` (demo, end to end) and `make test` bootstrap .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake
export PYTHONPATH := $(CURDIR)/workflow/scripts

.PHONY: setup system-deps run demo-audio test lint format clean

# The virtual environment is rebuilt whenever a requirements file changes.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: system-deps $(BIN)/.installed ## create .venv and install ffmpeg if missing

system-deps:
	@bash scripts/install-system-deps.sh ffmpeg

demo-audio: $(BIN)/.installed
	$(BIN)/python -m audiowgan.demo results/demo

run: setup demo-audio ## run the whole workflow on the synthetic demo corpus
	$(SNAKEMAKE) --cores $(CORES) --configfile config/demo.yaml

test: setup ## lint, format check and the test suite
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

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
