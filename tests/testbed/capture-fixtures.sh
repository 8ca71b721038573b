#!/usr/bin/env bash
# capture-fixtures.sh - refresh the real-output parser fixtures from the running test bed: runs
# every tests/testbed/capture/*.sh (one per scheduler, owned by that scheduler's adapter) in name
# order, with the test bed's env exported, and reports which failed. It starts nothing itself:
# start the test bed first (setup.sh). Review the fixture diff with `git diff fixtures/` after.
#
#   tests/testbed/capture-fixtures.sh            every capture script
#   tests/testbed/capture-fixtures.sh slurm sge  only these (capture/<name>.sh)
#
# A capture script gets: the variables of env.sh (XPR_SSH_CONFIG, XPR_SLURM_SSH_HOSTS, ...),
# XPR_TESTBED_ENV (that file) and XPR_REPO (the repository root). It writes under fixtures/.
set -uo pipefail
# shellcheck source=tests/testbed/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XPR_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export XPR_REPO
export XPR_TESTBED_ENV=${XPR_TESTBED_ENV:-$XPR_BASE/env.sh}
[ -s "$XPR_TESTBED_ENV" ] || die "no test bed env file $XPR_TESTBED_ENV (hint: start it with tests/testbed/setup.sh)"
# shellcheck source=/dev/null
. "$XPR_TESTBED_ENV"

scripts=()
if [ $# -gt 0 ]; then
  for name in "$@"; do scripts+=("$XPR_REPO/tests/testbed/capture/$name.sh"); done
else
  for f in "$XPR_REPO"/tests/testbed/capture/*.sh; do [ -e "$f" ] && scripts+=("$f"); done
fi
[ ${#scripts[@]} -gt 0 ] || die "no capture scripts in $XPR_REPO/tests/testbed/capture/"

failed=()
for f in "${scripts[@]}"; do
  log "--- ${f#"$XPR_REPO"/}"
  if [ -e "$f" ] && bash "$f"; then
    log "ok   ${f#"$XPR_REPO"/}"
  else
    log "FAIL ${f#"$XPR_REPO"/} (exit $?)"
    failed+=("${f##*/}")
  fi
done
log "${#scripts[@]} capture scripts, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} = 0 ]
