#!/usr/bin/env bash
# Captures the replies `xpr discover` reads (src/discover/), as parser fixtures:
#   real Slurm on xpr-local:      fixtures/slurm/sinfo-partitions/testbed-xpr-local.txt
#                                 fixtures/slurm/scontrol-show-partition/testbed-xpr-local.txt
#   real Grid Engine on xpr-local: fixtures/sge/qconf-sq/testbed-xpr-local.txt
#                                 fixtures/sge/qhost-q/testbed-xpr-local.txt
#   the PBS and LSF SIMULATORS (test doubles, not PBS or LSF) on xpr-sim:
#                                 fixtures/pbs/qstat-Q-f/simulator-xpr-sim.txt
#                                 fixtures/pbs/pbsnodes-a/simulator-xpr-sim.txt
#                                 fixtures/lsf/bqueues-l/simulator-xpr-sim.txt
#                                 fixtures/lsf/lshosts-w/simulator-xpr-sim.txt
# Each file is the command's stdout, byte for byte; the commands are the probe's
# (src/discover/probe.sh; tests/discover_parsers.rs checks they match). Submits no job.
#
# Usage: tests/testbed/capture/discover.sh   (test bed env: $XPR_TESTBED_ENV or /tmp/xpr-testbed/env.sh)
set -euo pipefail

ENV_FILE=${XPR_TESTBED_ENV:-/tmp/xpr-testbed/env.sh}
# shellcheck source=/dev/null
source "$ENV_FILE"
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
FIX=$REPO/fixtures

# capture HOST FILE COMMAND: FILE gets COMMAND's stdout on HOST; a failure stops the script.
capture() {
  local host=$1 file=$2 cmd=$3
  mkdir -p "$(dirname "$FIX/$file")"
  ssh -F "$XPR_SSH_CONFIG" -o BatchMode=yes "$host" "$cmd" >"$FIX/$file.tmp"
  mv "$FIX/$file.tmp" "$FIX/$file"
  echo "captured $file"
}

capture xpr-local slurm/sinfo-partitions/testbed-xpr-local.txt \
  "sinfo -h -e -o '%R|%c|%m|%l|%D|%a'"
capture xpr-local slurm/scontrol-show-partition/testbed-xpr-local.txt \
  "scontrol show partition --oneliner"
# shellcheck disable=SC2016  # runs remotely: $q is the remote shell's
capture xpr-local sge/qconf-sq/testbed-xpr-local.txt \
  'qconf -sql | while IFS= read -r q; do qconf -sq "$q"; echo; done'
capture xpr-local sge/qhost-q/testbed-xpr-local.txt "qhost -q"

"$REPO/tests/simulators/install.sh" xpr-sim "$XPR_SSH_CONFIG" >/dev/null
capture xpr-sim pbs/qstat-Q-f/simulator-xpr-sim.txt "qstat -Q -f"
capture xpr-sim pbs/pbsnodes-a/simulator-xpr-sim.txt "pbsnodes -a"
capture xpr-sim lsf/bqueues-l/simulator-xpr-sim.txt "bqueues -l"
capture xpr-sim lsf/lshosts-w/simulator-xpr-sim.txt "lshosts -w"
