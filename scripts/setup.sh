#!/usr/bin/env bash
# Create .venv and install qcassist with its test tools, offline-safe:
# torch is pinned to the CPU build that lies on the machine *before* anything
# that depends on it, so sentence-transformers cannot pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
