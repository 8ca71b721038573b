#!/bin/sh
# PBS array submit: `qsub -J RANGE` on PBS Pro / OpenPBS, `qsub -t RANGE` on Torque, picked by
# what the installed qsub says of itself (`qsub --version`: PBS Pro prints `pbs_version = X`
# on stdout, Torque `Version: X` on stderr). Anything else is taken for PBS Pro.
#
# Run as:  sh -c SUBMIT_ARRAY_SCRIPT sh PRO_RANGE TORQUE_RANGE SCRIPT   in the job dir
#                                                            (src/scheduler/pbs/mod.rs)
#
# $1     PBS Pro's index range (`0-N`, or `0-1:2` for a single element: PBS Pro refuses `0-0`).
# $2     Torque's index range (`0-N`, or `0`).
# $3     the job script's file name.
# stdin  unused.
# stdout qsub's reply (the array's id, `123[].server`); qsub's exit code.
case $(qsub --version 2>&1) in
  *pbs_version*) exec qsub -J "$1" "$3" ;;
  [Vv]ersion:*) exec qsub -t "$2" "$3" ;;
esac
exec qsub -J "$1" "$3"
