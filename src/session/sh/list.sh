#!/bin/sh
# xpr-list: names the run dirs under the remote base (for `xpr clean --orphans`).
#
# Run as:  sh -c LIST_PROGRAM xpr-list BASE                  (src/session/protocol.rs)
#
# $1     the remote base dir; a missing base has none (exit 0, nothing printed).
# stdin  unused.
# stdout one name per line: each directory named run_* or grp_* directly under the base
#        (the caller checks every name before using it).
cd -- "$1" 2>/dev/null || exit 0
for name in run_* grp_*; do
  [ -d "$name" ] && printf '%s\n' "$name"
done
exit 0
