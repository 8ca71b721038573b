#!/usr/bin/env bash
# Captures real Grid Engine outputs from the xpr test bed into fixtures/sge/ (see
# fixtures/sge/SOURCES.md for the layout and what each case is).
#
# Runs real jobs as the test user over ssh: success, exit 4, a qdel'ed running job, a held
# job, a deferred (qw) job, array jobs, an h_rt overrun, an s_rt overrun, a SIGKILLed job and
# an Eqw job (output file in a missing directory). It records the EXACT outputs of the
# commands src/scheduler/sge uses (qsub -terse, qsub verbose, the status script, the
# accounting script, the find-by-name script, qstat -j -xml). Re-runnable: every job it makes
# is named N_xprcap_*, is deleted on exit, and its remote directory is removed.
#
# Usage: tests/testbed/capture/sge.sh [FIXTURES_DIR]   (default: fixtures/sge of this checkout)
#
# The scripts and job bodies in single quotes are shell text for the remote side, where their
# `$` expand:
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck disable=SC1090
source "${XPR_TESTBED_ENV:-/tmp/xpr-testbed/env.sh}"

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../../fixtures/sge}
host=${XPR_SGE_SSH_HOST:-xpr-local}
remote_dir=xpr-capture-sge
deadline_s=${XPR_CAPTURE_DEADLINE:-120}

# The adapter's scripts, verbatim (tests/sge_parsers.rs checks they match src/scheduler/sge).
STATUS_SCRIPT='exec qstat -xml -g d -u "$(id -un)"'
ACCOUNTING_SCRIPT='u=$(id -un) || exit 1; for id do qacct -o "$u" -j "$id"; done; exit 0'
FIND_BY_NAME_SCRIPT='u=$(id -un) || exit 1; printf '"'"'#xpr:name %s\n'"'"' "$@"; echo '"'"'#xpr:qstat'"'"'; qstat -xml -g d -u "$u" || exit 1; echo '"'"'#xpr:qacct'"'"'; for n do qacct -o "$u" -j "$n"; done; exit 0'

# Runs argv on the SGE host, each word quoted for the remote shell; stdout/stderr pass through.
remote() {
    local line
    line=$(printf '%q ' "$@")
    ssh -q -F "$XPR_SSH_CONFIG" "$host" "$line"
}

# Runs argv remotely in $remote_dir, keeping stdout exact.
remote_in_dir() {
    local line
    line="cd $remote_dir && $(printf '%q ' "$@")"
    ssh -q -F "$XPR_SSH_CONFIG" "$host" "$line"
}

# capture DIR CASE [--in-dir] ARGV...: writes DIR/testbed-CASE.txt (stdout, byte exact),
# DIR/testbed-CASE.stderr (only if stderr is not empty) and DIR/testbed-CASE.exit (only if
# the exit code is not 0).
capture() {
    local name=$1/testbed-$2 dir=$out/$1 case=$2 runner=remote code=0
    shift 2
    if [[ ${1:-} == --in-dir ]]; then
        runner=remote_in_dir
        shift
    fi
    mkdir -p "$dir"
    local base=$dir/testbed-$case
    rm -f "$base.txt" "$base.stderr" "$base.exit"
    "$runner" "$@" >"$base.txt" 2>"$base.stderr" || code=$?
    if ((code == 255)); then
        echo "ssh to $host failed while capturing $case" >&2
        cat "$base.stderr" >&2
        exit 1
    fi
    [[ -s $base.stderr ]] || rm -f "$base.stderr"
    ((code == 0)) || echo "$code" >"$base.exit"
    echo "captured $name ($(wc -c <"$base.txt") bytes, exit $code)" >&2
}

# wait_until WHAT COMMAND...: polls COMMAND (locally) every second until it succeeds, or fails
# naming WHAT after $deadline_s seconds.
wait_until() {
    local what=$1 start=$SECONDS
    shift
    until "$@"; do
        if ((SECONDS - start > deadline_s)); then
            echo "timed out after ${deadline_s}s waiting for: $what" >&2
            exit 1
        fi
        sleep 1
    done
}

