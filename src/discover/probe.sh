#!/bin/sh
# What batch system a host runs, and its partitions or queues: the steps of every scheduler
# asked for whose key command exists, all schedulers at once, reported in frames.
#
# Run as:  sh -c PROBE_PROGRAM xpr-discover KIND...          (src/discover/probe.rs)
#
# $@     the kinds to look for, of: slurm pbs sge lsf, and local (this host's cores and
#        memory, for a system without a batch system).
# stdin  unused.
# stdout for each kind in the order given, for each of its steps in order, one frame:
#          the line `@xpr-discover KIND STEP STATUS OUT_BYTES ERR_BYTES`, then exactly
#          OUT_BYTES bytes of the step's stdout and ERR_BYTES bytes of its stderr.
#        A kind whose key command is not on PATH has the one step `absent`, status 127;
#        a step that fails ends its kind (the later ones would only wait for the same server).
#        Each step is given 60 s when `timeout` exists (status 124 when it ran out).
#        Exit 0; 1 only when no temporary directory can be made.
dir=$(mktemp -d "${TMPDIR:-/tmp}/xpr-discover.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
if command -v timeout >/dev/null 2>&1; then limit=60; else limit=""; fi
# A scheduler command, given $limit seconds when `timeout` exists. This and the
# functions below run through `step`, which shellcheck does not follow.
# shellcheck disable=SC2317
lim() {
    if [ -n "$limit" ]; then timeout "$limit" "$@"; else "$@"; fi
}
step() {
    k=$1; s=$2; shift 2
    "$@" >"$dir/$k.$s.out" 2>"$dir/$k.$s.err" </dev/null
    rc=$?
    echo "$rc" >"$dir/$k.$s.rc"
    echo "$s" >>"$dir/$k.steps"
    return "$rc"
}
absent() {
    : >"$dir/$1.absent.out"; : >"$dir/$1.absent.err"; echo 127 >"$dir/$1.absent.rc"
    echo absent >>"$dir/$1.steps"
}
# shellcheck disable=SC2317
sge_queue_configs() {
    lim qconf -sql | while IFS= read -r q; do lim qconf -sq "$q"; echo; done
}
# PBS Pro's JSON forms, else (Torque, PBS Pro before 18) the text ones.
# shellcheck disable=SC2317
pbs_queues() {
    lim qstat -Q -f -F json 2>/dev/null || lim qstat -Q -f
}
# shellcheck disable=SC2317
pbs_nodes() {
    lim pbsnodes -a -F json 2>/dev/null || lim pbsnodes -a
}
# shellcheck disable=SC2317
sge_version() {
    lim qconf -help | head -n 1
}
probe() {
    case $1 in
    slurm)
        command -v sinfo >/dev/null 2>&1 || { absent slurm; return; }
        step slurm version lim sinfo --version
        step slurm sinfo lim sinfo -h -e -o '%R|%c|%m|%l|%D|%a' &&
        step slurm scontrol lim scontrol show partition --oneliner ;;
    pbs)
        command -v pbsnodes >/dev/null 2>&1 || { absent pbs; return; }
        step pbs version lim qstat --version
        step pbs queues pbs_queues &&
        step pbs nodes pbs_nodes ;;
    sge)
        command -v qconf >/dev/null 2>&1 || { absent sge; return; }
        step sge version sge_version
        step sge hosts lim qhost -q &&
        step sge queues sge_queue_configs ;;
    lsf)
        command -v bqueues >/dev/null 2>&1 || { absent lsf; return; }
        step lsf version lim lsid &&
        step lsf queues lim bqueues -l &&
        step lsf hosts lim lshosts -w ;;
    local)
        step local cpus getconf _NPROCESSORS_ONLN
        step local meminfo cat /proc/meminfo ;;
    *)
        absent "$1" ;;
    esac
}
for k do probe "$k" & done
wait
for k do
    [ -f "$dir/$k.steps" ] || continue
    while IFS= read -r s; do
        printf '@xpr-discover %s %s %s %s %s\n' "$k" "$s" "$(cat "$dir/$k.$s.rc")" \
            "$(wc -c <"$dir/$k.$s.out")" "$(wc -c <"$dir/$k.$s.err")"
        cat "$dir/$k.$s.out" "$dir/$k.$s.err"
    done <"$dir/$k.steps"
done
exit 0
