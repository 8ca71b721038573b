#!/usr/bin/env bash
# py-xpr/checks/wfl-on-slurm.sh - wfl (PyPI, unchanged) driving ExPyRe's API on xpr: its
# autoparallelize with a WFL_EXPYRE_INFO remote setup, on the test bed's Slurm over SSH.
#
#   tests/testbed/setup.sh && py-xpr/checks/wfl-on-slurm.sh
#
# 1. a local venv: `pip install wfl` (which brings ExPyRe, expyre-wfl 0.1.6), then ExPyRe
#    replaced by xpr's wheel and its `expyre` shim (py-xpr/EXPYRE.md, the one-line migration);
# 2. the remote side's Python for wfl's functions: a venv of the head node's /usr/bin/python3
#    with wfl, which the jobs activate through RemoteInfo's pre_cmds, as a wfl user does;
# 3. wfl_calculate.py: EMT energies of 8 structures, locally and as 4 remote ExPyRe jobs of 2,
#    which must agree. Needs PyPI (wfl pulls ase, scipy ...); not part of the test suite.
# XPR_PY_DIR: where the venvs and the wheel go (default target/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${XPR_PY_DIR:-$ROOT/target}
ENV_FILE=${XPR_TESTBED_ENV:-/tmp/xpr-testbed/env.sh}
[ -f "$ENV_FILE" ] || { echo "$ENV_FILE missing: start the test bed (tests/testbed/setup.sh)" >&2; exit 1; }
# shellcheck source=/dev/null
. "$ENV_FILE"

LOCAL_VENV=$DIR/wfl-xpr-venv
# The jobs run as the test bed's user on this machine: their venv must be readable by it.
REMOTE_VENV=/tmp/xpr-wfl-remote-venv
WHEEL=$(XPR_PY_DIR=$DIR "$ROOT/scripts/python-build.sh")
python3 -m venv --clear "$LOCAL_VENV"
"$LOCAL_VENV/bin/pip" install -q --disable-pip-version-check wfl
"$LOCAL_VENV/bin/pip" uninstall -q -y expyre-wfl
"$LOCAL_VENV/bin/pip" install -q --disable-pip-version-check "$WHEEL"
"$LOCAL_VENV/bin/pip" install -q --disable-pip-version-check --no-deps "$ROOT/py-xpr/shim"
if ! "$REMOTE_VENV/bin/python" -c "import wfl" 2>/dev/null; then
  /usr/bin/python3 -m venv --clear "$REMOTE_VENV"
  "$REMOTE_VENV/bin/pip" install -q --disable-pip-version-check wfl
  chmod -R a+rX "$REMOTE_VENV"
fi

WORK=$(mktemp -d /tmp/xpr-wfl-check.XXXXXX)
RUNDIR=xpr-wfl-check/$(basename "$WORK")
cleanup() {
  ssh -F "$XPR_SSH_CONFIG" xpr-local "rm -rf -- \"\$HOME\"/$RUNDIR" || true
  rm -rf -- "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/_expyre"
cat > "$WORK/_expyre/config.json" <<JSON
{"systems": {"bed": {"host": "xpr-local", "remsh_cmd": "ssh -F $XPR_SSH_CONFIG",
  "scheduler": "slurm", "rundir": "$RUNDIR",
  "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}}}}
JSON
export WFL_EXPYRE_INFO='{"sys_name": "bed", "job_name": "wflcheck",
  "resources": {"max_time": "10m", "num_cores": 2}, "partial_node": true,
  "num_inputs_per_queued_job": 2, "check_interval": 1,
  "pre_cmds": ["source '"$REMOTE_VENV"'/bin/activate"]}'
cd "$WORK"
"$LOCAL_VENV/bin/python" "$ROOT/py-xpr/checks/wfl_calculate.py"
echo "xpr's jobs DB afterwards:"
"$LOCAL_VENV/bin/xpr" ls
# wfl passes WFL_NUM_PYTHON_SUBPROCESSES=${EXPYRE_NUM_CORES_PER_NODE}: each job saw 2 cores.
grep -h "num_python_subprocesses=2" _expyre/run_*/xpr.stdout | head -1
