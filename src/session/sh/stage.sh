#!/bin/sh
# xpr-stage: unpacks the run dirs of many tasks, sent as one tar stream, under the remote base.
#
# Run as:  sh -c STAGE_PROGRAM xpr-stage BASE            (src/session/protocol.rs)
#
# $1     the remote base dir; created private to the user (700) when missing.
# stdin  a tar stream of run_<id>/ directories (src/stage.rs write_tar), whose entries say
#        700: with umask 077 too, the run dirs are private to the user from their creation,
#        whether tar applies the umask (a user) or the modes as stored (root). The jobs do not
#        inherit this umask: they are submitted by the batch program.
# stdout nothing; tar's complaints on stderr, its exit code as the program's.
umask 077
mkdir -p -- "$1" && cd -- "$1" && exec tar -x -f -
