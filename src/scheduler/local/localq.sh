#!/bin/sh
# xpr-localq: a core-limited job queue for one host, with backfill and no daemon (src/scheduler/local.rs
# documents the spool, the job header and the rules; this is the program itself).
#
# Run as:  /bin/sh -c 'XPR_LOCALQ_PROGRAM=$1; shift; eval "$XPR_LOCALQ_PROGRAM"' \
#              xpr-localq PROGRAM VERB ARGS...
# (ENTRY in local.rs): the program keeps its own text in XPR_LOCALQ_PROGRAM to start the
# runners and helpers below as copies of itself.
#
# VERB ARGS                      stdout
# submit JOB_DIR SCRIPT          the new job id
# status|accounting ID...        one line `id|name|state|exit_code|reason` per known job
# find NAME...                   the same, for each job with one of these names
# cancel|hold|release ID...      nothing; exit 1 if some id could not be acted on
# run ID                         (internal) the runner of one job, started detached
# kill-later ID PGID             (internal) SIGKILL for a cancelled job still running 10 s on
#
# stdin is unused. Errors go to stderr as `xpr-localq: ...`, with exit 2. Environment:
# XPR_LOCAL_QUEUE_DIR (the spool, default ~/.xpr/local-queue), XPR_LOCAL_CORES (the
# capacity, default nproc), XPR_LOCAL_GPUS (the GPUs, default the /dev/nvidiaN devices),
# XPR_LOCAL_KEEP_DAYS (how long finished jobs are kept, default 30).
set -u
ME=xpr-localq
Q=${XPR_LOCAL_QUEUE_DIR:-$HOME/.xpr/local-queue}
NL='
'
BOOT=none
if [ -r /proc/sys/kernel/random/boot_id ]; then
    IFS= read -r BOOT < /proc/sys/kernel/random/boot_id || BOOT=none
fi

