#!/bin/sh
# xpr-watch: waits until a run dir has its exit status marker, or until its naps are over.
#
# Run as:  sh -c WATCH_PROGRAM xpr-watch NAPS RUN_DIR...        (src/session/protocol.rs)
#
# $1     the naps, seconds (e.g. "0.2 0.3 0.45 0.7"): the dirs are looked at before each nap
#        and once after the last; growing naps keep a quiet wait light on a shared filesystem.
# $2...  run dirs, relative to $HOME or absolute.
# stdin  unused.
# stdout `<exit status> <run dir>` for each run dir that has its `xpr.exit`, one per line, as
#        soon as one has; nothing when none has by the end. Exit 0 (1 when $HOME cannot be
#        entered).
cd -- "$HOME" || exit 1
naps=$1
shift
look() {
  found=
  for d in "$@"; do
    if [ -e "$d/xpr.exit" ]; then
      read -r code < "$d/xpr.exit" || code=
      printf '%s %s\n' "$code" "$d"
      found=1
    fi
  done
  [ -z "$found" ]
}
# Word splitting of the naps is the point.
# shellcheck disable=SC2086
for nap in $naps; do
  look "$@" || exit 0
  sleep "$nap" 2>/dev/null || sleep 1
done
look "$@" || exit 0
exit 0
