#!/usr/bin/env bash
# scripts/python-test.sh - the Python package's tests (called by scripts/test.sh):
#
#   1. builds py-xpr's wheel with maturin (in a build venv under target/)
#   2. installs the wheel into a FRESH venv (with pytest, numpy, cloudpickle)
#   3. runs py-xpr/tests with that venv's pytest, from outside the source tree, so the
#      installed package is what is tested
#
# Arguments go to pytest (e.g. scripts/python-test.sh -k expyre). Needs PyPI the first time.
# XPR_PY_DIR: where the venvs and the wheel go (default target/; two runs at once need two).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${XPR_PY_DIR:-$ROOT/target}
BUILD_VENV=$DIR/py-build-venv
TEST_VENV=$DIR/py-test-venv
WHEELS=$DIR/py-wheels

if [ ! -x "$BUILD_VENV/bin/maturin" ]; then
  python3 -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/pip" install -q "maturin>=1.16,<2"
fi
rm -rf "$WHEELS"
"$BUILD_VENV/bin/maturin" build --quiet --manifest-path "$ROOT/py-xpr/Cargo.toml" --out "$WHEELS"

python3 -m venv --clear "$TEST_VENV"
"$TEST_VENV/bin/pip" install -q pytest numpy cloudpickle "$WHEELS"/xpr-*.whl
mkdir -p "$DIR/py-run" && cd "$DIR/py-run"
exec "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/py-xpr/tests" "$@"