die() { printf '%s: %s\n' "$ME" "$*" >&2; exit 2; }
warn() { printf '%s: %s\n' "$ME" "$*" >&2; }
is_uint() { case $1 in ''|*[!0-9]*) return 1;; esac; return 0; }
# dec N: N without leading zeros (sh arithmetic reads 010 as octal)
dec() { _d=${1#"${1%%[!0]*}"}; printf '%s' "${_d:-0}"; }
# rd FILE: the first line of FILE into R ("" if absent)
rd() { R=; if [ -f "$1" ]; then IFS= read -r R < "$1" || :; fi; }
# put FILE VALUE: write VALUE by rename, so readers never see half a file
put() {
    if ! { printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }; then die "cannot write $1"; fi
}
now() { date +%s; }

lock() {
    if [ ! -d "$Q/active" ]; then
        if [ ! -d "$Q" ] && ! { mkdir -p "$Q" && chmod 700 "$Q"; }; then die "cannot create the queue dir $Q"; fi
        mkdir -p "$Q/jobs" "$Q/active" || die "cannot create $Q/jobs and $Q/active"
    fi
    exec 9>>"$Q/lock" || die "cannot open $Q/lock"
    flock -w 120 9 || die "cannot lock $Q/lock within 120 s"
}
unlock() { exec 9>&-; }

capacity() {
    if [ -n "${XPR_LOCAL_CORES:-}" ]; then
        is_uint "$XPR_LOCAL_CORES" || die "XPR_LOCAL_CORES=$XPR_LOCAL_CORES is not a whole number"
        CAP=$(dec "$XPR_LOCAL_CORES")
        [ "$CAP" -gt 0 ] || die "XPR_LOCAL_CORES must be at least 1"
    else
        # nproc honours OMP_NUM_THREADS/OMP_THREAD_LIMIT, which are about the jobs, not the host
        CAP=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null) || CAP=1
        is_uint "$CAP" || CAP=1
    fi
}

# gpu_capacity: the host's GPUs into GCAP (XPR_LOCAL_GPUS, else the NVIDIA devices); the
# queue only refuses a job asking for more, it does not share them out
gpu_capacity() {
    if [ -n "${XPR_LOCAL_GPUS:-}" ]; then
        is_uint "$XPR_LOCAL_GPUS" || die "XPR_LOCAL_GPUS=$XPR_LOCAL_GPUS is not a whole number"
        GCAP=$(dec "$XPR_LOCAL_GPUS")
    else
        GCAP=0
        for _g in /dev/nvidia[0-9]*; do
            case ${_g#/dev/nvidia} in *[!0-9]*) ;; *) [ -e "$_g" ] && GCAP=$((GCAP + 1)) ;; esac
        done
    fi
}

# set_status ID STATE EXIT_CODE REASON
set_status() {
    _r=$(printf '%s' "$4" | tr '|\n\r' '   ')
    put "$Q/jobs/$1/status" "$2|$3|$_r"
}
# finish ID STATE EXIT_CODE REASON: a final state; the job leaves the active set
finish() {
    set_status "$1" "$2" "$3" "$4"
    put "$Q/jobs/$1/ended" "$(now)"
    rm -f "$Q/active/$1"
}
# job_id TEXT: sets JID to the id TEXT names, or fails
job_id() {
    is_uint "$1" || return 1
    JID=$(dec "$1")
    [ -f "$Q/jobs/$JID/status" ]
}
# job_status ID: the job's `state|exit_code|reason` into st, ec and rs
job_status() { st=; ec=; rs=; IFS='|' read -r st ec rs < "$Q/jobs/$1/status" || :; }
# runner_alive ID: the job's runner runs (same boot, pid alive)
runner_alive() {
    rd "$Q/jobs/$1/runner"; _rp=$R
    [ -n "$_rp" ] || return 1
    [ "${_rp#* }" = "$BOOT" ] && kill -0 "${_rp%% *}" 2>/dev/null
}
# kill_group PGID SIGNAL: the job's process group, or the leader if the group is not formed yet
kill_group() { kill "-$2" "-$1" 2>/dev/null || kill "-$2" "$1" 2>/dev/null || :; }

# dispatch (lock held): reap dead runners, then start, in id order, every queued job that fits
dispatch() {
    capacity
    _used=0
    _queued=
    # the names are job ids this program wrote (digits only), wanted in numeric order
    # shellcheck disable=SC2012
    for _i in $(ls "$Q/active" | sort -n); do
        is_uint "$_i" || continue
        _st=; _ec=; _rs=
        IFS='|' read -r _st _ec _rs < "$Q/jobs/$_i/status" || :
        rd "$Q/jobs/$_i/cores"; _c=$R
        case $_st in
        running|cancelled)
            if runner_alive "$_i"; then
                _used=$((_used + _c))
            else
                rd "$Q/jobs/$_i/pgid"; _pg=$R
                rd "$Q/jobs/$_i/runner"; _rp=$R
                if [ -n "$_pg" ] && [ "${_rp#* }" = "$BOOT" ]; then kill_group "$_pg" KILL; fi
                if [ "$_st" = running ]; then
                    finish "$_i" failed "" "the job's runner died (host rebooted or runner killed)"
                else
                    finish "$_i" cancelled "$_ec" "$_rs"
                fi
            fi ;;
        queued) _queued="$_queued $_i" ;;
        held) ;;
        *) rm -f "$Q/active/$_i" ;;
        esac
    done
    for _i in $_queued; do
        rd "$Q/jobs/$_i/cores"; _c=$R
        if [ "$_c" -gt "$CAP" ]; then
            finish "$_i" failed "" "needs $_c cores, the host offers $CAP"
            continue
        fi
        # backfill: a job that does not fit waits; a later one that fits starts
        [ $((_used + _c)) -le "$CAP" ] || continue
        start_job "$_i"
        _used=$((_used + _c))
    done
}

