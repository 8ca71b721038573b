#!/usr/bin/env bash
# benches/python/run.sh - Python function calls through xpr's ExPyRe drop-in (xpr.expyre, via
# the `expyre` shim) against ExPyRe 0.1.6 itself (PyPI expyre-wfl), in the same run, on the
# test bed's Slurm over SSH (loopback), with the SAME program (driver.py, written for ExPyRe).
# Also the import time of each package.
#
#   tests/testbed/setup.sh && benches/python/run.sh [--n 200] [--no-expyre]
#
# Prints one row per tool (seconds to start all, to all results local, outputs right) and the
# ratio ExPyRe / xpr. XPR_PY_DIR: where the venvs and the wheel go (default target/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${XPR_PY_DIR:-$ROOT/target}
N=200
EXPYRE=1
while [ "$#" -gt 0 ]; do
  case $1 in
    --n) N=$2; shift 2 ;;
    --no-expyre) EXPYRE=0; shift ;;
    *) echo "usage: $0 [--n N] [--no-expyre]" >&2; exit 2 ;;
  esac
done
ENV_FILE=${XPR_TESTBED_ENV:-/tmp/xpr-testbed/env.sh}
[ -f "$ENV_FILE" ] || { echo "$ENV_FILE missing: start the test bed (tests/testbed/setup.sh)" >&2; exit 1; }
# shellcheck source=/dev/null
. "$ENV_FILE"

XPR_VENV=$DIR/py-bench-xpr
EXPYRE_VENV=$DIR/py-bench-expyre
WHEEL=$(XPR_PY_DIR=$DIR "$ROOT/scripts/python-build.sh" --release)
python3 -m venv --clear "$XPR_VENV"
"$XPR_VENV/bin/pip" install -q --disable-pip-version-check "$WHEEL" "$ROOT/py-xpr/shim"
if [ "$EXPYRE" = 1 ] && ! "$EXPYRE_VENV/bin/python" -c "import expyre.func" 2>/dev/null; then
  python3 -m venv --clear "$EXPYRE_VENV"
  "$EXPYRE_VENV/bin/pip" install -q --disable-pip-version-check "expyre-wfl==0.1.6"
fi

SCRATCH=$(mktemp -d /tmp/xpr-bench-py.XXXXXX)
TOKEN=b$(date +%s)
REMOTE=xpr-bench-py/$TOKEN
SSH=(ssh -F "$XPR_SSH_CONFIG" xpr-local)
cleanup() {
  "${SSH[@]}" "rm -rf -- \"\$HOME\"/xpr-bench-py/$TOKEN" || true
  rm -rf -- "$SCRATCH"
}
trap cleanup EXIT

# The configs differ in remsh_cmd alone: ExPyRe hands a multi-word one to `rsync -e`
# unquoted, so it gets a one-word wrapper; xpr needs OpenSSH itself (it keeps a master).
printf '#!/bin/sh\nexec ssh -F %q "$@"\n' "$XPR_SSH_CONFIG" > "$SCRATCH/ssh-link"
chmod +x "$SCRATCH/ssh-link"

# run TOOL PYTHON REMSH: the driver with a fresh EXPYRE_ROOT; prints "wall submitted ok"
run() {
  local tool=$1 python=$2 remsh=$3 root=$SCRATCH/$1
  mkdir -p "$root/work"
  cat > "$root/config.json" <<JSON
{"systems": {"bench": {"host": "xpr-local", "remsh_cmd": "$remsh",
  "scheduler": "slurm", "rundir": "$REMOTE/$tool",
  "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}}}}
JSON
  for i in $(seq 0 $((N - 1))); do
    mkdir -p "$root/work/t$i" && echo "input $i of $tool" > "$root/work/t$i/in.txt"
  done
  (cd "$root" && EXPYRE_ROOT=$root EXPYRE_RETRY="2 2" \
    "$python" "$ROOT/benches/python/driver.py" "$N" "$root/work" "$TOKEN-$tool" 1800) \
    > "$root/out.txt" 2> "$root/err.txt" || { tail -5 "$root/err.txt" >&2; return 1; }
  tail -1 "$root/out.txt" | python3 -c \
    'import json, sys; r = json.load(sys.stdin); print("%.2f %.2f %d" % (r["wall"], r["submitted"], r["ok"]))'
}

# import_time PYTHON MODULE: best of 5 wall times of `python -c "import MODULE"`, seconds
import_time() {
  "$1" - "$2" <<'PY'
import subprocess, sys, time
def once():
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {sys.argv[1]}"], check=True)
    return time.perf_counter() - start
print(f"{min(once() for _ in range(5)):.3f}")
PY
}

echo "import time (best of 5, interpreter start included):"
echo "  python -c pass        $(import_time "$XPR_VENV/bin/python" sys) s"
echo "  import xpr.expyre     $(import_time "$XPR_VENV/bin/python" xpr.expyre) s"
echo "  import expyre.func    $(import_time "$XPR_VENV/bin/python" expyre.func) s (xpr's shim)"
[ "$EXPYRE" = 1 ] && echo "  import expyre.func    $(import_time "$EXPYRE_VENV/bin/python" expyre.func) s (ExPyRe 0.1.6)"

echo "$N Python function calls on the test bed's Slurm over SSH (loopback), one job each:"
read -r XW XS XOK < <(run xpr "$XPR_VENV/bin/python" "ssh -F $XPR_SSH_CONFIG")
printf '  %-24s started in %7.2f s, all results local at %7.2f s, %s/%s right\n' \
  "xpr (xpr.expyre)" "$XS" "$XW" "$XOK" "$N"
if [ "$EXPYRE" = 1 ]; then
  read -r EW ES EOK < <(run expyre "$EXPYRE_VENV/bin/python" "$SCRATCH/ssh-link")
  printf '  %-24s started in %7.2f s, all results local at %7.2f s, %s/%s right\n' \
    "ExPyRe 0.1.6" "$ES" "$EW" "$EOK" "$N"
  python3 -c "print(f'  ratio ExPyRe / xpr: {$EW / $XW:.1f}x (target >= 10x)')"
fi
