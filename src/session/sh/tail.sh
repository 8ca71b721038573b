#!/bin/sh
# xpr-tail: what was added to files of a run dir since given offsets (`xpr logs -f`).
#
# Run as:  sh -c TAIL_PROGRAM xpr-tail DIR MAX NAME OFFSET [NAME OFFSET]...
#                                                              (src/session/protocol.rs)
# $1     the run dir; a missing one has nothing yet (every file's frame is empty).
# $2     the most bytes sent of one file per call (the rest comes at the next call).
# $3...  pairs of a file name in the run dir and the offset already read.
# stdin  unused.
# stdout for each pair in order: the line `@xpr-tail N`, then exactly N bytes of the file
#        from its offset (N is 0 when the file is missing or has no more).
# Exit 0.
dir=$1
max=$2
shift 2
while [ "$#" -ge 2 ]; do
  name=$1
  offset=$2
  shift 2
  size=0
  if [ -f "$dir/$name" ]; then size=$(wc -c < "$dir/$name"); fi
  n=$((size - offset))
  [ "$n" -gt 0 ] || n=0
  [ "$n" -le "$max" ] || n=$max
  printf '@xpr-tail %s\n' "$n"
  if [ "$n" -gt 0 ]; then
    tail -c +"$((offset + 1))" -- "$dir/$name" | head -c "$n"
  fi
done
exit 0