# spawn LOG VERB ARGS...: a copy of this program running VERB ARGS in its own session, in the
# background ($! is its pid), stdin from /dev/null, stdout and stderr appended to LOG, and no
# other descriptor open: one inherited from the caller (the queue lock on 9, or a lock of the
# caller's own, such as xpr's batch program's on 8) would stay open, and its lock held, for as
# long as the copy and the job it starts run
spawn() {
    _log=$1
    shift
    # shellcheck disable=SC2016 # expanded by the copy: its program is in its environment
    XPR_LOCALQ_PROGRAM=$XPR_LOCALQ_PROGRAM XPR_LOCAL_QUEUE_DIR=$Q \
        setsid /bin/sh -c 'eval "$XPR_LOCALQ_PROGRAM"' "$ME" "$@" \
        </dev/null >>"$_log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
}

# start_job ID (lock held): mark it running and start its runner, detached in its own session
start_job() {
    set_status "$1" running "" ""
    spawn "$Q/jobs/$1/runner.log" run "$1"
    put "$Q/jobs/$1/runner" "$! $BOOT"
}

# to_seconds TIME: [D-]H:MM:SS, M:SS or S as seconds; "" or none = 0 (no limit)
to_seconds() {
    _t=$1; _days=0; _s=0
    case $_t in ''|none|_none_) printf 0; return 0 ;; *[!0-9:-]*) return 1 ;; esac
    case $_t in *-*) _days=${_t%%-*}; _t=${_t#*-}; is_uint "$_days" || return 1 ;; esac
    _ifs=$IFS
    IFS=:
    # split at the colons on purpose; _t holds only digits, colons and dashes: no glob
    # shellcheck disable=SC2086
    set -- $_t
    IFS=$_ifs
    [ $# -ge 1 ] && [ $# -le 3 ] || return 1
    for _p; do is_uint "$_p" || return 1; _s=$((_s * 60 + $(dec "$_p"))); done
    printf '%s' $((_s + $(dec "$_days") * 86400))
}

q_submit() {
    [ $# -eq 2 ] || die "usage: submit JOB_DIR SCRIPT"
    cd -- "$1" 2>/dev/null || die "cannot enter the job directory $1"
    dir=$(pwd -P) || die "cannot resolve the job directory $1"
    script=$2
    case $dir$script in *"$NL"*) die "a job directory or script name with a line break is not supported" ;; esac
    if [ ! -f "$script" ] || [ ! -r "$script" ]; then die "no readable script $script in $dir"; fi
    name=; cores=1; gpus=0; time=; out=; err=
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        '#XPR-LOCAL '*) opt=${line#'#XPR-LOCAL '} ;;
        '#'*|'') continue ;;
        *) break ;;
        esac
        case $opt in
        --job-name=*) name=${opt#--job-name=} ;;
        --cores=*) cores=${opt#--cores=} ;;
        --gpus=*) gpus=${opt#--gpus=} ;;
        --time=*) time=${opt#--time=} ;;
        --output=*) out=${opt#--output=} ;;
        --error=*) err=${opt#--error=} ;;
        *) die "unknown directive '#XPR-LOCAL $opt' in $script (known: --job-name= --cores= --gpus= --time= --output= --error=)" ;;
        esac
    done < "$script"
    [ -n "$name" ] || name=job
    case $name in
    [-.]*|*[!A-Za-z0-9._+=@%,:-]*) die "invalid job name '$name': letters, digits and ._-+=@%,: only, not first - or ." ;;
    esac
    [ ${#name} -le 200 ] || die "job name longer than 200 characters"
    is_uint "$cores" || die "invalid --cores=$cores: a whole number of cores"
    cores=$(dec "$cores")
    [ "$cores" -ge 1 ] || die "--cores must be at least 1"
    secs=$(to_seconds "$time") || die "invalid --time=$time: use H:MM:SS, D-H:MM:SS or seconds"
    capacity
    [ "$cores" -le "$CAP" ] || die "the job needs $cores cores but this host offers $CAP (nproc, or XPR_LOCAL_CORES)"
    is_uint "$gpus" || die "invalid --gpus=$gpus: a whole number of GPUs"
    gpus=$(dec "$gpus")
    if [ "$gpus" -gt 0 ]; then
        gpu_capacity
        [ "$gpus" -le "$GCAP" ] || die "the job needs $gpus GPUs but this host has $GCAP (/dev/nvidiaN devices, or XPR_LOCAL_GPUS)"
    fi
    [ -n "$out" ] || out=job.$name.stdout
    [ -n "$err" ] || err=job.$name.stderr

    lock
    rd "$Q/next_id"; n=$R
    is_uint "${n:-0}" || die "corrupt counter $Q/next_id"
    id=$(( $(dec "${n:-0}") + 1 ))
    while [ -e "$Q/jobs/$id" ]; do id=$((id + 1)); done
    put "$Q/next_id" "$id"
    T=$Q/jobs/.new.$id
    if ! { rm -rf "$T" && mkdir "$T"; }; then die "cannot create $T"; fi
    put "$T/dir" "$dir"
    put "$T/script" "$script"
    put "$T/name" "$name"
    put "$T/cores" "$cores"
    put "$T/time" "$secs"
    put "$T/out" "$out"
    put "$T/err" "$err"
    put "$T/submitted" "$(now)"
    put "$T/status" "queued||"
    mv "$T" "$Q/jobs/$id" || die "cannot create $Q/jobs/$id"
    : > "$Q/active/$id"
    dispatch
    purge
    unlock
    printf '%s\n' "$id"
}

# purge (lock held): forget jobs that ended more than XPR_LOCAL_KEEP_DAYS (default 30) days ago
purge() {
    _keep=${XPR_LOCAL_KEEP_DAYS:-30}
    is_uint "$_keep" || return 0
    find "$Q/jobs" -mindepth 2 -maxdepth 2 -name ended -mtime "+$_keep" 2>/dev/null |
    while IFS= read -r _f; do
        _j=${_f%/ended}
        [ -e "$Q/active/${_j##*/}" ] || rm -rf -- "$_j"
    done
}

print_job() {
    rd "$Q/jobs/$1/name"; _nm=$R
    _st=; _ec=; _rs=
    IFS='|' read -r _st _ec _rs < "$Q/jobs/$1/status" || :
    printf '%s|%s|%s|%s|%s\n' "$1" "$_nm" "$_st" "$_ec" "$_rs"
}

q_status() {
    lock; dispatch; unlock
    for a; do
        if job_id "$a"; then print_job "$JID"; fi
    done
}

q_find() {
    lock; dispatch; unlock
    for j in "$Q"/jobs/*; do
        i=${j##*/}
        is_uint "$i" || continue
        rd "$j/name"; nm=$R
        for want; do
            if [ "$nm" = "$want" ]; then print_job "$i"; break; fi
        done
    done
}

