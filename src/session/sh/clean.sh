#!/bin/sh
# xpr-clean: removes the run dirs of many tasks under the remote base.
#
# Run as:  sh -c CLEAN_PROGRAM xpr-clean BASE RUN_DIR...       (src/session/protocol.rs)
#
# $1     the remote base dir; a missing base means nothing to remove (exit 0).
# $2...  run dir names under it (run_<id>, checked by the caller).
# stdin  unused.
# stdout nothing; rm's exit code.
cd -- "$1" 2>/dev/null || exit 0
shift
exec rm -rf -- "$@"
