#!/bin/sh
# xpr-watch: waits until a run dir has its exit status marker, or until its naps are over.
#
# Run as:  sh -c WATCH_PROGRAM xpr-watch NAPS GATHER RUN_DIR...   (src/session/protocol.rs)
#
# $1     the naps, seconds (e.g. "0.2 0.3 0.45 0.7"): the dirs are looked at before each nap
#        and once after the last; growing naps keep a quiet wait light on a shared filesystem.
# $2     seconds to wait, once a marker is there, for more to come (many tasks end together:
#        one reply, one collection for them all), then look once more; not waited when every
#        run dir has its marker already.
# $3...  run dirs, relative to $HOME or absolute.
# stdin  unused.
# stdout `<exit status> <run dir>` for each run dir that has its `xpr.exit` written, one per
#        line, as soon as one has; nothing when none has by the end. A marker still empty (the
#        job writes it in place) counts as none. Exit 0 (1 when $HOME cannot be entered).
cd -- "$HOME" || exit 1
naps=$1
gather=$2
shift 2
look() {
  found=
  for d in "$@"; do
    [ -s "$d/xpr.exit" ] && found=1 && break
  done
  [ -z "$found" ]
}
report() {
  for d in "$@"; do
    if [ -s "$d/xpr.exit" ]; then
      read -r code < "$d/xpr.exit" || code=
      [ -n "$code" ] && printf '%s %s\n' "$code" "$d"
    fi
  done
}
all_done() {
  for d in "$@"; do
    [ -s "$d/xpr.exit" ] || return 1
  done
  return 0
}
found_one() {
  all_done "$@" || sleep "$gather" 2>/dev/null || sleep 1
  report "$@"
  exit 0
}
# Word splitting of the naps is the point.
# shellcheck disable=SC2086
for nap in $naps; do
  look "$@" || found_one "$@"
  sleep "$nap" 2>/dev/null || sleep 1
done
look "$@" || found_one "$@"
exit 0
