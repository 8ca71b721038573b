#!/usr/bin/env bash
# Captures real Slurm replies from the test bed as parser fixtures for the Slurm adapter
# (src/scheduler/slurm/). It runs real jobs as the test user over ssh - success, exit 3,
# cancelled while running, held (two at once), a throttled array, a timeout on the `tiny`
# partition, a Python job that holds 100 MB past one accounting sample (30 s) and fails with
# a traceback - and stores the replies of the EXACT commands the adapter builds (sbatch, squeue,
# sacct, find-by-name, scancel, scontrol hold/release) under
#   fixtures/slurm/<command>/testbed-<case>.txt     stdout
#   fixtures/slurm/<command>/testbed-<case>.stderr  stderr, only when not empty
#   fixtures/slurm/<command>/testbed-<case>.exit    exit code, only when not 0
# and rewrites the test bed block of fixtures/slurm/SOURCES.md (Slurm version, date, files).
#
# Usage: tests/testbed/capture/slurm.sh   (test bed env: $XPR_TESTBED_ENV or /tmp/xpr-testbed/env.sh)
# Re-runnable: old testbed-* fixtures are replaced; every job it submits is cancelled on exit
# and its remote directory removed. Takes about 2 minutes (the timeout case waits for Slurm's
# time limit check), plus 5 to 10 for the purged-id case (Slurm purges in batches some time
# after MinJobAge; XPR_CAPTURE_SKIP_PURGE=1 skips it).
# OOM is not reproducible here (no cgroup task plugin): not captured.
set -euo pipefail

ENV_FILE=${XPR_TESTBED_ENV:-/tmp/xpr-testbed/env.sh}
# shellcheck source=/dev/null
source "$ENV_FILE"
HOST=${XPR_CAPTURE_HOST:-xpr-local}
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
FIX=$REPO/fixtures/slurm
RUN=cap$(date +%s)            # names are unique per run, so find-by-name sees only this run
REMOTE=xpr-capture-slurm-$RUN  # under the test user's home
SSH=(ssh -F "$XPR_SSH_CONFIG" -o BatchMode=yes "$HOST")

# The adapter's formats and find-by-name script, verbatim (tests/slurm_parsers.rs checks that
# they match the constants in src/scheduler/slurm/mod.rs).
SQUEUE_FORMAT='%i|%T|%r|%N|%j'
SACCT_FORMAT='JobID,State,ExitCode,NodeList,ElapsedRaw,MaxRSS,Reason,JobName'
FIND_MARKER='--- sacct ---'
FIND_STARTTIME='2000-01-01T00:00:00'
FIND_SCRIPT=$(cat <<'EOF'
user=$(id -un) || exit
squeue --noheader --states=all --user="$user" --name="$1" --format="$2" || exit
printf '%s\n' "$4"
exec sacct --noheader --parsable2 --user="$user" --starttime="$5" --name="$1" --format="$3"
EOF
)

