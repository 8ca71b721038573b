#!/bin/sh
# xpr-collect: sends back the run dirs of many tasks as one tar stream.
#
# Run as:  sh -c COLLECT_PROGRAM xpr-collect BASE RUN_DIR...   (src/session/protocol.rs)
#
# $1     the remote base dir.
# $2...  run dir names under it (run_<id>); those that do not exist are skipped.
# stdin  unused.
# stdout a tar stream of the run dirs found (nothing at all when none is); exit 1 when the
#        base cannot be entered, else tar's exit code.
cd -- "$1" || exit 1
shift
n=$#
i=0
while [ "$i" -lt "$n" ]; do
  d=$1
  shift
  if [ -d "$d" ]; then set -- "$@" "$d"; fi
  i=$((i+1))
done
[ "$#" -gt 0 ] || exit 0
exec tar -c -f - "$@"
