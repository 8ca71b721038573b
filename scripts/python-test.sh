#!/usr/bin/env bash
# scripts/python-test.sh - the Python package's tests (called by scripts/test.sh):
#
#   1. builds py-xpr's wheel (scripts/python-build.sh: maturin, in a build venv under target/)
#   2. installs the wheel into a FRESH venv (with pytest, numpy, cloudpickle)
#   3. runs py-xpr/tests with that venv's pytest, from outside the source tree, so the
#      installed package is what is tested
#
# Arguments go to pytest (e.g. scripts/python-test.sh -k expyre). Needs PyPI the first time.
# XPR_PY_DIR: where the venvs and the wheel go (default target/; two runs at once need two).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${XPR_PY_DIR:-$ROOT/target}
TEST_VENV=$DIR/py-test-venv

WHEEL=$(XPR_PY_DIR=$DIR "$ROOT/scripts/python-build.sh")
python3 -m venv --clear "$TEST_VENV"
"$TEST_VENV/bin/pip" install -q pytest numpy cloudpickle "$WHEEL"
"$TEST_VENV/bin/pip" install -q --no-deps "$ROOT/py-xpr/shim"
mkdir -p "$DIR/py-run" && cd "$DIR/py-run"
exec "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/py-xpr/tests" "$@"