q_cancel() {
    lock
    rc=0
    for a; do
        if ! job_id "$a"; then warn "no job $a"; rc=1; continue; fi
        job_status "$JID"
        case $st in
        queued|held) finish "$JID" cancelled "" "cancelled before it started" ;;
        running)
            set_status "$JID" cancelled "" "cancelled while running"
            rd "$Q/jobs/$JID/pgid"; pg=$R
            if [ -n "$pg" ]; then
                kill_group "$pg" TERM
                spawn /dev/null kill-later "$JID" "$pg"
            fi ;;
        esac
    done
    dispatch
    unlock
    exit $rc
}

# q_move FROM TO REASON WORD ID...: every job in state FROM goes to TO (with REASON); one in
# TO already is left; any other is an error ("only a FROM job can be WORD"). Then dispatch:
# a released job may fit at once.
q_move() {
    from=$1 to=$2 why=$3 word=$4
    shift 4
    lock
    rc=0
    for a; do
        if ! job_id "$a"; then warn "no job $a"; rc=1; continue; fi
        job_status "$JID"
        if [ "$st" = "$from" ]; then
            set_status "$JID" "$to" "" "$why"
        elif [ "$st" != "$to" ]; then
            warn "job $JID is $st; only a $from job can be $word"
            rc=1
        fi
    done
    dispatch
    unlock
    exit $rc
}

