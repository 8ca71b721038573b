#!/usr/bin/env bash
# scripts/test.sh - THE test command of xpr (CI runs it through .ci/run). As root:
#
#   1. cargo fmt --check
#   2. start the test bed (tests/testbed/setup.sh, installing missing packages with apt-get)
#   3. cargo clippy --workspace --all-targets -- -D warnings
#   4. cargo test --workspace [ARGS...]          e.g. scripts/test.sh --test testbed
#   5. the Python package: scripts/python-test.sh (wheel built by maturin, installed into a
#      fresh venv, its pytest suite run; skipped when ARGS select Rust tests only)
#   6. stop the test bed again (always, also on failure or Ctrl-C); exit with the first failure's code
#
# A test bed that is already running (started by hand with setup.sh) is used as it is and left
# running: this script only stops what it started. XPR_TESTBED_OFF=slurm,sge,netns|all leaves
# those components out of the test bed, and the tests needing them skip; `all` needs no root.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB=$ROOT/tests/testbed
# shellcheck source=tests/testbed/lib.sh
. "$TB/lib.sh"
cd "$ROOT"

# XPR_TESTBED_OFF -> the setup.sh knobs leaving those components out
off() { [[ ",${XPR_TESTBED_OFF:-}," == *",$1,"* || ",${XPR_TESTBED_OFF:-}," == *",all,"* ]]; }
off slurm && export XPR_WITH_SLURM=0
off sge && export XPR_WITH_SGE=0
off netns && export XPR_WITH_NETNS=0 XPR_SGE_MODE=root

step() { log "--- $*"; }

STARTED=0
stop_testbed() {
  local rc=$?
  if [ "$STARTED" = 1 ]; then
    step "stopping the test bed"
    "$TB/teardown.sh" || log "WARNING: teardown.sh failed"
  fi
  log "exit code $rc"
  exit "$rc"
}
trap stop_testbed EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "cargo fmt --check"
cargo fmt --all --check

if off all || off ssh; then
  step "test bed switched off (XPR_TESTBED_OFF=$XPR_TESTBED_OFF)"
elif testbed_running; then
  step "test bed already running at $XPR_BASE: using it as it is, leaving it running"
else
  require_root
  step "starting the test bed"
  STARTED=1
  "$TB/setup.sh"
fi

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace $*"
cargo test --workspace "$@"

if [ "$#" -eq 0 ]; then
  step "python package (scripts/python-test.sh)"
  "$ROOT/scripts/python-test.sh"
fi
