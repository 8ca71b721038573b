#!/usr/bin/env bash
# Captures real Grid Engine outputs of job arrays from the xpr test bed into fixtures/sge/ (see
# fixtures/sge/SOURCES.md, "Arrays", for what each case is).
#
# Submits arrays as the adapter does (`qsub -terse -t 1-N SCRIPT`, the script with the
# adapter's array header: one log file pair per element), then records the EXACT outputs of
# the commands src/scheduler/sge uses on them: the status script while some elements run and
# others wait, `qdel` of single elements (one running, one pending), the accounting script for
# an array whose elements exit with their own codes and for a deleted running element, the
# find-by-name script for array names, and `qconf -sconf` (the site's `max_aj_tasks`).
# Re-runnable: its jobs are named N_xprcap_arr_*, deleted on exit, its remote dir removed.
#
# Usage: tests/testbed/capture/sge_arrays.sh [FIXTURES_DIR]   (default: fixtures/sge)
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
remote_dir=xpr-capture-sge-arrays
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
    local dir=$out/$1 case=$2 runner=remote code=0
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
    echo "captured ${base#"$out"/} ($(wc -c <"$base.txt") bytes, exit $code)" >&2
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

# The state letters of task $2 of array job $1 in the user's listing (one row per task).
state_of() {
    remote qstat -g d -u "$XPR_USER" | awk -v id="$1" -v task="$2" \
        '$1 == id && $NF == task { print $5; exit }'
}
is_state() { [[ $(state_of "$1" "$3") == "$2" ]]; }
is_gone() { [[ -z $(remote qstat -u "$XPR_USER" | awk -v id="$1" '$1 == id') ]]; }
is_gone_task() { [[ -z $(state_of "$1" "$2") ]]; }
# True once accounting has $2 task records of job $1.
has_records() {
    local n
    n=$(remote qacct -o "$XPR_USER" -j "$1" 2>/dev/null | grep -c '^taskid ') || true
    ((n >= $2))
}
# True once accounting has a record of task $2 of job $1.
has_task_record() {
    remote qacct -o "$XPR_USER" -j "$1" -t "$2" >/dev/null 2>&1
}

# Deletes every job of the test user named N_xprcap_arr_* (this run's, or an interrupted
# run's). By name pattern: plain `qstat` cuts names to 10 characters.
delete_capture_jobs() {
    remote qdel 'N_xprcap_arr_*' >/dev/null 2>&1 || true
}
cleanup() {
    delete_capture_jobs
    remote rm -rf "$remote_dir" || true
}
trap cleanup EXIT

delete_capture_jobs
remote rm -rf "$remote_dir"
remote mkdir -p "$remote_dir"

# write_script NAME BODY [EXTRA HEADER LINES...]: a job script with the adapter's array header
# (ARRAY_DEFAULT_HEADER: h_rt 0:10:00, job.<name>.$TASK_ID.stdout/.stderr), then the extra
# lines.
write_script() {
    local name=$1 body=$2
    shift 2
    {
        echo '#!/bin/bash -l'
        echo "#\$ -N N_xprcap_arr_$name"
        echo "#\$ -q ${XPR_SGE_QUEUE:-all.q}"
        echo '#$ -l h_rt=0:10:00'
        echo "#\$ -o job.$name.\$TASK_ID.stdout"
        echo "#\$ -e job.$name.\$TASK_ID.stderr"
        echo '#$ -S /bin/bash'
        echo '#$ -r n'
        echo '#$ -cwd'
        local line
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "$body"
    } | remote sh -c "cat > $remote_dir/$name.sh"
}

# mixed: six elements, each printing its index; 2 exits 3 and 5 exits 7.
write_script mixed 'echo "element $SGE_TASK_ID"; case $SGE_TASK_ID in 2) exit 3 ;; 5) exit 7 ;; esac'
# running: six long elements, at most two at a time (-tc 2), so that some run and some wait.
write_script running 'sleep 300' '#$ -tc 2'
# single: an array of one element.
write_script single 'echo "element $SGE_TASK_ID"'

# --- submit, exactly as SgeScheduler::submit_array -------------------------------------------
capture qsub array-submit --in-dir qsub -terse -t 1-6 mixed.sh
capture qsub array-submit-running --in-dir qsub -terse -t 1-6 running.sh
capture qsub array-submit-single --in-dir qsub -terse -t 1-1 single.sh
number() { tr -d '[:space:]' <"$out/qsub/testbed-$1.txt" | cut -d. -f1; }
mixed=$(number array-submit)
running=$(number array-submit-running)
single=$(number array-submit-single)

# --- status: two elements run, four wait ------------------------------------------------------
wait_until "array $running task 1 running" is_state "$running" r 1
wait_until "array $running task 2 running" is_state "$running" r 2
capture qstat-xml array-partial sh -c "$STATUS_SCRIPT" sh
# The same without -g d: the waiting elements folded into one row (<tasks>3-6:1</tasks>).
capture qstat-xml array-partial-folded qstat -xml -u "$XPR_USER"

# --- find by name: a running array (qstat) and a finished one (qacct) --------------------------
wait_until "array $mixed finished" is_gone "$mixed"
wait_until "accounting of the six elements of $mixed" has_records "$mixed" 6
capture find-by-name array sh -c "$FIND_BY_NAME_SCRIPT" sh N_xprcap_arr_running N_xprcap_arr_mixed

# --- cancel one running element and one waiting one ------------------------------------------
capture qdel array-element qdel "$running.1" "$running.5"
wait_until "task 1 of $running gone" is_gone_task "$running" 1
capture qstat-xml array-element-deleted sh -c "$STATUS_SCRIPT" sh

# --- accounting: per-element exit codes; a deleted running element ---------------------------
wait_until "accounting of $single" has_records "$single" 1
wait_until "accounting of task 1 of $running" has_task_record "$running" 1
capture qacct array-mixed sh -c "$ACCOUNTING_SCRIPT" sh "$mixed"
capture qacct array-single sh -c "$ACCOUNTING_SCRIPT" sh "$single"
capture qacct array-element-qdel sh -c "$ACCOUNTING_SCRIPT" sh "$running"

# --- the site's array size limit --------------------------------------------------------------
capture qconf-sconf global qconf -sconf

echo "done: fixtures in $out" >&2
