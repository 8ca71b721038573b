#!/bin/sh
# xpr-doctor: what `xpr doctor` asks a system's host, in one round trip.
#
# Run as:  sh -c DOCTOR_PROGRAM xpr-doctor SCHEDULER RUNDIR      (src/doctor/mod.rs)
#
# $1     the system's scheduler: slurm, pbs, sge, lsf or local.
# $2     the system's remote run dir base (relative: under $HOME, where ssh starts).
# stdin  unused.
# stdout the line `@xpr-doctor` (anything before it was printed by the login shell), then
#        one line per fact, `KEY<TAB>CODE<TAB>TEXT`: CODE is an exit status (0 = fine), TEXT
#        one line (the command's output or error, newlines made spaces, cut at 300 bytes):
#          time          0  seconds since the epoch, here
#          command       0|127  NAME, for each scheduler command xpr runs
#          answer        CODE   the scheduler answering a query
#          accounting    CODE   the scheduler's accounting answering a query
#          rundir        CODE   making the run dir base and a file in it
#          free_kb       CODE   free kB on the run dir's file system
# Exit 0.
printf '@xpr-doctor\n'
one_line() { tr '\n\t' '  ' | cut -c1-300; }
# fact KEY COMMAND...: runs COMMAND and reports its status and its output as one line.
fact() {
  key=$1
  shift
  out=$("$@" 2>&1)
  code=$?
  printf '%s\t%s\t%s\n' "$key" "$code" "$(printf '%s' "$out" | one_line)"
}
printf 'time\t0\t%s\n' "$(date +%s)"
case $1 in
  slurm) commands="sbatch squeue scancel sacct sinfo" ;;
  pbs) commands="qsub qstat qdel" ;;
  sge) commands="qsub qstat qdel qacct" ;;
  lsf) commands="bsub bjobs bkill" ;;
  *) commands="" ;;
esac
for c in $commands; do
  if command -v "$c" >/dev/null 2>&1; then
    printf 'command\t0\t%s\n' "$c"
  else
    printf 'command\t127\t%s\n' "$c"
  fi
done
case $1 in
  slurm)
    fact answer squeue -h -u "$(id -un)" -o %i
    fact accounting sacct -n -X -S now-1hours -o JobID
    ;;
  pbs)
    fact answer qstat -B
    fact accounting qstat -x -u "$(id -un)"
    ;;
  sge)
    fact answer qstat -u "$(id -un)"
    fact accounting test -r "${SGE_ROOT:-/var/lib/gridengine}/${SGE_CELL:-default}/common/accounting"
    ;;
  lsf)
    fact answer lsid
    fact accounting bjobs -a -u "$(id -un)"
    ;;
esac
# (Run through `fact`, which shellcheck does not follow.)
# shellcheck disable=SC2317
make_rundir() { mkdir -p -- "$1" && : > "$1/.xpr-doctor.$$" && rm -f -- "$1/.xpr-doctor.$$"; }
# shellcheck disable=SC2317
free_kb() { df -Pk -- "$1" | awk 'NR == 2 { print $4 }'; }
fact rundir make_rundir "$2"
fact free_kb free_kb "$2"
exit 0