# The state letters of job $1 (task $2 if given) in the user's listing.
state_of() {
    remote qstat -u "$XPR_USER" | awk -v id="$1" -v task="${2:-}" \
        '$1 == id && (task == "" || $NF == task) { print $5; exit }'
}
is_state() { [[ $(state_of "$1" "${3:-}") == "$2" ]]; }
is_gone() { [[ -z $(state_of "$1") ]]; }
# True once accounting has a record of job $1 named $2.
has_record() {
    remote qacct -o "$XPR_USER" -j "$1" 2>/dev/null | grep -q "^jobname  *$2 *\$"
}

# Deletes every job of the test user named N_xprcap_* (this run's, or an interrupted run's).
delete_capture_jobs() {
    local ids
    ids=$(remote qstat -u "$XPR_USER" | awk 'NR > 2 && $3 ~ /^N_xprcap_/ { print $1 }' | sort -u)
    if [[ -n $ids ]]; then
        # shellcheck disable=SC2086
        remote qdel $ids >/dev/null 2>&1 || true
    fi
}
cleanup() {
    delete_capture_jobs
    remote rm -rf "$remote_dir" || true
}
trap cleanup EXIT

delete_capture_jobs
remote rm -rf "$remote_dir"
remote mkdir -p "$remote_dir"

# write_script NAME BODY [EXTRA HEADER LINES...]: a job script with the adapter's default
# header (h_rt 0:10:00 unless an extra line sets h_rt, job.<name>.stdout/.stderr), then the
# extra lines.
write_script() {
    local name=$1 body=$2
    shift 2
    {
        echo '#!/bin/bash -l'
        echo "#\$ -N N_xprcap_$name"
        echo "#\$ -q ${XPR_SGE_QUEUE:-all.q}"
        local line has_rt=0
        for line in "$@"; do
            [[ $line == *h_rt=* ]] && has_rt=1
        done
        ((has_rt)) || echo '#$ -l h_rt=0:10:00'
        echo "#\$ -o job.$name.stdout"
        echo "#\$ -e job.$name.stderr"
        echo '#$ -S /bin/bash'
        echo '#$ -r n'
        echo '#$ -cwd'
        # Extra lines last: a later directive overrides an earlier one (the Eqw case's -o).
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "$body"
    } | remote sh -c "cat > $remote_dir/$name.sh"
}

write_script ok 'echo done'
write_script exit4 'echo failing >&2; exit 4'
write_script running 'sleep 300'
write_script held 'echo released' '#$ -h'
write_script deferred 'echo late' '#$ -a 203001010000'
write_script array 'echo "task $SGE_TASK_ID"' '#$ -t 1-3'
write_script array_held 'echo "task $SGE_TASK_ID"' '#$ -t 1-5' '#$ -h'
write_script array_running 'sleep 300' '#$ -t 1-2'
write_script timeout 'sleep 60' '#$ -l h_rt=0:0:3'
write_script soft_timeout 'sleep 60' '#$ -l h_rt=0:0:30,s_rt=0:0:3'
write_script kill9 'kill -9 $$'
# With -notify, qdel sends SIGUSR2 and waits the queue's notify time before SIGKILL: the job
# stays in state dr while its trap runs, long enough to list it.
write_script notify 'trap "sleep 5; exit 3" USR2; sleep 300 & wait' '#$ -notify'
write_script eqw 'echo never' '#$ -o /nonexistent/xpr-capture/out'
write_script verbose 'echo verbose'
write_script verbose_array 'echo "task $SGE_TASK_ID"' '#$ -t 1-5:1'

# --- submit -------------------------------------------------------------------------------
submit_terse() { # CASE: submits CASE.sh with -terse, captures the reply, prints the job number
    capture qsub "terse-$1" --in-dir qsub -terse "$1.sh"
    local id
    id=$(tr -d '[:space:]' <"$out/qsub/testbed-terse-$1.txt")
    printf '%s\n' "${id%%.*}"
}
ok=$(submit_terse ok)
exit4=$(submit_terse exit4)
running=$(submit_terse running)
held=$(submit_terse held)
deferred=$(submit_terse deferred)
array=$(submit_terse array)
array_held=$(submit_terse array_held)
array_running=$(submit_terse array_running)
timeout=$(submit_terse timeout)
soft_timeout=$(submit_terse soft_timeout)
kill9=$(submit_terse kill9)
eqw=$(submit_terse eqw)
notify=$(submit_terse notify)
capture qsub verbose --in-dir qsub verbose.sh
capture qsub verbose-array --in-dir qsub verbose_array.sh
capture qsub error-bad-queue --in-dir qsub -terse -q xpr_no_such_queue ok.sh

