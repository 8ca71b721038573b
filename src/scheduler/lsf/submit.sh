#!/bin/sh
# LSF submit: `bsub` reads the job script on its stdin (so that it honours the #BSUB lines).
#
# Run as:  sh -c SUBMIT_SCRIPT sh SCRIPT   in the job dir  (src/scheduler/lsf/mod.rs)
#
# $1     the job script's file name.
# stdin  unused (bsub's stdin is the script).
# stdout bsub's reply (`Job <ID> is submitted to ...`); bsub's exit code.
exec bsub < "$1"
