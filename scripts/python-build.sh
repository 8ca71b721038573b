#!/usr/bin/env bash
# scripts/python-build.sh - builds py-xpr's wheel with maturin (in a build venv) into
# $XPR_PY_DIR/py-wheels (default target/py-wheels) and prints the wheel's path.
# Arguments go to maturin (--release for benchmarks; the tests use the faster debug build).
# Used by scripts/python-test.sh and benches/python/run.sh. Needs PyPI the first time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${XPR_PY_DIR:-$ROOT/target}
BUILD_VENV=$DIR/py-build-venv
WHEELS=$DIR/py-wheels

if [ ! -x "$BUILD_VENV/bin/maturin" ]; then
  python3 -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/pip" install -q "maturin>=1.16,<2"
fi
rm -rf "$WHEELS"
"$BUILD_VENV/bin/maturin" build --quiet --manifest-path "$ROOT/py-xpr/Cargo.toml" \
  --out "$WHEELS" "$@" >&2
ls "$WHEELS"/xpr-*.whl