# q_kill_later ID PGID: SIGKILL for the job's process group if the job still runs 10 s on
# (the runner removes pgid at its end), like Slurm's KillWait
q_kill_later() {
    if ! is_uint "${1:-}" || ! is_uint "${2:-}"; then die "usage: kill-later ID PGID"; fi
    _j=$Q/jobs/$1
    i=0
    while [ $i -lt 10 ] && [ -f "$_j/pgid" ]; do sleep 1; i=$((i + 1)); done
    if [ -f "$_j/pgid" ]; then kill -KILL "-$2" 2>/dev/null; fi
}

# q_run ID: the runner of one job (started by start_job, in its own session)
q_run() {
    job_id "${1:-}" || die "no job ${1:-}"
    id=$JID
    J=$Q/jobs/$id
    lock
    put "$J/runner" "$$ $BOOT"
    job_status "$id"
    if [ "$st" != running ]; then
        # cancelled between dispatch and now
        finish "$id" "$st" "$ec" "$rs"
        dispatch; unlock; exit 0
    fi
    rd "$J/dir"; dir=$R; rd "$J/script"; script=$R; rd "$J/time"; tl=$R; rd "$J/out"; out=$R; rd "$J/err"; err=$R
    if ! cd -- "$dir" 2>/dev/null; then
        finish "$id" failed "" "cannot enter the job directory"
        dispatch; unlock; exit 0
    fi
    interp=/bin/sh
    first=
    IFS= read -r first < "$script" || :
    case $first in '#!'*) interp=${first#'#!'} ;; esac
    # a script named like an option must not be read as one by its interpreter
    case $script in /*) ;; *) script=./$script ;; esac
    start=$(now)
    put "$J/started" "$start"
    # the job in its own process group; of the runner's descriptors it gets stdio only (spawn
    # left the runner none but the queue lock, 9)
    set -f
    # shellcheck disable=SC2086 # the #! line's interpreter and its argument, unglobbed
    XPR_LOCAL_JOB_ID=$id setsid env -u XPR_LOCALQ_PROGRAM timeout -k 10 "${tl:-0}" $interp "$script" \
        </dev/null >"$out" 2>"$err" 9>&- &
    pg=$!
    set +f
    put "$J/pgid" "$pg"
    unlock
    wait "$pg"
    rc=$?
    elapsed=$(( $(now) - start ))
    lock
    rm -f "$J/pgid"
    job_status "$id"
    if [ "$st" = cancelled ]; then
        finish "$id" cancelled "$rc" "$rs"
    elif [ "$rc" -eq 0 ]; then
        finish "$id" succeeded 0 ""
    elif [ "${tl:-0}" -gt 0 ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$elapsed" -ge "$tl" ]; then
        finish "$id" timeout "$rc" "exceeded its time limit of $tl s"
    else
        finish "$id" failed "$rc" ""
    fi
    dispatch
    unlock
}

[ $# -ge 1 ] || die "usage: $ME submit|status|accounting|find|cancel|hold|release ARGS..."
verb=$1
shift
case $verb in
submit) q_submit "$@" ;;
status|accounting) q_status "$@" ;;
find) q_find "$@" ;;
cancel) q_cancel "$@" ;;
hold) q_move queued held "held by the user" held "$@" ;;
release) q_move held queued "" released "$@" ;;
run) q_run "$@" ;;
kill-later) q_kill_later "$@" ;;
*) die "unknown verb $verb" ;;
esac
