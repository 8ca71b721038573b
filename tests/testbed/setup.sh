#!/usr/bin/env bash
# setup.sh - start xpr's HPC test bed on this machine (Debian 12, root, no systemd needed).
#
#   xpr-local  127.0.0.1:$XPR_SSH_PORT  sshd in the root netns; Slurm (munge, slurmctld, slurmd,
#                                       slurmdbd on MariaDB) and Grid Engine cell `default`
#   xpr-hostA  10.200.0.2:22            sshd in netns xpr-hostA; Slurm commands reach slurmctld
#                                       at 10.200.0.1 (a second login node of the same cluster)
#   xpr-hostB  10.200.0.6:22            sshd in netns xpr-hostB running its OWN Grid Engine
#                                       (cell xpr-hostB: qmaster + execd inside the namespace)
#   xpr-sim    10.200.0.6:22            xpr-hostB as user $XPR_SIM_USER, whose login shell puts
#                                       the PBS and LSF SIMULATORS' commands first on PATH
#
# Idempotent: a component already running is reused (restarted only if its config changed), so a
# second run takes about a second. Writes $XPR_BASE/env.sh (endpoints for tests) and
# $XPR_BASE/ssh/ssh_config. Undo with teardown.sh. Settings: see lib.sh.
set -euo pipefail
# shellcheck source=tests/testbed/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_root
  one_at_a_time "$@"
  case $XPR_SGE_MODE in root | netns | both) ;; *) die "XPR_SGE_MODE=$XPR_SGE_MODE: expected root, netns or both" ;; esac
  claim_machine
  if [ "$XPR_INSTALL" = 1 ]; then install_packages; fi
  ensure_hostname_resolves
  ensure_user
  if [ "$XPR_WITH_NETNS" = 1 ]; then ensure_sim_user; fi
  ensure_bad_user
  setup_client_keys
  if [ "$XPR_WITH_NETNS" = 1 ]; then create_netns; fi
  if [ "$XPR_WITH_SLURM" = 1 ]; then
    start_munge
    if [ "$XPR_WITH_SLURMDBD" = 1 ]; then
      start_mariadb
      start_slurmdbd
    fi
    start_slurm
  fi
  local cell ns
  while read -r cell ns; do
    [ "$ns" = - ] && ns=""
    start_sge "$cell" "$ns"
  done < <(sge_cells)
  start_local_sshd
  if [ "$XPR_WITH_NETNS" = 1 ]; then
    start_netns_sshd A "$HOSTA_NS" "$HOSTA_IP"
    start_netns_sshd B "$HOSTB_NS" "$HOSTB_IP"
  fi
  write_client_files
  log "ready: source $XPR_BASE/env.sh; ssh -F $SSH_DIR/ssh_config xpr-local|xpr-hostA|xpr-hostB|xpr-sim"
}

# One test bed per machine: ports and namespace names are global.
claim_machine() {
  local owner
  if owner=$(other_owner); then
    die "the test bed at $owner holds this machine's ports and namespaces (hint: XPR_BASE=$owner $(dirname "$0")/teardown.sh)"
  fi
  mkdir -p "$XPR_BASE"
  chmod 755 "$XPR_BASE"
  echo "$XPR_BASE" > "$OWNER_FILE"
  state_set SETUP_STARTED 1
}

install_packages() {
  local pkgs=(openssh-server openssh-client rsync iproute2 shellcheck tmux) missing=() p
  [ "$XPR_WITH_SLURM" = 1 ] && pkgs+=(munge slurm-wlm)
  [ "$XPR_WITH_SLURM" = 1 ] && [ "$XPR_WITH_SLURMDBD" = 1 ] && pkgs+=(slurmdbd mariadb-server)
  [ "$XPR_WITH_SGE" = 1 ] && pkgs+=(gridengine-master gridengine-exec gridengine-client)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing: ${missing[*]}"
  # Package scripts must not start daemons (we start our own; there is no systemd anyway).
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  # gridengine-master's postinst creates cell `default` (config db) only when told to.
  debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_LOCAL_CELL
gridengine-common shared/gridenginemaster string $HOST
gridengine-master shared/gridengineconfig boolean true
gridengine-master shared/gridenginecell string $SGE_LOCAL_CELL
gridengine-master shared/gridenginemaster string $HOST
gridengine-exec shared/gridenginemaster string $HOST
gridengine-client shared/gridenginemaster string $HOST
EOF
  local rc=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    > "$XPR_BASE/apt.log" 2>&1 || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { tail -30 "$XPR_BASE/apt.log" >&2; die "apt-get failed (log: $XPR_BASE/apt.log)"; }
  log "packages installed"
}

