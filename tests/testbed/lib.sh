# lib.sh - settings and helpers shared by setup.sh, teardown.sh, smoke.sh, capture-fixtures.sh.
# Sourced, never run. Everything here is a definition: sourcing it starts and changes nothing.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings below are used by the scripts sourcing this file
#
# Settings (environment, with defaults). Ports and namespace names are machine-global, so only
# one test bed runs per machine whatever XPR_BASE says.
XPR_BASE=${XPR_BASE:-/tmp/xpr-testbed}   # everything the test bed creates lives here ...
XPR_USER=${XPR_USER:-xprtest}            # ... except this user, /etc/slurm/slurm.conf, /etc/netns/*,
                                         #     SGE cells under /var/lib/gridengine + /var/spool/gridengine
XPR_SSH_PORT=${XPR_SSH_PORT:-2222}       # first port tried for the local sshd (next free one is taken)
XPR_INSTALL=${XPR_INSTALL:-1}            # 1: apt-get install missing packages
XPR_WITH_SLURM=${XPR_WITH_SLURM:-1}      # munge + slurmctld + slurmd
XPR_WITH_SLURMDBD=${XPR_WITH_SLURMDBD:-1} # MariaDB + slurmdbd, so that sacct works
XPR_SLURM_CPUS=${XPR_SLURM_CPUS:-16}     # CPUs the node advertises (more than real: many jobs at once)
XPR_WITH_SGE=${XPR_WITH_SGE:-1}          # Son of Grid Engine ...
XPR_SGE_MODE=${XPR_SGE_MODE:-both}       # ... in the root netns (root), in xpr-hostB (netns), or both
XPR_SGE_SLOTS=${XPR_SGE_SLOTS:-8}        # slots of each all.q
XPR_WITH_NETNS=${XPR_WITH_NETNS:-1}      # network namespaces xpr-hostA / xpr-hostB with their sshd
XPR_SIM_USER=${XPR_SIM_USER:-xprsim}     # second test user on xpr-hostB (host alias xpr-sim) whose
                                         # login shell puts the PBS/LSF SIMULATORS first on PATH
XPR_BAD_USER=${XPR_BAD_USER:-xprbad}     # a misbehaving account on xpr-local (host alias xpr-bad),
                                         # for `xpr doctor`: see ensure_bad_user in setup.sh

# Fixed names and addresses. hostA: root 10.200.0.1/30 <-> ns 10.200.0.2/30,
# hostB: root 10.200.0.5/30 <-> ns 10.200.0.6/30.
HOSTA_NS=xpr-hostA HOSTA_ROOT_IP=10.200.0.1 HOSTA_IP=10.200.0.2
HOSTB_NS=xpr-hostB HOSTB_ROOT_IP=10.200.0.5 HOSTB_IP=10.200.0.6
MARIADB_PORT=3307                        # not 3306: leave a site MariaDB alone
SLURMCTLD_PORT=6817 SLURMD_PORT=6818 SLURMDBD_PORT=6819
SGE_ROOT=/var/lib/gridengine             # Debian's SGE_ROOT; a cell is $SGE_ROOT/<cell>/common
SGE_LOCAL_CELL=default                   # the Debian package's cell: plain `qstat` finds it
SGE_HOSTB_CELL=xpr-hostB                 # our own cell, so that two qmasters never share state
OWNER_FILE=/run/xpr-testbed.base         # which XPR_BASE owns the machine-global resources

HOST=$(hostname)
SSH_DIR=$XPR_BASE/ssh
SLURM_DIR=$XPR_BASE/slurm
MARIADB_DIR=$XPR_BASE/mariadb
SGE_DIR=$XPR_BASE/sge
STATE_FILE=$XPR_BASE/state.env           # what setup.sh did that teardown.sh must undo
SIM_SHELL=$XPR_BASE/sim/login-shell      # the login shell of $XPR_SIM_USER
BAD_DIR=$XPR_BASE/bad                    # the login shell of $XPR_BAD_USER and its broken commands
BAD_SHELL=$BAD_DIR/login-shell

# ---------------------------------------------------------------- logging
_T0=$EPOCHREALTIME
log() {
  local us=$((${EPOCHREALTIME/./} - ${_T0/./}))
  printf '[%s %3d.%02ds] %s\n' "${0##*/}" $((us / 1000000)) $((us % 1000000 / 10000)) "$*"
}
die() { echo "${0##*/}: error: $*" >&2; exit 1; }
require_root() { [ "$(id -u)" = 0 ] || die "must run as root (hint: sudo $0)"; }
# one_at_a_time "$@": re-runs this script under `flock -o` (waiting up to 10 min) unless it
# already runs so, so that no other setup.sh/teardown.sh runs on this machine meanwhile. Two
# interleaved (one deleting $XPR_BASE while the other starts daemons in it) leave daemons no pid
# file knows of. `-o`: the lock is held by flock itself, never inherited by the daemons started
# here (they would hold it for as long as they live).
LOCK_FILE=/run/xpr-testbed.lock
one_at_a_time() {
  [ "${XPR_TESTBED_LOCK_HELD:-}" = 1 ] && return 0
  flock -n "$LOCK_FILE" true || log "another setup.sh/teardown.sh runs: waiting for it (10 min at most)"
  XPR_TESTBED_LOCK_HELD=1 exec flock -o -w 600 "$LOCK_FILE" "$0" "$@"
}

