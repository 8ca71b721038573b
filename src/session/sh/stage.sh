#!/bin/sh
# xpr-stage: unpacks the run dirs of many tasks, sent as one tar stream, under the remote base.
#
# Run as:  sh -c STAGE_PROGRAM xpr-stage BASE            (src/session/protocol.rs)
#
# $1     the remote base dir; created private to the user (700) when missing.
# stdin  a tar stream of run_<id>/ directories (src/stage.rs write_tar).
# stdout nothing; tar's complaints on stderr, its exit code as the program's.
umask 077
mkdir -p -- "$1" && cd -- "$1" && exec tar -x -f -
