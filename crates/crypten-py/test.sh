#!/usr/bin/env bash
# The Python package's tests on a fresh machine: a new virtual environment with maturin,
# numpy, onnx and pytest, the package built into it (the dev profile, sharing `cargo test`'s
# build), then pytest. torch is optional: the tests that need it skip without it.
set -euo pipefail
cd "$(dirname "$0")"
venv="${CRYPTEN_PY_VENV:-$(pwd)/../../target/py-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "maturin>=1.8,<2" "numpy>=1.21" "pytest>=7" "onnx>=1.14"
# shellcheck disable=SC1091
source "$venv/bin/activate"
maturin develop -q
python -m pytest -q tests "$@"