# Grid Engine needs this host's name to resolve; Debian's installer maps it to 127.0.1.1, but a
# bare container or CI image may not map it at all.
ensure_hostname_resolves() {
  getent ahostsv4 "$HOST" >/dev/null && return 0
  echo "127.0.1.1 $HOST # xpr-testbed" >> /etc/hosts
  log "added '127.0.1.1 $HOST' to /etc/hosts"
}

ensure_user() {
  if ! id "$XPR_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$XPR_USER"
    state_set CREATED_USER 1
    log "user $XPR_USER created"
  fi
  # sshd without PAM refuses an account whose password field is '!' ("account is locked").
  [ "$(getent shadow "$XPR_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$XPR_USER"
}

# The simulator user: xpr's PBS and LSF SIMULATORS (tests/simulators, installed by the tests into
# ~/.xpr-sim/simulators) are "the cluster's scheduler" of this account, reached as host xpr-sim.
# A session runs scheduler commands with no per-command environment, as on a real cluster where
# qsub/bsub are simply on PATH; the login shell (sshd runs every command through it) does that.
# PBS and LSF command names do not collide, and Grid Engine's qsub on xpr-hostB comes later on
# PATH, so the other users of xpr-hostB are not affected. The shell lives under $XPR_BASE, so
# teardown.sh removes the user with it.
ensure_sim_user() {
  mkdir -p "$XPR_BASE/sim"
  chmod 755 "$XPR_BASE/sim"
  install_file "$SIM_SHELL" 755 <<'EOF' || true
#!/bin/sh
# Login shell of the xpr test bed's simulator user (generated by tests/testbed/setup.sh): the PBS
# and LSF SIMULATORS' commands first on PATH, as a cluster's scheduler commands are; then sh.
PATH=$HOME/.xpr-sim/simulators/pbs/bin:$HOME/.xpr-sim/simulators/lsf/bin:${PATH:-/usr/local/bin:/usr/bin:/bin}
export PATH
exec /bin/sh "$@"
EOF
  if ! id "$XPR_SIM_USER" >/dev/null 2>&1; then
    useradd -m -s "$SIM_SHELL" "$XPR_SIM_USER"
    log "user $XPR_SIM_USER created (login shell $SIM_SHELL)"
  fi
  [ "$(getent passwd "$XPR_SIM_USER" | cut -d: -f7)" = "$SIM_SHELL" ] || usermod -s "$SIM_SHELL" "$XPR_SIM_USER"
  [ "$(getent shadow "$XPR_SIM_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$XPR_SIM_USER"
  state_set SIM_USER "$XPR_SIM_USER"
}

# The misbehaving account, reached as host xpr-bad (xpr-local's sshd): what `xpr doctor` must
# catch on a new cluster. Its login shell (sshd runs every command through it) prints a banner
# on stdout, as a chatty ~/.bashrc does, which corrupts every reply a tool reads; and its
# `sacct` says accounting is off, as on a site without slurmdbd. The shell and the commands
# live under $XPR_BASE, so teardown.sh removes the user with them.
ensure_bad_user() {
  mkdir -p "$BAD_DIR/bin"
  chmod 755 "$BAD_DIR" "$BAD_DIR/bin"
  install_file "$BAD_SHELL" 755 <<EOF || true
#!/bin/sh
# Login shell of the xpr test bed's misbehaving account (generated by tests/testbed/setup.sh).
echo "Welcome to the xpr test bed. Unauthorised use is prohibited."
PATH=$BAD_DIR/bin:\${PATH:-/usr/local/bin:/usr/bin:/bin}
export PATH
exec /bin/sh "\$@"
EOF
  install_file "$BAD_DIR/bin/sacct" 755 <<'EOF' || true
#!/bin/sh
# The misbehaving account's sacct: accounting switched off, in Slurm's own words.
echo "Slurm accounting storage is disabled" >&2
exit 1
EOF
  if ! id "$XPR_BAD_USER" >/dev/null 2>&1; then
    useradd -m -s "$BAD_SHELL" "$XPR_BAD_USER"
    log "user $XPR_BAD_USER created (login shell $BAD_SHELL)"
  fi
  [ "$(getent passwd "$XPR_BAD_USER" | cut -d: -f7)" = "$BAD_SHELL" ] || usermod -s "$BAD_SHELL" "$XPR_BAD_USER"
  [ "$(getent shadow "$XPR_BAD_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$XPR_BAD_USER"
  state_set BAD_USER "$XPR_BAD_USER"
}

# Client key (tests log in with it) and the authorized_keys every sshd of the test bed reads.
setup_client_keys() {
  mkdir -p "$SSH_DIR/authorized_keys"
  [ -s "$SSH_DIR/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/client_key" -C xpr-testbed-client
  local u
  for u in "$XPR_USER" "$XPR_SIM_USER" "$XPR_BAD_USER" root; do cp "$SSH_DIR/client_key.pub" "$SSH_DIR/authorized_keys/$u"; done
  chmod 644 "$SSH_DIR"/authorized_keys/*
  mkdir -p /run/sshd
  chmod 755 /run/sshd
}

create_netns() {
  local h ns root_ip ip
  for h in A B; do
    if [ $h = A ]; then ns=$HOSTA_NS root_ip=$HOSTA_ROOT_IP ip=$HOSTA_IP; else ns=$HOSTB_NS root_ip=$HOSTB_ROOT_IP ip=$HOSTB_IP; fi
    # `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for what it starts: there,
    # this host's name resolves to the namespace's own address (SGE insists on that).
    mkdir -p "/etc/netns/$ns"
    printf '127.0.0.1 localhost\n%s %s\n' "$ip" "$HOST" > "/etc/netns/$ns/hosts"
    [ -e "/run/netns/$ns" ] && continue
    ip netns add "$ns"
    ip link add "xpr${h}0" type veth peer name "xpr${h}1" netns "$ns"
    ip addr add "$root_ip/30" dev "xpr${h}0"
    ip link set "xpr${h}0" up
    ip -n "$ns" addr add "$ip/30" dev "xpr${h}1"
    ip -n "$ns" link set "xpr${h}1" up
    ip -n "$ns" link set lo up
    log "netns $ns created ($ip)"
  done
}

start_munge() {
  mkdir -p /run/munge
  chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  # munged may serve other Slurm users of this host: reuse it, and stop it later only if we started it.
  if ! running /run/munge/munged.pid munged; then
    runuser -u munge -- /usr/sbin/munged
    state_set STARTED_MUNGE 1
  fi
  wait_for 10 munged bash -c 'munge -n | unmunge'
}

start_mariadb() {
  mkdir -p "$MARIADB_DIR"
  chown mysql:mysql "$MARIADB_DIR"
  local sock=$MARIADB_DIR/mysqld.sock
  if running "$MARIADB_DIR/mysqld.pid" mariadbd; then return 0; fi
  if [ ! -d "$MARIADB_DIR/data/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$MARIADB_DIR/data" --skip-test-db \
      --auth-root-authentication-method=socket > "$MARIADB_DIR/install.log" 2>&1 \
      || { cat "$MARIADB_DIR/install.log" >&2; die "mariadb-install-db failed"; }
  fi
  setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$MARIADB_DIR/data" --socket="$sock" \
    --port=$MARIADB_PORT --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$MARIADB_DIR/mysqld.pid" \
    --log-error="$MARIADB_DIR/error.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
  wait_for 30 "mariadb on 127.0.0.1:$MARIADB_PORT" mariadb --socket="$sock" -u root -e 'select 1'
  mariadb --socket="$sock" -u root -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  log "mariadb up (127.0.0.1:$MARIADB_PORT)"
}

start_slurmdbd() {
  mkdir -p "$SLURM_DIR/log"
  chown slurm:slurm "$SLURM_DIR/log"
  local changed=0
  install_file "$SLURM_DIR/slurmdbd.conf" 600 <<EOF && changed=1
AuthType=auth/munge
DbdHost=$HOST
DbdAddr=127.0.0.1
DbdPort=$SLURMDBD_PORT
SlurmUser=slurm
PidFile=$SLURM_DIR/slurmdbd.pid
LogFile=$SLURM_DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MARIADB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chown slurm:slurm "$SLURM_DIR/slurmdbd.conf"
  if running "$SLURM_DIR/slurmdbd.pid" slurmdbd; then
    [ "$changed" = 1 ] || return 0
    stop_pids "slurmdbd:$(pid_of "$SLURM_DIR/slurmdbd.pid")"
  fi
  # slurmdbd has no -f: it reads slurmdbd.conf next to $SLURM_CONF.
  SLURM_CONF=$SLURM_DIR/slurm.conf /usr/sbin/slurmdbd
  wait_for 30 "slurmdbd on :$SLURMDBD_PORT" port_open 127.0.0.1 $SLURMDBD_PORT
  log "slurmdbd up (:$SLURMDBD_PORT)"
}

slurm_conf() { # slurm_conf CONTROLLER_ADDR: slurm.conf, with slurmctld/slurmdbd reached at that address
  local acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  [ "$XPR_WITH_SLURMDBD" = 1 ] && acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$1
AccountingStoragePort=$SLURMDBD_PORT
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
  cat <<EOF
ClusterName=xpr
SlurmctldHost=$HOST($1)
SlurmUser=slurm
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$acct
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# the node advertises more CPUs than the machine has, so that many small jobs run at once
SlurmdParameters=config_overrides
# the default batch_sched_delay=3s makes back-to-back short jobs crawl
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=300
# room for the memory benchmark's 10,000 held jobs besides the tests' own (default 10,000)
MaxJobCount=30000
# a site's low array limit (default 1001; it caps the index): xpr must read it and chunk
MaxArraySize=101
SlurmdTimeout=300
SlurmctldTimeout=120
InactiveLimit=0
KillWait=5
OverTimeLimit=0
Waittime=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$XPR_SLURM_CPUS RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=$HOST MaxTime=60 State=UP
# one minute: for tests of jobs killed at their time limit
PartitionName=tiny Nodes=$HOST MaxTime=1 State=UP
EOF
}

start_slurm() {
  mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log"
  chown slurm:slurm "$SLURM_DIR/state" "$SLURM_DIR/log"
  local changed=0
  slurm_conf 127.0.0.1 | install_file "$SLURM_DIR/slurm.conf" && changed=1
  # commands run inside xpr-hostA reach slurmctld/slurmdbd through the veth (sshd there sets SLURM_CONF)
  slurm_conf "$HOSTA_ROOT_IP" | install_file "$SLURM_DIR/slurm-hostA.conf" || true
  # client commands of every user read /etc/slurm/slurm.conf: point it at ours, keeping a site file
  if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
    mv /etc/slurm/slurm.conf "$XPR_BASE/slurm.conf.orig"
    state_set SLURM_CONF_BACKUP "$XPR_BASE/slurm.conf.orig"
  fi
  mkdir -p /etc/slurm
  ln -sfn "$SLURM_DIR/slurm.conf" /etc/slurm/slurm.conf
  if [ "$changed" = 1 ]; then
    stop_pids "slurmd:$(pid_of "$SLURM_DIR/slurmd.pid")" "slurmctld:$(pid_of "$SLURM_DIR/slurmctld.pid")"
  fi
  running "$SLURM_DIR/slurmctld.pid" slurmctld || /usr/sbin/slurmctld -f "$SLURM_DIR/slurm.conf"
  wait_for 30 slurmctld scontrol ping
  running "$SLURM_DIR/slurmd.pid" slurmd || /usr/sbin/slurmd -f "$SLURM_DIR/slurm.conf"
  wait_for 30 "slurm node $HOST idle" bash -c "sinfo -h -n '$HOST' -o %T | grep -E '^(idle|mixed|allocated)' >/dev/null"
  log "slurm up: partitions $(sinfo -h -o %P | tr '\n' ' ')($XPR_SLURM_CPUS CPUs)"
}

# A Grid Engine cell: config db + qmaster + execd, queue all.q, parallel environment smp,
# 1 s scheduling, accounting flushed every second. Cell `default` is the Debian package's (its
# postinst made the config db); other cells are created here, with their own spool directories.
start_sge() {
  local cell=$1 ns=$2 spool common
  spool=$(sge_spool "$cell")
  common=$SGE_ROOT/$cell/common
  [ "$cell" = "$SGE_LOCAL_CELL" ] || create_sge_cell "$cell" "$spool"
  mkdir -p "$spool/qmaster/job_scripts" "$spool/execd" "$SGE_DIR/$cell" /var/run/gridengine
  chown sgeadmin:sgeadmin "$spool/qmaster" "$spool/qmaster/job_scripts" "$spool/execd" /var/run/gridengine
  echo "$HOST" > "$common/act_qmaster"
  # SGE demands that a peer's address reverse-resolves to the name it claims. In the root netns
  # this host's name resolves to 127.0.0.1, whose canonical name is `localhost`: alias them.
  local ip canon
  rm -f "$common/host_aliases"
  ip=$(in_ns "$ns" getent ahostsv4 "$HOST" | awk 'NR==1{print $1}')
  canon=$(in_ns "$ns" getent hosts "$ip" | awk '{print $2}')
  [ -n "$canon" ] && [ "$canon" != "$HOST" ] && echo "$HOST $canon" > "$common/host_aliases"
  chown -R sgeadmin:sgeadmin "$common"

  local fresh=0
  if ! running "$(sge_qmaster_pidfile "$cell")" sge_qmaster; then
    sge "$cell" "$ns" /usr/sbin/sge_qmaster
    state_set "STARTED_SGE_$cell" 1
    fresh=1
  fi
  wait_for 60 "sge_qmaster of cell $cell" sge "$cell" "$ns" qconf -sh
  # the config db outlives the test bed: (re)apply ours on every start, and whenever it changed
  if write_sge_files "$cell" || [ "$fresh" = 1 ]; then configure_sge "$cell" "$ns"; fi
  sge_execd_pid "$cell" >/dev/null || sge "$cell" "$ns" /usr/sbin/sge_execd
  wait_for 60 "sge execd of cell $cell reporting" sge_queue_up "$cell" "$ns"
  log "sge cell $cell up${ns:+ in netns $ns} (all.q, $XPR_SGE_SLOTS slots, pe smp)"
}

sge_queue_up() { # a queue instance of all.q is listed without the u(nknown)/a(larm)/E/d states
  sge "$1" "$2" qstat -f -q all.q | grep -E '^all.q@' | grep -v -E ' (au|u|E|d)\s*$' | grep lx-amd64 >/dev/null
}

# The config db of a cell of our own: what the package's init_cluster does, but with this cell's
# spool directories (two qmasters must never share a Berkeley DB or an execd spool).
create_sge_cell() {
  local cell=$1 spool=$2 common=$SGE_ROOT/$1/common
  [ -e "$spool/spooldb/sge" ] && return 0
  mkdir -p "$common" "$spool/spooldb" "$spool/qmaster" "$spool/execd" "$SGE_DIR"
  sed -e "s|/var/spool/gridengine/spooldb|$spool/spooldb|" -e "s|/var/spool/gridengine/qmaster|$spool/qmaster|" \
    "$SGE_ROOT/$SGE_LOCAL_CELL/common/bootstrap" > "$common/bootstrap"
  sed -e "s|^execd_spool_dir .*|execd_spool_dir        $spool/execd|" \
    /usr/share/gridengine/default-configuration > "$spool/default-configuration"
  chown -R sgeadmin:sgeadmin "$SGE_ROOT/$cell" "$spool"
  runuser -u sgeadmin -- env SGE_ROOT="$SGE_ROOT" SGE_CELL="$cell" sh -e -c "
    /usr/lib/gridengine/spoolinit berkeleydb libspoolb $spool/spooldb init
    /usr/lib/gridengine/spooldefaults configuration $spool/default-configuration
    /usr/lib/gridengine/spooldefaults complexes /usr/share/gridengine/util/resources/centry
    /usr/lib/gridengine/spooldefaults usersets /usr/share/gridengine/util/resources/usersets
    /usr/lib/gridengine/spooldefaults managers sgeadmin" > "$SGE_DIR/create-$cell.log" 2>&1 \
    || { cat "$SGE_DIR/create-$cell.log" >&2; die "creating sge cell $cell failed"; }
  printf 'SGE_ROOT=%s; export SGE_ROOT\nSGE_CELL=%s; export SGE_CELL\n' "$SGE_ROOT" "$cell" > "$common/settings.sh"
  log "sge cell $cell created (spool $spool)"
}

# The cell's objects as qconf files under $SGE_DIR/CELL; succeeds iff one of them changed.
write_sge_files() {
  local d=$SGE_DIR/$1 changed=1
  printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' \
    "$HOST" | install_file "$d/exechost.txt" && changed=0
  printf 'group_name @allhosts\nhostlist %s\n' "$HOST" | install_file "$d/allhosts.txt" && changed=0
  install_file "$d/smp.txt" <<'EOF' && changed=0
pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
  sge_queue_conf | install_file "$d/all.q.txt" && changed=0
  return $changed
}

# Apply the files of write_sge_files; every object is added if missing, or modified to match.
configure_sge() {
  local cell=$1 ns=$2 d=$SGE_DIR/$1
  local q=(sge "$cell" "$ns" qconf)
  # (grep without -q: with pipefail, an early-exiting grep can SIGPIPE qconf and flip the result)
  "${q[@]}" -sh | grep -x "$HOST" >/dev/null || "${q[@]}" -ah "$HOST" >/dev/null 2>&1
  "${q[@]}" -ss 2>/dev/null | grep -x "$HOST" >/dev/null || "${q[@]}" -as "$HOST" >/dev/null 2>&1
  "${q[@]}" -se "$HOST" >/dev/null 2>&1 || "${q[@]}" -Ae "$d/exechost.txt" >/dev/null 2>&1
  sge_add_or_modify "$cell" "$ns" hgrp @allhosts "$d/allhosts.txt"
  sge_add_or_modify "$cell" "$ns" p smp "$d/smp.txt"
  sge_add_or_modify "$cell" "$ns" q all.q "$d/all.q.txt"
  # scheduler: run every second instead of every 15 s, so that tests are quick
  "${q[@]}" -ssconf | sed -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
    -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
    -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' > "$d/sched.txt"
  "${q[@]}" -Msconf "$d/sched.txt" >/dev/null 2>&1
  # accounting (qacct) flushed every second instead of 15 s. qconf -Mconf takes the config NAME
  # from the file name, so the file must be called `global`.
  mkdir -p "$d/conf"
  "${q[@]}" -sconf global | sed 's/flush_time=[0-9:]*/flush_time=00:00:01/' > "$d/conf/global"
  (cd "$d/conf" && "${q[@]}" -Mconf global >/dev/null 2>&1)
  log "sge cell $cell configured"
}

sge_add_or_modify() { # CELL NS KIND NAME FILE: qconf -A<kind> or -M<kind> from FILE
  if sge "$1" "$2" qconf "-s$3" "$4" >/dev/null 2>&1; then
    sge "$1" "$2" qconf "-M$3" "$5" >/dev/null 2>&1 || true   # "unchanged" is an error to qconf
  else
    sge "$1" "$2" qconf "-A$3" "$5" >/dev/null 2>&1
  fi
}

sge_queue_conf() {
  cat <<EOF
qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               smp
rerun                 FALSE
slots                 $XPR_SGE_SLOTS
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
EOF
  local l
  for l in s_rt h_rt s_cpu h_cpu s_fsize h_fsize s_data h_data s_stack h_stack s_core h_core s_rss h_rss s_vmem h_vmem; do
    printf '%-21s INFINITY\n' "$l"
  done
}

# sshd_config for one sshd of the test bed: key-only, own host key, many sessions.
sshd_config() { # LISTEN_ADDR PORT HOSTKEY PIDFILE [EXTRA]
  cat <<EOF
ListenAddress $1
Port $2
HostKey $3
PidFile $4
AuthorizedKeysFile $SSH_DIR/authorized_keys/%u
# the keys live under /tmp (mode 1777), which StrictModes would reject
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers $XPR_USER $XPR_BAD_USER root
# defaults are MaxSessions 10 and MaxStartups 10:30:100: too few for parallel tests
MaxSessions 64
MaxStartups 100:30:200
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
${5:-}
EOF
}

# start_sshd NAME NS ADDR PORT EXTRA: (re)start sshd NAME unless it runs with this config.
start_sshd() {
  local name=$1 ns=$2 addr=$3 port=$4 extra=$5 dir=$SSH_DIR/$1 changed=0
  mkdir -p "$dir"
  [ -s "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C "$name"
  sshd_config "$addr" "$port" "$dir/host_key" "$dir/sshd.pid" "$extra" | install_file "$dir/sshd_config" && changed=1
  if running "$dir/sshd.pid" sshd; then
    [ "$changed" = 1 ] || return 0
    stop_pids "sshd:$(pid_of "$dir/sshd.pid")"
  fi
  /usr/sbin/sshd -t -f "$dir/sshd_config"
  in_ns "$ns" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  wait_for 10 "sshd $name on $addr:$port" in_ns "$ns" bash -c "</dev/tcp/$addr/$port"
  log "sshd $name up ($addr:$port)"
}

start_local_sshd() {
  local port
  port=$(state_get SSH_PORT)
  if [ -z "$port" ] || ! running "$SSH_DIR/xpr-local/sshd.pid" sshd; then
    port=$XPR_SSH_PORT
    while port_open 127.0.0.1 "$port"; do
      log "port $port is taken, trying $((port + 1))"
      port=$((port + 1))
      [ "$port" -lt $((XPR_SSH_PORT + 50)) ] || die "no free port in $XPR_SSH_PORT..$port for sshd"
    done
    state_set SSH_PORT "$port"
  fi
  start_sshd xpr-local "" 127.0.0.1 "$port" ""
}

start_netns_sshd() { # A|B NS IP
  local extra=""
  # sshd's SetEnv reaches every session: Slurm commands on hostA talk to slurmctld over the veth,
  # SGE commands on hostB to hostB's own cell
  [ "$1" = A ] && [ "$XPR_WITH_SLURM" = 1 ] && extra="SetEnv SLURM_CONF=$SLURM_DIR/slurm-hostA.conf"
  [ "$1" = B ] && sge_cells | grep "^$SGE_HOSTB_CELL " >/dev/null && extra="SetEnv SGE_CELL=$SGE_HOSTB_CELL"
  # the simulator user logs in here only (AllowUsers lines add up); a test gives its simulators
  # settings (its own spool, the LSF minute) with the ssh client's SetEnv
  [ "$1" = B ] && extra="$extra
AllowUsers $XPR_SIM_USER
AcceptEnv XPR_SIM_*"
  start_sshd "xpr-host$1" "$2" "$3" 22 "$extra"
}

write_client_files() {
  local port h sge_hosts="" sge_host=""
  port=$(state_get SSH_PORT)
  {
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$SSH_DIR/xpr-local/host_key.pub")"
    if [ "$XPR_WITH_NETNS" = 1 ]; then
      echo "$HOSTA_IP $(cut -d' ' -f1,2 "$SSH_DIR/xpr-hostA/host_key.pub")"
      echo "$HOSTB_IP $(cut -d' ' -f1,2 "$SSH_DIR/xpr-hostB/host_key.pub")"
    fi
  } > "$SSH_DIR/known_hosts"
  cat > "$SSH_DIR/ssh_config" <<EOF
# ssh -F $SSH_DIR/ssh_config xpr-local|xpr-hostA|xpr-hostB|xpr-sim|xpr-bad CMD   (generated by setup.sh)
Host xpr-local
  HostName 127.0.0.1
  Port $port
Host xpr-bad
  HostName 127.0.0.1
  Port $port
  User $XPR_BAD_USER
Host xpr-hostA
  HostName $HOSTA_IP
  Port 22
Host xpr-hostB
  HostName $HOSTB_IP
  Port 22
Host xpr-sim
  HostName $HOSTB_IP
  Port 22
  User $XPR_SIM_USER
Host xpr-*
  User $XPR_USER
  IdentityFile $SSH_DIR/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $SSH_DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
EOF
  while read -r h _; do
    [ "$h" = "$SGE_LOCAL_CELL" ] && h=xpr-local || h=xpr-hostB
    sge_hosts=${sge_hosts:+$sge_hosts,}$h
    sge_host=${sge_host:-$h}
  done < <(sge_cells)
  local slurm_hosts=""
  [ "$XPR_WITH_SLURM" = 1 ] && slurm_hosts=xpr-local && [ "$XPR_WITH_NETNS" = 1 ] && slurm_hosts+=,xpr-hostA
  # one `export K=V` per line, values without spaces (tests/common/mod.rs parses this file)
  install_file "$XPR_BASE/env.sh" <<EOF || true
# Endpoints of the xpr test bed (generated by tests/testbed/setup.sh). Source it, or read it with
# tests/common/mod.rs. Lists are comma-separated.
export XPR_BASE=$XPR_BASE
export XPR_USER=$XPR_USER
export XPR_USER_HOME=$(getent passwd "$XPR_USER" | cut -d: -f6)
export XPR_SSH_HOST=127.0.0.1
export XPR_SSH_PORT=$port
export XPR_SSH_KEY=$SSH_DIR/client_key
export XPR_SSH_KNOWN_HOSTS=$SSH_DIR/known_hosts
export XPR_SSH_CONFIG=$SSH_DIR/ssh_config
export XPR_SSH_HOSTS=xpr-local$([ "$XPR_WITH_NETNS" = 1 ] && echo ,xpr-hostA,xpr-hostB)
export XPR_SLURM=$XPR_WITH_SLURM
export XPR_SLURMDBD=$XPR_WITH_SLURMDBD
export XPR_SLURM_SSH_HOSTS=$slurm_hosts
export XPR_SLURM_PARTITIONS=debug,short,tiny
export XPR_SLURM_DEFAULT_PARTITION=debug
export XPR_SLURM_CPUS=$XPR_SLURM_CPUS
export XPR_SGE=$XPR_WITH_SGE
export XPR_SGE_MODE=$XPR_SGE_MODE
export XPR_SGE_SSH_HOST=$sge_host
export XPR_SGE_SSH_HOSTS=$sge_hosts
export XPR_SGE_QUEUE=all.q
export XPR_SGE_PE=smp
export XPR_SGE_SLOTS=$XPR_SGE_SLOTS
export XPR_SGE_ROOT=$SGE_ROOT
export XPR_SGE_CELL_LOCAL=$SGE_LOCAL_CELL
export XPR_SGE_CELL_HOSTB=$SGE_HOSTB_CELL
export XPR_NETNS=$XPR_WITH_NETNS
export XPR_HOSTA=$HOSTA_IP
export XPR_HOSTB=$HOSTB_IP
export XPR_HOSTA_NETNS=$HOSTA_NS
export XPR_HOSTB_NETNS=$HOSTB_NS
export XPR_HOSTNAME=$HOST
export XPR_SIM_SSH_HOST=$([ "$XPR_WITH_NETNS" = 1 ] && echo xpr-sim)
export XPR_SIM_USER=$XPR_SIM_USER
export XPR_SIM_USER_HOME=$(getent passwd "$XPR_SIM_USER" | cut -d: -f6)
export XPR_BAD_SSH_HOST=xpr-bad
export XPR_BAD_USER=$XPR_BAD_USER
EOF
  state_set SETUP_DONE 1
}

main "$@"
