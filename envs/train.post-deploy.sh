#!/usr/bin/env bash
# Run by Snakemake inside the environment of envs/train.yaml, once, right after creating it
# (`--sdm conda`; a changed script changes the environment's hash, so it is rebuilt).
# The packages of requirements-no-deps.txt, with --no-deps as scripts/setup-venv.sh installs them:
# musicnn's metadata pins numpy<1.17, which no Python 3.11 environment can hold, so a pip entry in
# train.yaml would fail; only its checkpoint files are used (evaluate's music-level embedding).
set -euo pipefail
python -m pip install --no-deps musicnn==0.1.0
