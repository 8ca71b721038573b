#!/bin/sh
# LSF array submit: `bsub -J "NAME[1-N]"` with the job script on bsub's stdin (so that it honours
# the #BSUB lines; the command line's -J overrides the script's `#BSUB -J NAME`).
#
# Run as:  sh -c SUBMIT_ARRAY_SCRIPT sh SCRIPT 'NAME[1-N]'   in the job dir
#                                                          (src/scheduler/lsf/mod.rs)
#
# $1     the job script's file name.
# $2     the array's name and index range.
# stdin  unused (bsub's stdin is the script).
# stdout bsub's reply (`Job <ID> is submitted to ...`); bsub's exit code.
exec bsub -J "$2" < "$1"
