#!/bin/sh
# Slurm find-by-name: the user's jobs with these names, still queued (squeue) or finished
# (sacct), so that a submission that may have happened is found before it is repeated.
#
# Run as:  sh -c FIND_SCRIPT sh NAMES SQUEUE_FORMAT SACCT_FORMAT FIND_MARKER FIND_STARTTIME
#          (src/scheduler/slurm/mod.rs; tests/testbed/capture/slurm.sh carries a copy)
#
# $1     the job names, comma-separated; $2 squeue's --format; $3 sacct's --format;
# $4     the line printed between the two tables; $5 sacct's --starttime.
# stdin  unused.
# stdout squeue's rows, the marker line (proof that squeue succeeded), then sacct's rows;
#        a failing squeue or sacct fails the command with its exit code.
user=$(id -un) || exit
squeue --noheader --states=all --user="$user" --name="$1" --format="$2" || exit
printf '%s\n' "$4"
exec sacct --noheader --parsable2 --user="$user" --starttime="$5" --name="$1" --format="$3"