log() { printf '[capture-slurm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# One word quoted for the remote POSIX shell, as xpr's shell_quote does.
shq() {
  if [[ -n $1 && $1 =~ ^[A-Za-z0-9_./=:,+@%^-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
# The command line of argv "$@" (optionally after `cd DIR &&` when CWD is set).
line() {
  local out="" w
  [[ -n ${CWD:-} ]] && out="cd $(shq "$CWD") && "
  for w in "$@"; do out+="$(shq "$w") "; done
  printf '%s' "${out% }"
}
# Runs argv remotely, uncaptured; stdout to stdout.
remote() { "${SSH[@]}" "$(line "$@")" </dev/null; }

# capture DIR CASE ARGV...: runs ARGV remotely and stores its stdout/stderr/exit code.
capture() {
  local dir=$1 case=$2; shift 2
  local base=$FIX/$dir/testbed-$case rc=0
  mkdir -p "$FIX/$dir"
  "${SSH[@]}" "$(line "$@")" </dev/null >"$base.txt" 2>"$base.stderr" || rc=$?
  [[ $rc -eq 255 ]] && die "ssh failed for $dir/$case: $(cat "$base.stderr")"
  [[ -s $base.stderr ]] || rm -f "$base.stderr"
  if [[ $rc -ne 0 ]]; then echo "$rc" >"$base.exit"; else rm -f "$base.exit"; fi
  local note="\`${SHOW:-$(line "$@")}\`"
  [[ $rc -ne 0 ]] && note+=" (exit $rc)"
  CAPTURED+=("\`$dir/testbed-$case\`: $note")
  log "captured $dir/testbed-$case (exit $rc)"
  return 0
}

# The adapter's commands (see src/scheduler/slurm/mod.rs).
join() { local IFS=,; printf '%s' "$*"; }
status() { capture squeue "$1" squeue --noheader --states=all "--jobs=$(join "${@:2}")" "--format=$SQUEUE_FORMAT"; }
accounting() { capture sacct "$1" sacct --noheader --parsable2 "--jobs=$(join "${@:2}")" "--format=$SACCT_FORMAT"; }
find_by_name() {
  SHOW="sh -c \"\$FIND_SCRIPT\" sh $(join "${@:2}") ..." capture find_by_name "$1" sh -c "$FIND_SCRIPT" sh "$(join "${@:2}")" "$SQUEUE_FORMAT" "$SACCT_FORMAT" "$FIND_MARKER" "$FIND_STARTTIME"
}

JOBS=()
cleanup() {
  if [[ ${#JOBS[@]} -gt 0 ]]; then remote scancel "${JOBS[@]}" >/dev/null 2>&1 || true; fi
  remote rm -rf "$REMOTE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# submit CASE PARTITION TIME [SBATCH_OPTION...] -- BODY: writes the job script (ExPyRe's default
# header lines) into $REMOTE/CASE, submits it with the adapter's command (captured as
# sbatch/testbed-CASE) and sets ID to the job id. (Not run in $(...): it records into globals.)
submit() {
  local case=$1 partition=$2 time=$3; shift 3
  local opts=() body
  while [[ $1 != -- ]]; do opts+=("#SBATCH $1"); shift; done
  body=$2
  local name=$RUN-$case dir=$REMOTE/$case
  {
    printf '#!/bin/bash\n'
    printf '#SBATCH --job-name=%s\n#SBATCH --partition=%s\n#SBATCH --time=%s\n' "$name" "$partition" "$time"
    printf '#SBATCH --output=job.%s.stdout\n#SBATCH --error=job.%s.stderr\n' "$name" "$name"
    [[ ${#opts[@]} -gt 0 ]] && printf '%s\n' "${opts[@]}"
    printf '%s\n' "$body"
  } | "${SSH[@]}" "$(line mkdir -p "$dir") && $(line cat) > $(shq "$dir/job.script.slurm")"
  CWD=$dir capture sbatch "$case" sbatch --parsable job.script.slurm
  local id
  id=$(tr -d '\n' <"$FIX/sbatch/testbed-$case.txt")
  [[ $id =~ ^[0-9]+$ ]] || die "sbatch for $case replied: $id $(cat "$FIX/sbatch/testbed-$case.stderr" 2>/dev/null)"
  JOBS+=("$id")
  ID=$id
}

# state ID: the states squeue lists for the job, one a line (uncaptured helper query).
state() { remote squeue --noheader --states=all "--jobs=$1" --format=%T 2>/dev/null || true; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls every second until COMMAND succeeds.
wait_for() {
  local what=$1 limit=$2 start=$SECONDS; shift 2
  until "$@"; do
    (( SECONDS - start > limit )) && die "timed out after ${limit}s waiting for $what"
    sleep 1
  done
}
purged() {
  local out
  out=$(remote squeue --noheader --states=all "--jobs=$1" 2>&1 || true)
  [[ $out == *'Invalid job id specified'* ]]
}
state_is() { state "$1" | grep -qx "$2"; }
state_is_not() { local s; s=$(state "$1" | head -n1); [[ -n $s && $s != "$2" ]]; }
# All job rows (not steps) of the adapter's sacct reply for the ids are in a final state.
sacct_final() {
  remote sacct --noheader --parsable2 "--jobs=$(join "$@")" "--format=$SACCT_FORMAT" |
    awk -F'|' -v n=$# '$1 !~ /\./ { rows++; if ($2 ~ /^(PENDING|RUNNING|COMPLETING|REQUEUED|SUSPENDED|CONFIGURING)/) bad++ }
                        END { exit !(rows >= n && bad == 0) }'
}

# ------------------------------------------------------------------ start
CAPTURED=()
VERSION=$(remote sbatch --version)
log "$VERSION on $HOST, run $RUN"
rm -f "$FIX"/*/testbed-*
# Leftovers of an interrupted earlier run.
# shellcheck disable=SC2016 # the `$` expand on the remote side
remote sh -c 'squeue --noheader --user="$(id -un)" --format="%i %j" | awk "\$2 ~ /^cap[0-9]+-/ {print \$1}" | xargs -r scancel; rm -rf xpr-capture-slurm-cap*'

submit success debug 0:05:00 -- 'echo hello'; OK=$ID
submit exit3 debug 0:05:00 -- 'echo failing >&2; exit 3'; EXIT3=$ID
submit cancelled debug 0:05:00 -- 'sleep 300'; CANCEL=$ID
submit held1 debug 0:05:00 --begin=now+3600 -- 'sleep 1'; HELD1=$ID
submit held2 debug 0:05:00 --begin=now+3600 -- 'sleep 1'; HELD2=$ID
submit array debug 0:05:00 --array=0-4%2 -- 'sleep 8'; ARRAY=$ID
submit timeout tiny 0:01:00 -- 'sleep 600'; TIMEOUT=$ID
submit memory debug 0:05:00 -- 'python3 -c "import time; x = bytearray(100 * 2**20); time.sleep(35); raise ValueError(\"bad input\")"'; MEMORY=$ID
ALL=("$OK" "$EXIT3" "$CANCEL" "$HELD1" "$HELD2" "$ARRAY" "$TIMEOUT" "$MEMORY")
log "jobs: ${ALL[*]}"

wait_for "job $CANCEL running" 60 state_is "$CANCEL" RUNNING
wait_for "job $TIMEOUT running" 60 state_is "$TIMEOUT" RUNNING
capture scontrol_hold two-ids scontrol hold "$HELD1" "$HELD2"

# Live snapshots, while the array has a running element and a pending throttled range.
wait_for "array $ARRAY running" 60 state_is "$ARRAY" RUNNING
status live-all "${ALL[@]}"
status running "$CANCEL"
status held "$HELD1" "$HELD2"
status array "$ARRAY"
find_by_name live "$RUN-cancelled" "$RUN-held1" "$RUN-array"

capture scontrol_release one-id scontrol release "$HELD2"
status released "$HELD2"
capture scancel running scancel "$CANCEL"
capture scancel held scancel "$HELD1" "$HELD2"

# Unknown ids: alone squeue fails (exit 1), among known ones it lists the known ones.
UNKNOWN=67000000
status unknown-single-id "$UNKNOWN"
status unknown-among-known "$OK" "$UNKNOWN"

log "waiting for the time limit of job $TIMEOUT (tiny partition, MaxTime=1 min)"
wait_for "job $TIMEOUT to end" 300 state_is_not "$TIMEOUT" RUNNING
wait_for "array $ARRAY to end" 120 sacct_final "$ARRAY"
wait_for "accounting of every job" 120 sacct_final "${ALL[@]}"

status ended-all "${ALL[@]}"
accounting all "${ALL[@]}"
accounting success "$OK"
accounting exit3 "$EXIT3"
accounting cancelled "$CANCEL"
accounting held "$HELD1" "$HELD2"
accounting array "$ARRAY"
accounting timeout "$TIMEOUT"
accounting memory "$MEMORY"
accounting unknown-id "$UNKNOWN"
find_by_name ended "$RUN-success" "$RUN-exit3" "$RUN-cancelled" "$RUN-array" "$RUN-timeout"
find_by_name none "$RUN-never-submitted"

# A purged id: the controller forgets a job MinJobAge (300 s here) after it ended.
if [[ ${XPR_CAPTURE_SKIP_PURGE:-0} != 1 ]]; then
  log "waiting for job $OK to be purged from the controller (MinJobAge)"
  wait_for "job $OK to be purged" 900 purged "$OK"
  status purged-single-id "$OK"
  accounting purged "$OK"
fi

# ------------------------------------------------------------------ SOURCES.md block
SOURCES=$FIX/SOURCES.md
BEGIN='<!-- testbed-capture:begin (written by tests/testbed/capture/slurm.sh) -->'
END='<!-- testbed-capture:end -->'
{
  echo "$BEGIN"
  echo "Captured $(date -u +%Y-%m-%dT%H:%MZ) by \`tests/testbed/capture/slurm.sh\` on the project test bed:"
  echo "$VERSION (slurmctld + slurmd + slurmdbd, one node), user \`$XPR_USER\` over ssh host \`$HOST\`."
  echo "Job ids of that run: success $OK, exit3 $EXIT3, cancelled $CANCEL, held $HELD1 $HELD2, array $ARRAY,"
  echo "timeout $TIMEOUT (partition \`tiny\`, MaxTime=1), memory $MEMORY; unknown id $UNKNOWN. Job names are \`$RUN-<case>\`."
  echo
  for c in "${CAPTURED[@]}"; do echo "- $c"; done
  echo "$END"
} >"$FIX/.capture-block"
if [[ -f $SOURCES ]] && grep -qF "$BEGIN" "$SOURCES"; then
  awk -v begin="$BEGIN" -v end="$END" -v block="$FIX/.capture-block" '
    $0 == begin { while ((getline l < block) > 0) print l; skip = 1; next }
    $0 == end { skip = 0; next }
    !skip' "$SOURCES" >"$SOURCES.new"
  mv "$SOURCES.new" "$SOURCES"
else
  cat "$FIX/.capture-block" >>"$SOURCES"
fi
rm -f "$FIX/.capture-block"
log "done: ${#CAPTURED[@]} replies captured"
