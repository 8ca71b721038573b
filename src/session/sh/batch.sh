#!/bin/sh
# xpr-batch: runs many command lines in one remote shell, under the remote submit lock.
#
# Run as:  sh -c BATCH_PROGRAM xpr-batch LOCKFILE        (src/session/protocol.rs)
#
# $1     the lock file (<base>/.xpr-submit.lock); it and its directory are created private to
#        the user (umask 077). The lines run under the login's own umask (a job inherits the
#        umask of whoever submits it: the files it writes must get the user's usual modes),
#        and without the lock's descriptor (a job started by a line would hold it, and so
#        the lock, for as long as it runs: the next batch would wait for the job's end).
# stdin  one frame per command line: `L<line>\n` for a line without newline or NUL bytes
#        (read by the shell's own `read`, no process), else `<decimal length>\n<line bytes>`
#        (read by `head -c`).
# stdout `LOCKED` once the lock is held (flock for the whole run, so no two batches, and no
#        batch and a crash recovery, overlap on one base); then for each line i (from 0), run
#        in a subshell with stdin from /dev/null:
#            R <i> <exit code> <stdout length> <stderr length>\n<stdout bytes><stderr bytes>
#        and `END` after the last one.
# exit   3: the lock could not be taken (nothing ran); 4: a bad frame or no scratch dir.
#
# Each line costs three processes besides its own command (the subshell, one `wc` for both
# sizes, one `cat`): with hundreds of `sbatch` in one batch, the program's own forks are a
# visible part of the submission time, so it keeps them few.
set -u
lock=$1
(umask 077 && mkdir -p -- "$(dirname -- "$lock")" && : >>"$lock") || exit 3
exec 8>>"$lock" || exit 3
flock -w 900 8 || { printf 'xpr-batch: cannot lock %s within 900 s\n' "$lock" >&2; exit 3; }
echo LOCKED
tmp=$(mktemp -d) || exit 4
trap 'rm -rf -- "$tmp"' EXIT
i=0
while IFS= read -r frame; do
  case $frame in
    L*) line=${frame#L};;
    ''|*[!0-9]*) printf 'xpr-batch: bad frame %s\n' "$frame" >&2; exit 4;;
    *) line=$(head -c "$frame"; printf x); line=${line%x};;
  esac
  ( eval "$line" ) </dev/null >"$tmp/out" 2>"$tmp/err" 8>&-
  code=$?
  # wc prints `N1 FILE1`, `N2 FILE2`, `N total`: split into words on purpose ($1 and $3)
  # shellcheck disable=SC2046
  set -- $(wc -c "$tmp/out" "$tmp/err")
  printf 'R %s %s %s %s\n' "$i" "$code" "$1" "$3"
  cat -- "$tmp/out" "$tmp/err"
  i=$((i+1))
done
echo END