# ---------------------------------------------------------------- processes
# alive PID COMM: PID is a live (non-zombie) process whose /proc/PID/comm is COMM. Checking the
# name guards against a stale pid file naming a recycled PID.
alive() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
# pid_of FILE: the PID in a pid file, or nothing.
pid_of() { [ -s "$1" ] && tr -dc '0-9' < "$1"; true; }
# running PIDFILE COMM: the daemon of that pid file is up.
running() { alive "$(pid_of "$1")" "$2"; }
# stop_pids COMM:PID...: SIGTERM them all at once, wait, SIGKILL what is left after 60 s.
# Only ever PIDs from our own pid files; empty PIDs and dead processes are skipped.
stop_pids() {
  local spec live=() left i
  for spec in "$@"; do
    alive "${spec#*:}" "${spec%%:*}" && live+=("$spec") && kill -TERM "${spec#*:}" 2>/dev/null
  done
  for ((i = 0; i < 600; i++)); do
    left=()
    for spec in "${live[@]}"; do alive "${spec#*:}" "${spec%%:*}" && left+=("$spec"); done
    [ ${#left[@]} -gt 0 ] || break
    sleep 0.1
  done
  for spec in "${left[@]}"; do
    log "${spec%%:*} (${spec#*:}) ignored SIGTERM for 60s: SIGKILL"
    kill -KILL "${spec#*:}" 2>/dev/null
  done
  [ ${#live[@]} = 0 ] || log "stopped ${live[*]}"
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.1 s until it succeeds, or die naming WHAT.
wait_for() {
  local t=$1 what=$2 end
  shift 2
  end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || die "timed out after ${t}s waiting for $what"
    sleep 0.1
  done
}
port_open() { timeout 1 bash -c "</dev/tcp/$1/$2" 2>/dev/null; }
# in_ns NS CMD...: run CMD inside network namespace NS, or here when NS is empty.
in_ns() {
  local ns=$1
  shift
  if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}
# sge CELL NS CMD...: an SGE client command against the qmaster of CELL (living in NS).
sge() {
  local cell=$1 ns=$2
  shift 2
  in_ns "$ns" env SGE_ROOT="$SGE_ROOT" SGE_CELL="$cell" "$@"
}
# sge_cells: "CELL NS" lines of the Grid Engine clusters this configuration runs.
sge_cells() {
  [ "$XPR_WITH_SGE" = 1 ] || return 0
  case $XPR_SGE_MODE in
    root) echo "$SGE_LOCAL_CELL -" ;;
    netns) echo "$SGE_HOSTB_CELL $HOSTB_NS" ;;
    both) echo "$SGE_LOCAL_CELL -"; echo "$SGE_HOSTB_CELL $HOSTB_NS" ;;
    *) die "XPR_SGE_MODE=$XPR_SGE_MODE: expected root, netns or both" ;;
  esac
}
# sge_qmaster_spool CELL / sge_execd_spool CELL: where a cell's daemons keep state (and pid files).
sge_spool() { if [ "$1" = "$SGE_LOCAL_CELL" ]; then echo /var/spool/gridengine; else echo "/var/spool/gridengine/$1"; fi; }
sge_qmaster_pidfile() { echo "$(sge_spool "$1")/qmaster/qmaster.pid"; }
# The execd spool is named after the host's name as the qmaster resolves it (in the root netns
# that is `localhost`, via host_aliases), so look in every host directory.
sge_execd_pid() {
  local f
  for f in "$(sge_spool "$1")"/execd/*/execd.pid; do
    alive "$(pid_of "$f")" sge_execd && { pid_of "$f"; return 0; }
  done
  return 1
}

# state_set KEY VALUE / state_get KEY: small key=value memory of setup.sh for teardown.sh.
state_set() {
  mkdir -p "$XPR_BASE"
  touch "$STATE_FILE"
  sed -i "/^$1=/d" "$STATE_FILE"
  echo "$1=$2" >> "$STATE_FILE"
}
state_get() { [ -f "$STATE_FILE" ] && sed -n "s/^$1=//p" "$STATE_FILE" | tail -1; true; }

# install_file DEST [MODE]: write stdin to DEST if it differs; succeeds iff DEST changed.
install_file() {
  local dest=$1 mode=${2:-644} tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cat > "$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$dest"
}

# testbed_running: setup.sh finished at $XPR_BASE and its local sshd is up.
testbed_running() {
  [ -s "$XPR_BASE/env.sh" ] && [ "$(state_get SETUP_DONE)" = 1 ] && running "$SSH_DIR/xpr-local/sshd.pid" sshd
}

# other_owner: prints the XPR_BASE of another test bed holding this machine's ports and namespaces.
other_owner() {
  local owner
  owner=$(cat "$OWNER_FILE" 2>/dev/null) || return 1
  [ -n "$owner" ] && [ "$owner" != "$XPR_BASE" ] && [ -e "$owner/state.env" ] && echo "$owner"
}
