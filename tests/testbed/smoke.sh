#!/usr/bin/env bash
# smoke.sh - run real jobs through the running test bed, over ssh as the test user, the way xpr
# does: a Slurm job from xpr-local and from xpr-hostA (output file, exit code, sacct), a job on
# every Grid Engine (output file, qacct exit status), and an rsync round trip. For a human after
# changing setup.sh; `cargo test --test testbed` is the quick health check. Prints
# "N passed, N failed" and exits non-zero on a failure. Takes ~20 s. Cleans up after itself.
set -uo pipefail
# shellcheck source=tests/testbed/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=/dev/null
. "${XPR_TESTBED_ENV:-$XPR_BASE/env.sh}" || die "no test bed env file (hint: start it with setup.sh)"

PASS=0 FAIL=0
check() { # DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then PASS=$((PASS + 1)); echo "ok   - $what"; else FAIL=$((FAIL + 1)); echo "FAIL - $what"; fi
}
on() { ssh -F "$XPR_SSH_CONFIG" "$@"; }      # on HOST CMD
# poll HOST CMD: run CMD on HOST every 0.5 s (30 s at most) until it succeeds
poll() {
  local i
  for ((i = 0; i < 60; i++)); do on "$1" "$2" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
DIR=xpr-smoke-$$                              # under the test user's home, removed at the end

smoke_ssh() {
  local h
  for h in ${XPR_SSH_HOSTS//,/ }; do check "ssh $h" test "$(on "$h" id -un)" = "$XPR_USER"; done
  local tmp
  tmp=$(mktemp -d)
  head -c 100000 /dev/urandom > "$tmp/blob"
  check "rsync round trip via xpr-local" bash -c "rsync -a -e 'ssh -F $XPR_SSH_CONFIG' $tmp/blob xpr-local:$DIR/ \
    && rsync -a -e 'ssh -F $XPR_SSH_CONFIG' xpr-local:$DIR/blob $tmp/back && cmp $tmp/blob $tmp/back"
  rm -rf "$tmp"
}

smoke_slurm() {
  local h j
  for h in ${XPR_SLURM_SSH_HOSTS//,/ }; do
    j=$(on "$h" "mkdir -p $DIR && cd $DIR && sbatch --parsable -J smoke -o slurm-%j.out --wrap 'echo hello \$SLURM_JOB_ID; exit 3'")
    check "sbatch on $h -> job id ($j)" test -n "$j"
    check "slurm job $j leaves the queue" poll "$h" "[ -z \"\$(squeue -h -j $j -o %i 2>/dev/null)\" ]"
    check "slurm output file of $j" test "$(on "$h" "cat $DIR/slurm-$j.out")" = "hello $j"
    [ "$XPR_SLURMDBD" = 1 ] &&
      check "sacct on $h: $j FAILED 3:0" poll "$h" "sacct -X -n -P -o JobID,State,ExitCode -j $j | grep -x '$j|FAILED|3:0'"
  done
  j=$(on xpr-local "sbatch --parsable -p short -t 5 -o /dev/null --wrap true")
  check "sbatch -p short -t 5 ($j)" test -n "$j"
  # Slurm's default EnforcePartLimits=NO accepts a job over the partition's limit and keeps it pending
  j=$(on xpr-local "sbatch --parsable -p tiny -t 5 -o /dev/null --wrap true")
  check "sbatch -p tiny -t 5: $j pending for PartitionTimeLimit (tiny allows 1 minute)" \
    poll xpr-local "squeue -h -j $j -o '%T %r' | grep -x 'PENDING PartitionTimeLimit'"
  on xpr-local "scancel $j"
}

smoke_sge() {
  local h j
  for h in ${XPR_SGE_SSH_HOSTS//,/ }; do
    j=$(on "$h" "mkdir -p $DIR && cd $DIR && echo 'echo hello \$JOB_ID; exit 4' | qsub -terse -cwd -j y -pe smp 2 -o 'sge.\$JOB_ID.out'")
    check "qsub -pe smp 2 on $h -> job id ($j)" test -n "$j"
    check "sge job $j on $h leaves the queue" poll "$h" "! qstat -u '*' | awk '\$1 == $j' | grep ."
    check "sge output file of $j on $h" test "$(on "$h" "cat $DIR/sge.$j.out")" = "hello $j"
    check "qacct on $h: $j exit_status 4" poll "$h" "qacct -j $j | grep -E '^exit_status +4'"
  done
}

smoke_ssh
[ "$XPR_SLURM" = 1 ] && smoke_slurm
[ "$XPR_SGE" = 1 ] && smoke_sge
on xpr-local "rm -rf $DIR"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
