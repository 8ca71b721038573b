#!/bin/sh
# Installs xpr's PBS and LSF SIMULATORS (test doubles, not PBS or LSF; see README.md here) on a
# host over ssh, into ~/.xpr-sim/simulators there, replacing an older copy. Prints that folder's
# absolute path on the host as the last line; put its pbs/bin or lsf/bin first on PATH of the
# commands that should reach a simulator (see README.md, "Over SSH").
#
#   tests/simulators/install.sh HOSTALIAS [SSH_CONFIG]
#
# Needs python3 on the host. Nothing outside ~/.xpr-sim is touched; the spools
# (~/.xpr-sim/pbs, ~/.xpr-sim/lsf) are kept.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: $0 HOSTALIAS [SSH_CONFIG]" >&2
  exit 2
fi
host=$1
config=${2-}
here=$(cd "$(dirname "$0")" && pwd -P)

set -- ssh
[ -n "$config" ] && set -- ssh -F "$config"

# The remote side: unpack into a new folder, then swap it in, so a running job's runner
# (which has its code loaded already) and a half-copied tree never meet. Expanded remotely.
# shellcheck disable=SC2016
remote='set -eu
command -v python3 >/dev/null || { echo "install.sh: python3 is not on PATH on $(hostname)" >&2; exit 1; }
mkdir -p "$HOME/.xpr-sim"
cd "$HOME/.xpr-sim"
rm -rf simulators.new
mkdir simulators.new
tar -xf - -C simulators.new
rm -rf simulators
mv simulators.new simulators
cd simulators && pwd -P'

tar -cf - -C "$here" --exclude=__pycache__ README.md lib pbs lsf | "$@" "$host" "$remote"