# --- status: queued, held, running (plain and array), error state ----------------------------
wait_until "job $running running" is_state "$running" r
wait_until "job $notify running" is_state "$notify" r
wait_until "array $array_running task 2 running" is_state "$array_running" r 2
wait_until "job $eqw in Eqw" is_state "$eqw" Eqw
capture qstat-xml mixed sh -c "$STATUS_SCRIPT" sh
# The same without -g d: pending array tasks folded into one row (<tasks>1-5:1</tasks>).
capture qstat-xml mixed-folded qstat -xml -u "$XPR_USER"

# The error reason of the Eqw job, and qstat -j for a job that does not exist.
capture qstat-j-xml eqw qstat -j "$eqw" -xml
capture qstat-j-xml unknown qstat -j 999999 -xml

# --- cancel running jobs; the -notify one lingers in state dr -----------------------------------
capture qdel running qdel "$running" "$notify"
wait_until "job $notify in dr" is_state "$notify" dr
capture qstat-xml deleting sh -c "$STATUS_SCRIPT" sh

# --- final states in accounting -----------------------------------------------------------------
wait_until "accounting of ok" has_record "$ok" N_xprcap_ok
wait_until "accounting of exit4" has_record "$exit4" N_xprcap_exit4
wait_until "accounting of the qdel'ed job" has_record "$running" N_xprcap_running
wait_until "accounting of timeout" has_record "$timeout" N_xprcap_timeout
wait_until "accounting of soft_timeout" has_record "$soft_timeout" N_xprcap_soft_timeout
wait_until "accounting of kill9" has_record "$kill9" N_xprcap_kill9
wait_until "accounting of eqw" has_record "$eqw" N_xprcap_eqw
wait_until "accounting of the notified qdel" has_record "$notify" N_xprcap_notify
wait_until "array $array finished" is_gone "$array"
wait_until "accounting of array" has_record "$array" N_xprcap_array
capture qacct success sh -c "$ACCOUNTING_SCRIPT" sh "$ok"
capture qacct exit4 sh -c "$ACCOUNTING_SCRIPT" sh "$exit4"
capture qacct qdel-running sh -c "$ACCOUNTING_SCRIPT" sh "$running"
capture qacct timeout sh -c "$ACCOUNTING_SCRIPT" sh "$timeout"
capture qacct soft-timeout sh -c "$ACCOUNTING_SCRIPT" sh "$soft_timeout"
capture qacct kill9 sh -c "$ACCOUNTING_SCRIPT" sh "$kill9"
capture qacct qdel-notify sh -c "$ACCOUNTING_SCRIPT" sh "$notify"
capture qacct eqw sh -c "$ACCOUNTING_SCRIPT" sh "$eqw"
capture qacct array sh -c "$ACCOUNTING_SCRIPT" sh "$array"
# A job still queued has no record: stdout empty, "not found" on stderr.
capture qacct not-found sh -c "$ACCOUNTING_SCRIPT" sh "$held"
# Several ids in one command, one of them unknown.
capture qacct several sh -c "$ACCOUNTING_SCRIPT" sh "$ok" "$held" "$exit4"

# --- hold / release -------------------------------------------------------------------------------
capture qhold deferred qhold "$deferred"
capture qrls held qrls "$held"

# --- find by name: one finished (accounting), one queued, one unknown -------------------------------
capture find-by-name mixed sh -c "$FIND_BY_NAME_SCRIPT" sh \
    N_xprcap_ok N_xprcap_array_held N_xprcap_no_such_job

# --- a qdel'ed pending job leaves no accounting record ---------------------------------------------
capture qdel pending qdel "$array_held" "$deferred"

echo "done: fixtures in $out" >&2
