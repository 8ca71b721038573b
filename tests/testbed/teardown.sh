#!/usr/bin/env bash
# teardown.sh - stop the test bed that setup.sh started: jobs first, then every daemon by the PID
# in its pid file (checked against the process name), the namespaces, the /etc changes, $XPR_BASE.
# Best effort and idempotent: keeps going on errors, and does nothing when nothing runs.
#   XPR_REMOVE_USER=1  also delete the test user and its home
#   XPR_PURGE_SGE=1    also delete the SGE cell xpr-hostB (config db, spool); cell `default`
#                      belongs to the Debian package and is kept
set -uo pipefail
# shellcheck source=tests/testbed/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_root
  one_at_a_time "$@"
  local owner
  if owner=$(other_owner); then
    die "the running test bed is at $owner, not $XPR_BASE: leaving it alone (hint: XPR_BASE=$owner $0)"
  fi
  # Grid Engine cells that may run, whatever XPR_SGE_MODE says now.
  XPR_WITH_SGE=1 XPR_SGE_MODE=both
  cancel_jobs
  stop_sim_jobs
  stop_daemons
  purge_sge_cell
  remove_netns
  restore_etc
  remove_files
  log "done"
}

cancel_jobs() {
  # Jobs die with their daemons only partly: cancel them so no job outlives the test bed.
  if [ -e "$SLURM_DIR/slurm.conf" ] && running "$SLURM_DIR/slurmctld.pid" slurmctld; then
    local ids i
    mapfile -t ids < <(SLURM_CONF=$SLURM_DIR/slurm.conf squeue -h -o %A 2>/dev/null | sort -u)
    if [ ${#ids[@]} -gt 0 ]; then
      SLURM_CONF=$SLURM_DIR/slurm.conf scancel "${ids[@]}" 2>/dev/null
      for ((i = 0; i < 100; i++)); do
        [ -z "$(SLURM_CONF=$SLURM_DIR/slurm.conf squeue -h -o %A 2>/dev/null)" ] && break
        sleep 0.1
      done
      log "slurm jobs cancelled"
    fi
  fi
  local cell ns i
  while read -r cell ns; do
    [ "$ns" = - ] && ns=""
    [ -z "$ns" ] || [ -e "/run/netns/$ns" ] || continue
    running "$(sge_qmaster_pidfile "$cell")" sge_qmaster || continue
    if [ -n "$(timeout 20 sge "$cell" "$ns" qstat -u '*' 2>/dev/null)" ]; then
      timeout 20 sge "$cell" "$ns" qdel -f -u '*' >/dev/null 2>&1
      for ((i = 0; i < 100; i++)); do
        [ -z "$(timeout 20 sge "$cell" "$ns" qstat -u '*' 2>/dev/null)" ] && break
        sleep 0.1
      done
      log "sge jobs of cell $cell deleted"
    fi
  done < <(sge_cells)
}

# The simulator user's simulated jobs: removing a simulator spool makes each of its job runners
# kill its job and exit (tests/simulators/README.md), so removing the user's ~/.xpr-sim stops them
# all. The user goes too (remove_files): its login shell lived in $XPR_BASE.
stop_sim_jobs() {
  local user home i
  user=$(state_get SIM_USER)
  [ -n "$user" ] && id "$user" >/dev/null 2>&1 || return 0
  home=$(getent passwd "$user" | cut -d: -f6)
  [ -n "$home" ] && [ -d "$home/.xpr-sim" ] || return 0
  rm -rf "${home:?}/.xpr-sim"
  for ((i = 0; i < 50; i++)); do
    pgrep -u "$user" -f simcore.py >/dev/null || break
    sleep 0.1
  done
  log "simulated jobs of $user stopped"
}

# Every daemon gets SIGTERM at once (sge_qmaster alone takes ~5 s to stop).
stop_daemons() {
  local pids=() f child cell ns
  for f in "$SSH_DIR"/*/sshd.pid; do
    [ -e "$f" ] || continue
    pids+=("sshd:$(pid_of "$f")")
    # open sessions (ControlMasters of running tests) are children of the listener and would
    # outlive it - in a namespace, keeping it alive
    for child in $(ps -o pid= --ppid "$(pid_of "$f")" 2>/dev/null); do pids+=("sshd:$child"); done
  done
  while read -r cell ns; do
    # cell `default` may be a site's own Grid Engine: stop only daemons setup.sh started
    [ "$(state_get "STARTED_SGE_$cell")" = 1 ] || continue
    pids+=("sge_execd:$(sge_execd_pid "$cell")" "sge_qmaster:$(pid_of "$(sge_qmaster_pidfile "$cell")")")
  done < <(sge_cells)
  pids+=("slurmd:$(pid_of "$SLURM_DIR/slurmd.pid")" "slurmctld:$(pid_of "$SLURM_DIR/slurmctld.pid")")
  pids+=("slurmdbd:$(pid_of "$SLURM_DIR/slurmdbd.pid")" "mariadbd:$(pid_of "$MARIADB_DIR/mysqld.pid")")
  # munged may serve others: stop it only if setup.sh started it
  [ "$(state_get STARTED_MUNGE)" = 1 ] && pids+=("munged:$(pid_of /run/munge/munged.pid)")
  stop_pids "${pids[@]}"
}

purge_sge_cell() {
  # cell `default` belongs to the Debian package and is kept
  if [ "${XPR_PURGE_SGE:-0}" = 1 ] && [ -e "$SGE_ROOT/$SGE_HOSTB_CELL" ]; then
    rm -rf "${SGE_ROOT:?}/$SGE_HOSTB_CELL" "$(sge_spool "$SGE_HOSTB_CELL")"
    log "sge cell $SGE_HOSTB_CELL deleted"
  fi
}

remove_netns() {
  local ns left l
  for ns in $HOSTA_NS $HOSTB_NS; do
    if [ -e "/run/netns/$ns" ]; then
      left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
      [ -n "$left" ] && log "WARNING: processes still in $ns: $left(not killed: not ours)"
      ip netns del "$ns" && log "netns $ns deleted"
    fi
    rm -rf "/etc/netns/$ns"
  done
  rmdir /etc/netns 2>/dev/null
  for l in xprA0 xprB0; do ip link del "$l" 2>/dev/null; done
  true
}

restore_etc() {
  if [ -L /etc/slurm/slurm.conf ] && [[ "$(readlink /etc/slurm/slurm.conf)" == "$XPR_BASE"/* ]]; then
    rm -f /etc/slurm/slurm.conf
    local backup
    backup=$(state_get SLURM_CONF_BACKUP)
    [ -n "$backup" ] && [ -e "$backup" ] && mv "$backup" /etc/slurm/slurm.conf
  fi
  rm -f "$SGE_ROOT/$SGE_LOCAL_CELL/common/host_aliases"
  grep -v ' # xpr-testbed$' /etc/hosts > /etc/hosts.xpr-tmp && cat /etc/hosts.xpr-tmp > /etc/hosts
  rm -f /etc/hosts.xpr-tmp
  [ -s "$OWNER_FILE" ] && [ "$(cat "$OWNER_FILE")" = "$XPR_BASE" ] && rm -f "$OWNER_FILE"
  true
}

# remove_user_of_shell USER SHELL: removes USER if its login shell is SHELL (so a user of the
# same name that setup.sh did not make is left alone), once its processes are gone.
remove_user_of_shell() {
  local user=$1 shell=$2 i
  [ -n "$user" ] && [ "$(getent passwd "$user" | cut -d: -f7)" = "$shell" ] || return 0
  # a session's unprivileged sshd ends shortly after its privileged parent
  for ((i = 0; i < 50; i++)); do
    [ -z "$(ps -u "$user" -o pid= 2>/dev/null)" ] && break
    sleep 0.1
  done
  if [ -z "$(ps -u "$user" -o pid= 2>/dev/null)" ]; then
    userdel -r "$user" 2>/dev/null
    log "user $user removed"
  else
    log "WARNING: $user still has processes: $(ps -u "$user" -o pid= | tr '\n' ' ')- user kept"
  fi
}

remove_files() {
  local sim_user bad_user
  sim_user=$(state_get SIM_USER)
  bad_user=$(state_get BAD_USER)
  rm -rf "$XPR_BASE"
  # the simulator user's and the misbehaving user's login shells were in $XPR_BASE: the users
  # go with them (sessions and simulated jobs were stopped above)
  remove_user_of_shell "$sim_user" "$SIM_SHELL"
  remove_user_of_shell "$bad_user" "$BAD_SHELL"
  if [ "${XPR_REMOVE_USER:-0}" = 1 ] && id "$XPR_USER" >/dev/null 2>&1; then
    if [ -z "$(ps -u "$XPR_USER" -o pid= 2>/dev/null)" ]; then
      userdel -r "$XPR_USER" 2>/dev/null
      log "user $XPR_USER removed"
    else
      log "WARNING: $XPR_USER still has processes: $(ps -u "$XPR_USER" -o pid= | tr '\n' ' ')- user kept"
    fi
  fi
}

main "$@"
