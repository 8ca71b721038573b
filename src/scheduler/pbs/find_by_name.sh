#!/bin/sh
# PBS find-by-name: the full `qstat -x -f` records of the jobs with these names.
#
# Run as:  sh -c FIND_BY_NAME_SCRIPT sh N_NAME...          (src/scheduler/pbs/mod.rs)
#
# $@     job names (N_<task id>).
# stdin  unused.
# stdout `qstat -x -f` of the ids `qselect -x -N` (PBS Pro) or `qselect -N` (Torque) found,
#        nothing when none was; a failing qselect fails the command (set -e), so a server
#        error never reads as "no such job".
set -ef
ids=
for name do
  ids="$ids $(qselect -x -N "$name" 2>/dev/null || qselect -N "$name")"
done
# split into one word per id on purpose (set -f: the [] of array ids is no glob)
# shellcheck disable=SC2086
set -- $ids
[ "$#" -eq 0 ] || exec qstat -x -f "$@"
