#!/bin/sh
# Installs xpr's PBS and LSF SIMULATORS (test doubles, not PBS or LSF; see README.md here) on a
# host over ssh, into ~/.xpr-sim/simulators-VERSION there, with ~/.xpr-sim/simulators linking to
# it. Prints that folder's absolute path on the host as the last line; put its pbs/bin or
# lsf/bin first on PATH of the commands that should reach a simulator (README.md, "Over SSH").
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

# The version is a hash of the files' contents. Each version gets its own folder
# (~/.xpr-sim/simulators-VERSION; `simulators` links to the newest), so installing from two test
# processes at once, or while another test runs commands of the same version, changes nothing
# under anybody's feet. Other versions are removed.
version=$(cd "$here" && find README.md lib pbs lsf -type f ! -path '*__pycache__*' | LC_ALL=C sort |
  xargs sha256sum | sha256sum | cut -c1-16)

# Runs remotely (the version is hex, safe to splice in).
# shellcheck disable=SC2016
remote="v=$version"'
set -eu
command -v python3 >/dev/null || { echo "install.sh: python3 is not on PATH on $(hostname)" >&2; exit 1; }
mkdir -p "$HOME/.xpr-sim"
cd "$HOME/.xpr-sim"
exec 9>install.lock
command -v flock >/dev/null && flock -w 60 9
if [ -d "simulators-$v" ]; then
  cat >/dev/null
else
  rm -rf "simulators-$v.tmp"
  mkdir "simulators-$v.tmp"
  tar -xf - -C "simulators-$v.tmp"
  mv "simulators-$v.tmp" "simulators-$v"
fi
[ -L simulators ] || rm -rf simulators
ln -sfn "simulators-$v" simulators.link
mv -T simulators.link simulators
for d in simulators-*; do [ "$d" = "simulators-$v" ] || rm -rf "$d"; done
cd "simulators-$v" && pwd -P'

tar -cf - -C "$here" --exclude=__pycache__ README.md lib pbs lsf | "$@" "$host" "$remote"
