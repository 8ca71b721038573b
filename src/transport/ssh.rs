//! [`SshTransport`]: commands on a remote host through one OpenSSH ControlMaster connection per
//! host, shared by every operation of the process.
//!
//! # Connections
//!
//! xpr drives the user's own OpenSSH client, so `~/.ssh/config`, ProxyJump, agents, Kerberos and
//! host key checking behave exactly as in their terminal (xpr never sets
//! `StrictHostKeyChecking`). Per host ([`SshTarget`]: host, remote shell, control directory) the
//! process keeps one [`Connection`] in a registry; every [`SshTransport`] for that target shares
//! it. A connection's master is, in order of preference:
//!
//! 1. a master the user opened by hand with `xpr connect SYSTEM` ([`open_user_master`]), found at
//!    the well-known control path [`SshTarget::user_control_path`]
//!    (`~/.xpr/ssh/<16 hex digits of a hash of program, options and host>`). This is the only
//!    way into clusters with two-factor login. xpr uses it and never closes it;
//!    `xpr disconnect SYSTEM` ([`close_user_master`]) does.
//! 2. a master this process starts itself: `ssh <options> -M -S <dir>/<hash>.<pid>.<n> -f -N
//!    -o ControlPersist=<idle> -o BatchMode=yes -o ServerAliveInterval=15
//!    -o ServerAliveCountMax=4 -- host`, stderr to `<socket>.log`. It is closed by
//!    [`Transport::close`], best effort when the last handle is dropped, and by itself after
//!    `ControlPersist` idle seconds (default 600) if the process dies.
//!
//! Each command is a new session on the master (`openssh`'s native mux client, one Unix socket
//! connection, no new process), carrying [`CommandSpec::to_shell_line`] as the remote command.
//! At most `max_sessions` (default 8) run at once per connection, below sshd's default
//! `MaxSessions` of 10.
//!
//! # Failures and retries
//!
//! See [`retry`](super::Retry) for the rules. Connection problems are read from ssh's own
//! messages and typed ([`TransportErrorKind`]); a command whose session cannot be opened means
//! the master is gone: it is forgotten, a new one is made and the command sent again (it never
//! started). A command running when the master dies gets a dead-master check (the mux protocol
//! cannot tell "killed by a signal" from "connection dropped") and is repeated only with
//! [`Retry::Safe`].
//!
//! # Remote shell
//!
//! The remote login shell parses the command line, so it must be a POSIX shell (sh, bash, zsh,
//! ksh): csh does not accept newlines inside quotes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use openssh::Session;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

use super::pump::{PumpError, pump};
use super::{
    BoxFuture, DynRead, DynWrite, RemoteShell, Retry, RetryPolicy, Transport, TransportError,
    TransportErrorKind,
};
use crate::command::{CommandOutput, CommandSpec};

/// Longest control socket path accepted: Linux allows 107 bytes, and ssh binds to
/// `<path>.<16 random characters>` before renaming.
const MAX_CONTROL_PATH: usize = 107 - 17;

/// Default cap of concurrent sessions per connection (sshd's `MaxSessions` defaults to 10).
pub const DEFAULT_MAX_SESSIONS: usize = 8;

/// Default idle time after which a master this process started exits on its own.
pub const DEFAULT_CONTROL_PERSIST: Duration = Duration::from_secs(600);

/// The default directory of control sockets: `~/.xpr/ssh`.
pub fn default_control_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".xpr").join("ssh"))
}

/// Where and how to reach a remote host: the ssh destination, the remote shell command and the
/// directory of control sockets. The registry key of connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SshTarget {
    host: String,
    shell: RemoteShell,
    control_dir: PathBuf,
}

impl SshTarget {
    /// A target for `host` (`[user@]host`, an alias of the ssh config), reached with the remote
    /// shell `remsh_cmd` (else `$EXPYRE_RSH`, else `ssh`), control sockets in `~/.xpr/ssh`.
    pub fn new(host: &str, remsh_cmd: Option<&str>) -> Result<Self, TransportError> {
        let shell = RemoteShell::from_setting(remsh_cmd).map_err(|e| {
            TransportError::new(host, TransportErrorKind::InvalidRemoteShell)
                .with_detail(e.to_string())
                .with_source(e)
        })?;
        Self::with_shell(host, shell)
    }

    /// A target for `host` with an already parsed remote shell.
    pub fn with_shell(host: &str, shell: RemoteShell) -> Result<Self, TransportError> {
        // The host goes on ssh's command line after `--`; still refuse what cannot be a host.
        if host.is_empty()
            || host.starts_with('-')
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(
                TransportError::new(host, TransportErrorKind::NameNotResolved)
                    .with_detail(format!("{host:?} is not a valid ssh destination")),
            );
        }
        let control_dir = default_control_dir().ok_or_else(|| {
            TransportError::new(host, TransportErrorKind::Io)
                .with_detail("HOME is not set, so there is no ~/.xpr/ssh for control sockets")
        })?;
        Ok(Self {
            host: host.to_owned(),
            shell,
            control_dir,
        })
    }

    /// The same target with control sockets in `dir` (keep it short: socket paths are limited
    /// to about 90 bytes).
    pub fn with_control_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.control_dir = dir.into();
        self
    }

    /// The ssh destination.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The remote shell (ssh program and options).
    pub fn shell(&self) -> &RemoteShell {
        &self.shell
    }

    /// The directory of control sockets.
    pub fn control_dir(&self) -> &Path {
        &self.control_dir
    }

    /// The well-known control path of a master opened by `xpr connect`
    /// (`<control dir>/<hash>`); later runs look there first.
    pub fn user_control_path(&self) -> PathBuf {
        self.control_dir.join(self.hash())
    }

    /// 16 hex digits identifying program, options and host (short enough for socket paths).
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"xpr-ssh-v1\0");
        h.update(self.shell.program().as_bytes());
        for option in self.shell.options() {
            h.update(b"\0");
            h.update(option.as_bytes());
        }
        h.update(b"\0\0");
        h.update(self.host.as_bytes());
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `ssh <options>` as a std command (for the blocking user-master functions).
    fn std_ssh(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(self.shell.program());
        cmd.args(self.shell.options());
        cmd
    }

    fn error(&self, kind: TransportErrorKind) -> TransportError {
        TransportError::new(&self.host, kind).with_ssh_command(self.shell.render(&self.host))
    }

    fn ensure_control_dir(&self) -> Result<(), TransportError> {
        let io = |what: &str, e| {
            TransportError::io(&self.host, None, what, e)
                .with_detail(format!("{what} {}", self.control_dir.display()))
        };
        std::fs::create_dir_all(&self.control_dir)
            .map_err(|e| io("cannot create the control directory", e))?;
        // Anyone who can open a control socket can run commands as the user on the host.
        std::fs::set_permissions(&self.control_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("cannot restrict the control directory", e))
    }

    fn check_socket_path(&self, path: &Path) -> Result<(), TransportError> {
        if path.as_os_str().len() > MAX_CONTROL_PATH {
            return Err(self
                .error(TransportErrorKind::ConnectFailed)
                .with_detail(format!(
                    "control socket path {} is longer than {MAX_CONTROL_PATH} bytes",
                    path.display()
                ))
                .with_hint("use a shorter control directory"));
        }
        Ok(())
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shell.render(&self.host))
    }
}

/// Whether a master opened by `xpr connect` is running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterStatus {
    /// A master answers on the control path.
    Running {
        /// The well-known control path.
        control_path: PathBuf,
        /// The master's process id, as `ssh -O check` reports it.
        pid: Option<u32>,
    },
    /// No master answers there.
    NotRunning {
        /// The well-known control path.
        control_path: PathBuf,
    },
}

/// Is a user-opened master (`xpr connect`) running for `target`? Runs `ssh -O check`.
pub fn user_master_status(target: &SshTarget) -> MasterStatus {
    let control_path = target.user_control_path();
    let pid = if control_path.exists() {
        check_master(target, &control_path)
    } else {
        None
    };
    match pid {
        Some(pid) => MasterStatus::Running { control_path, pid },
        None => MasterStatus::NotRunning { control_path },
    }
}

/// `ssh -S path -O check host`: `Some(pid)` when a master answers (`pid` itself may be unknown).
fn check_master(target: &SshTarget, control_path: &Path) -> Option<Option<u32>> {
    let out = target
        .std_ssh()
        .arg("-S")
        .arg(control_path)
        .args(["-O", "check", "--"])
        .arg(&target.host)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // "Master running (pid=12345)"
    let text = String::from_utf8_lossy(&out.stderr);
    let pid = text
        .split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|p| p.trim().parse().ok());
    Some(pid)
}

/// `xpr connect SYSTEM`: opens a master for `target` at its well-known control path with
/// `ssh <options> -M -S <path> -o ControlPersist=yes -f -N -- host`, in the foreground, so that
/// the user answers password, two-factor and host key prompts in the terminal. Blocking.
///
/// Returns the control path; a master already running there is reused. It stays up until
/// [`close_user_master`] (`xpr disconnect`), the network drops, or the host ends it.
pub fn open_user_master(target: &SshTarget) -> Result<PathBuf, TransportError> {
    if let MasterStatus::Running { control_path, .. } = user_master_status(target) {
        return Ok(control_path);
    }
    target.ensure_control_dir()?;
    let path = target.user_control_path();
    target.check_socket_path(&path)?;
    // A socket left by a master that died would make ssh refuse to listen ("already exists").
    let _ = std::fs::remove_file(&path);
    let status = target
        .std_ssh()
        .arg("-M")
        .arg("-S")
        .arg(&path)
        .args(["-o", "ControlPersist=yes", "-f", "-N", "--"])
        .arg(&target.host)
        .status()
        .map_err(|e| launch_error(target, e))?;
    if !status.success() {
        return Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(format!("ssh exited with {status}; its messages are above")));
    }
    match user_master_status(target) {
        MasterStatus::Running { control_path, .. } => Ok(control_path),
        MasterStatus::NotRunning { control_path } => Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(format!(
                "ssh logged in but no master answers at {}",
                control_path.display()
            ))),
    }
}

/// `xpr disconnect SYSTEM`: ends the user-opened master of `target` (`ssh -O exit`). Returns
/// false when none was running. Blocking.
pub fn close_user_master(target: &SshTarget) -> Result<bool, TransportError> {
    let path = target.user_control_path();
    if matches!(user_master_status(target), MasterStatus::NotRunning { .. }) {
        let _ = std::fs::remove_file(&path);
        return Ok(false);
    }
    let out = target
        .std_ssh()
        .arg("-S")
        .arg(&path)
        .args(["-O", "exit", "--"])
        .arg(&target.host)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| launch_error(target, e))?;
    if !out.status.success() {
        return Err(target
            .error(TransportErrorKind::ConnectFailed)
            .with_detail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Ok(true)
}

fn launch_error(target: &SshTarget, e: std::io::Error) -> TransportError {
    target
        .error(TransportErrorKind::InvalidRemoteShell)
        .with_detail(format!("cannot run {:?}: {e}", target.shell.program()))
        .with_hint("install OpenSSH's ssh, or fix remsh_cmd / EXPYRE_RSH")
        .with_source(e)
}

/// Turns what ssh printed when it failed to connect into a typed error.
fn classify_ssh_failure(target: &SshTarget, log: &str) -> TransportError {
    // ssh's messages are stable across OpenSSH versions (the `openssh` crate reads the same).
    const PATTERNS: &[(&str, TransportErrorKind)] = &[
        (
            "could not resolve hostname",
            TransportErrorKind::NameNotResolved,
        ),
        (
            "identification has changed",
            TransportErrorKind::HostKeyChanged,
        ),
        ("host key for", TransportErrorKind::HostKeyChanged), // "... has changed and you have requested strict checking"
        ("host key is known for", TransportErrorKind::HostKeyUnknown), // "No ED25519 host key is known for ..."
        (
            "host key verification failed",
            TransportErrorKind::HostKeyUnknown,
        ),
        ("permission denied (", TransportErrorKind::AuthRefused),
        (
            "too many authentication failures",
            TransportErrorKind::AuthRefused,
        ),
        ("connection refused", TransportErrorKind::HostUnreachable),
        ("no route to host", TransportErrorKind::HostUnreachable),
        (
            "network is unreachable",
            TransportErrorKind::HostUnreachable,
        ),
        ("connection timed out", TransportErrorKind::HostUnreachable),
        ("operation timed out", TransportErrorKind::HostUnreachable),
    ];
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    for (pattern, kind) in PATTERNS {
        if let Some(line) = lines.iter().find(|l| l.to_lowercase().contains(pattern)) {
            return target.error(kind.clone()).with_detail(*line);
        }
    }
    let detail = lines
        .last()
        .copied()
        .unwrap_or("ssh exited without a message");
    target
        .error(TransportErrorKind::ConnectFailed)
        .with_detail(detail)
}

/// A live master connection.
struct Master {
    session: Arc<Session>,
    control_path: PathBuf,
    log: Option<PathBuf>,
    /// Started by this process (so closed by it), as opposed to opened by `xpr connect`.
    owned: bool,
    generation: u64,
}

#[derive(Default)]
struct State {
    master: Option<Arc<Master>>,
    generation: u64,
}

/// One host's shared connection: the master (made on demand, remade when it dies) and the
/// session cap.
struct Connection {
    target: SshTarget,
    retry: RetryPolicy,
    control_persist: Duration,
    sessions: Semaphore,
    state: AsyncMutex<State>,
}

/// Connections of this process by target: one per host, alive while some transport holds it.
static REGISTRY: LazyLock<Mutex<HashMap<SshTarget, Weak<Connection>>>> =
    LazyLock::new(Default::default);

impl Connection {
    fn shared(builder: &SshTransportBuilder, retry: RetryPolicy) -> Arc<Self> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry.retain(|_, conn| conn.strong_count() > 0);
        if let Some(conn) = registry.get(&builder.target).and_then(Weak::upgrade) {
            return conn;
        }
        let conn = Arc::new(Self {
            target: builder.target.clone(),
            retry,
            control_persist: builder.control_persist,
            sessions: Semaphore::new(builder.max_sessions),
            state: AsyncMutex::new(State::default()),
        });
        registry.insert(builder.target.clone(), Arc::downgrade(&conn));
        conn
    }

    /// The current master, connecting first when there is none.
    async fn master(&self) -> Result<Arc<Master>, TransportError> {
        let mut state = self.state.lock().await;
        if let Some(master) = &state.master {
            return Ok(master.clone());
        }
        state.generation += 1;
        let master = Arc::new(self.establish(state.generation).await?);
        state.master = Some(master.clone());
        Ok(master)
    }

    /// Drops `dead` as the current master (unless another task already replaced it).
    async fn forget(&self, dead: &Master) {
        let mut state = self.state.lock().await;
        if state
            .master
            .as_ref()
            .is_some_and(|m| m.generation == dead.generation)
        {
            let master = state.master.take().expect("checked above");
            drop(state);
            tracing::info!(host = %self.target.host, "ssh master connection lost; reconnecting");
            self.retire(&master).await;
        }
    }

    /// Ends a master this process started (best effort) and removes its files.
    async fn retire(&self, master: &Master) {
        if !master.owned {
            return;
        }
        let _ = tokio::process::Command::new(self.target.shell.program())
            .args(self.target.shell.options())
            .arg("-S")
            .arg(&master.control_path)
            .args(["-O", "exit", "--"])
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        remove_master_files(master);
    }

    /// Finds or starts a master, retrying transient failures per the policy.
    async fn establish(&self, generation: u64) -> Result<Master, TransportError> {
        let mut attempt = 1;
        loop {
            if let Some(master) = self.resume_user_master(generation).await {
                return Ok(master);
            }
            match self.launch(generation).await {
                Ok(master) => return Ok(master),
                Err(e) if e.is_transient() && attempt < self.retry.attempts => {
                    tracing::warn!(
                        host = %self.target.host, attempt, "connecting failed, will retry: {e}"
                    );
                    attempt += 1;
                    tokio::time::sleep(self.retry.delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The master of `xpr connect`, if one answers at the well-known path.
    async fn resume_user_master(&self, generation: u64) -> Option<Master> {
        let path = self.target.user_control_path();
        if !path.exists() {
            return None;
        }
        let session = Session::resume_mux(path.clone().into_boxed_path(), None);
        session.check().await.ok()?;
        tracing::debug!(host = %self.target.host, path = %path.display(), "using the master opened by xpr connect");
        Some(Master {
            session: Arc::new(session),
            control_path: path,
            log: None,
            owned: false,
            generation,
        })
    }

    /// Starts this process's own master in the background (`ssh -M -f -N`).
    async fn launch(&self, generation: u64) -> Result<Master, TransportError> {
        let target = &self.target;
        target.ensure_control_dir()?;
        let name = format!("{}.{}.{generation}", target.hash(), std::process::id());
        let control_path = target.control_dir.join(&name);
        target.check_socket_path(&control_path)?;
        let log = target.control_dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&control_path);
        // ssh's stderr goes to a file, not a pipe: with -f the backgrounded master keeps it open,
        // and reading a pipe to its end would wait for the master to exit.
        let log_file = std::fs::File::create(&log)
            .map_err(|e| TransportError::io(&target.host, None, "cannot create the ssh log", e))?;
        // User options come first: for `-o` settings ssh keeps the first value it sees, so
        // theirs win over our keep-alive defaults (Control* ones are refused when parsing).
        let status = tokio::process::Command::new(target.shell.program())
            .args(target.shell.options())
            .arg("-M")
            .arg("-S")
            .arg(&control_path)
            .args(["-f", "-N", "-o"])
            .arg(format!(
                "ControlPersist={}",
                self.control_persist.as_secs().max(1)
            ))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=4",
                "--",
            ])
            .arg(&target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .status()
            .await
            .map_err(|e| launch_error(target, e))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_file(&control_path);
            return Err(classify_ssh_failure(target, &text));
        }
        tracing::debug!(host = %target.host, path = %control_path.display(), "ssh master started");
        let session = Session::resume_mux(
            control_path.clone().into_boxed_path(),
            Some(log.clone().into_boxed_path()),
        );
        Ok(Master {
            session: Arc::new(session),
            control_path,
            log: Some(log),
            owned: true,
            generation,
        })
    }
}

fn remove_master_files(master: &Master) {
    if master.owned {
        let _ = std::fs::remove_file(&master.control_path);
        if let Some(log) = &master.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Best effort: the last handle is gone without close(). `ssh -O exit` is a local
        // socket round trip, quick enough to block on here.
        let Some(master) = self.state.get_mut().master.take() else {
            return;
        };
        if master.owned {
            let result = self
                .target
                .std_ssh()
                .arg("-S")
                .arg(&master.control_path)
                .args(["-O", "exit", "--"])
                .arg(&self.target.host)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Err(e) = result {
                tracing::warn!(host = %self.target.host, "cannot close the ssh master: {e}");
            }
            remove_master_files(&master);
        }
    }
}

/// Options of an [`SshTransport`]; [`connect`](SshTransportBuilder::connect) makes it.
#[derive(Clone, Debug)]
pub struct SshTransportBuilder {
    target: SshTarget,
    retry: Option<RetryPolicy>,
    max_sessions: usize,
    control_persist: Duration,
}

impl SshTransportBuilder {
    /// Options for `target`, all defaults.
    pub fn new(target: SshTarget) -> Self {
        Self {
            target,
            retry: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            control_persist: DEFAULT_CONTROL_PERSIST,
        }
    }

    /// Attempts and delay for reconnecting and for [`Retry::Safe`] commands. Default:
    /// `EXPYRE_RETRY`, else 3 attempts 5 s apart.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Cap of concurrent sessions on the connection, clamped to 1..=10 (sshd's default
    /// `MaxSessions`). Default 8.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n.clamp(1, 10);
        self
    }

    /// How long a master this process started stays up once idle, even after the process is
    /// gone (ssh's `ControlPersist`). Default 10 minutes.
    pub fn control_persist(mut self, idle: Duration) -> Self {
        self.control_persist = idle;
        self
    }

    /// The transport, sharing this process's connection to the target if there is one
    /// (whose options then stay as they were), and connected: connection errors show here.
    pub async fn connect(self) -> Result<SshTransport, TransportError> {
        let retry = match self.retry {
            Some(policy) => policy,
            None => RetryPolicy::from_env().map_err(|e| {
                TransportError::new(&self.target.host, TransportErrorKind::InvalidRetryPolicy)
                    .with_detail(e.to_string())
                    .with_source(e)
            })?,
        };
        let conn = Connection::shared(&self, retry);
        conn.master().await?;
        Ok(SshTransport { conn })
    }
}

/// Runs commands on a remote host over the process's shared OpenSSH master connection.
///
/// Cheap to clone; all clones (and all transports made for the same [`SshTarget`]) share one
/// connection.
#[derive(Clone)]
pub struct SshTransport {
    conn: Arc<Connection>,
}

impl fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTransport")
            .field("target", &self.conn.target)
            .finish_non_exhaustive()
    }
}

/// Why one attempt at a command failed.
enum Attempt {
    /// The session could not be opened: the master is gone, the command never ran.
    NotStarted(TransportError),
    /// The connection dropped while the command ran.
    Dropped(TransportError),
    /// Anything else: give up.
    Fatal(TransportError),
}

impl SshTransport {
    /// Connects to `target` with default options (see [`SshTransportBuilder`]).
    pub async fn connect(target: SshTarget) -> Result<Self, TransportError> {
        SshTransportBuilder::new(target).connect().await
    }

    /// Options for a transport to `target`.
    pub fn builder(target: SshTarget) -> SshTransportBuilder {
        SshTransportBuilder::new(target)
    }

    /// The target this transport reaches.
    pub fn target(&self) -> &SshTarget {
        &self.conn.target
    }

    /// The control socket of the current master, if connected (for diagnostics and tests).
    pub async fn control_path(&self) -> Option<PathBuf> {
        let state = self.conn.state.lock().await;
        state.master.as_ref().map(|m| m.control_path.clone())
    }

    /// True when the current master is one the user opened with `xpr connect`.
    pub async fn uses_user_master(&self) -> bool {
        let state = self.conn.state.lock().await;
        state.master.as_ref().is_some_and(|m| !m.owned)
    }

    /// True when `self` and `other` share one connection.
    pub fn shares_connection_with(&self, other: &SshTransport) -> bool {
        Arc::ptr_eq(&self.conn, &other.conn)
    }

    fn error(&self, kind: TransportErrorKind, cmd: &CommandSpec) -> TransportError {
        self.conn.target.error(kind).with_command(cmd)
    }

    /// Runs `cmd` once on `master`.
    async fn attempt(
        &self,
        master: &Master,
        cmd: &CommandSpec,
        reader: Option<DynRead<'_>>,
        writer: Option<DynWrite<'_>>,
    ) -> Result<CommandOutput, Attempt> {
        let line = cmd.to_shell_line();
        let mut command = Session::to_raw_command(master.session.clone(), OsStr::from_bytes(&line));
        let wants_stdin = !cmd.stdin.is_empty() || reader.is_some();
        command
            .stdin(if wants_stdin {
                openssh::Stdio::piped()
            } else {
                openssh::Stdio::null()
            })
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped());
        let mut child = match command.spawn().await {
            Ok(child) => child,
            Err(openssh::Error::InvalidCommand) => {
                return Err(Attempt::Fatal(
                    self.error(TransportErrorKind::CommandNotStarted, cmd)
                        .with_detail("an argument contains a NUL byte"),
                ));
            }
            Err(e) => {
                return Err(if master.session.check().await.is_err() {
                    Attempt::NotStarted(
                        self.error(TransportErrorKind::ConnectionDropped, cmd)
                            .with_source(e),
                    )
                } else {
                    Attempt::Fatal(
                        self.error(TransportErrorKind::CommandNotStarted, cmd)
                            .with_detail(e.to_string())
                            .with_source(e),
                    )
                });
            }
        };
        let stdin = child.stdin().take();
        let stdout = child.stdout().take().expect("stdout is piped");
        let stderr = child.stderr().take().expect("stderr is piped");
        let pumped = pump(stdin, &cmd.stdin, reader, stdout, writer, stderr).await;
        let pumped = match pumped {
            Ok(p) => p,
            Err(PumpError::Child(e)) if master.session.check().await.is_err() => {
                return Err(Attempt::Dropped(
                    self.error(TransportErrorKind::ConnectionDropped, cmd)
                        .with_source(e),
                ));
            }
            Err(e) => {
                let what = e.describe();
                return Err(Attempt::Fatal(TransportError::io(
                    &self.conn.target.host,
                    Some(cmd),
                    what,
                    e.into_io(),
                )));
            }
        };
        let code = match child.wait().await {
            Ok(status) => status.code(),
            // The native mux client reports exit code 127 as an error; it is an exit code.
            Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => Some(127),
            // The mux protocol cannot tell a signal from a dropped connection: ask the master.
            Err(e) => {
                if master.session.check().await.is_err() {
                    return Err(Attempt::Dropped(
                        self.error(TransportErrorKind::ConnectionDropped, cmd)
                            .with_source(e),
                    ));
                }
                match e {
                    openssh::Error::RemoteProcessTerminated => None,
                    e => {
                        return Err(Attempt::Fatal(
                            self.error(TransportErrorKind::Io, cmd)
                                .with_detail(e.to_string())
                                .with_source(e),
                        ));
                    }
                }
            }
        };
        Ok(CommandOutput {
            code,
            stdout: pumped.stdout,
            stderr: pumped.stderr,
        })
    }

    /// Runs `cmd`, reconnecting and repeating it per the retry rules.
    async fn exec(
        &self,
        cmd: &CommandSpec,
        retry: Retry,
        mut reader: Option<DynRead<'_>>,
        mut writer: Option<DynWrite<'_>>,
    ) -> Result<CommandOutput, TransportError> {
        let policy = self.conn.retry;
        let mut runs = 0;
        let mut reconnects = 0;
        loop {
            let permit = self
                .conn
                .sessions
                .acquire()
                .await
                .expect("the session semaphore is never closed");
            let master = self.conn.master().await.map_err(|e| e.with_command(cmd))?;
            let result = self
                .attempt(
                    &master,
                    cmd,
                    reborrow_read(&mut reader),
                    reborrow_write(&mut writer),
                )
                .await;
            drop(permit);
            match result {
                Ok(out) => return Ok(out),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::NotStarted(e)) => {
                    // Nothing ran and no input was consumed: reconnect and send it again.
                    self.conn.forget(&master).await;
                    reconnects += 1;
                    if reconnects > policy.attempts {
                        return Err(e);
                    }
                }
                Err(Attempt::Dropped(e)) => {
                    self.conn.forget(&master).await;
                    runs += 1;
                    if retry == Retry::Never || runs >= policy.attempts {
                        return Err(e);
                    }
                    tracing::warn!(
                        host = %self.conn.target.host, command = %cmd,
                        "connection dropped while the command ran; running it again"
                    );
                    tokio::time::sleep(policy.delay).await;
                }
            }
        }
    }
}

/// A shorter-lived borrow of a streamed input, so a loop can lend it to each attempt.
fn reborrow_read<'b>(reader: &'b mut Option<DynRead<'_>>) -> Option<DynRead<'b>> {
    match reader {
        Some(r) => Some(&mut **r),
        None => None,
    }
}

/// A shorter-lived borrow of a streamed output, so a loop can lend it to each attempt.
fn reborrow_write<'b>(writer: &'b mut Option<DynWrite<'_>>) -> Option<DynWrite<'b>> {
    match writer {
        Some(w) => Some(&mut **w),
        None => None,
    }
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.conn.target.host
    }

    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        retry: Retry,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(self.exec(cmd, retry, None, None))
    }

    fn run_streaming<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        stdin: Option<DynRead<'a>>,
        stdout: Option<DynWrite<'a>>,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(self.exec(cmd, Retry::Never, stdin, stdout))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            let master = self.conn.state.lock().await.master.take();
            if let Some(master) = master {
                self.conn.retire(&master).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, remsh: &str) -> SshTarget {
        SshTarget::new(host, Some(remsh))
            .unwrap()
            .with_control_dir("/tmp/x")
    }

    #[test]
    fn control_paths_are_short_and_distinct() {
        let a = target("hpc", "ssh");
        let b = target("hpc", "ssh -p 2222");
        let c = target("other", "ssh");
        assert_eq!(
            a.user_control_path(),
            target("hpc", "ssh").user_control_path()
        );
        assert_ne!(a.user_control_path(), b.user_control_path());
        assert_ne!(a.user_control_path(), c.user_control_path());
        let name = a.user_control_path().file_name().unwrap().len();
        assert_eq!(name, 16);
    }

    #[test]
    fn bad_destinations_are_refused() {
        for host in ["", "-oProxyCommand=x", "a b", "a\nb"] {
            assert!(SshTarget::new(host, Some("ssh")).is_err(), "{host:?}");
        }
        let e = SshTarget::new("hpc", Some("ssh hpc")).unwrap_err();
        assert_eq!(e.kind(), &TransportErrorKind::InvalidRemoteShell);
    }

    #[test]
    fn ssh_messages_become_kinds() {
        let t = target("xpr-hostA", "ssh -F cfg");
        for (log, kind) in [
            (
                "ssh: Could not resolve hostname nope: Name or service not known",
                TransportErrorKind::NameNotResolved,
            ),
            (
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.",
                TransportErrorKind::HostKeyUnknown,
            ),
            (
                "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@",
                TransportErrorKind::HostKeyChanged,
            ),
            (
                "Warning: Permanently added 'x' (ED25519) to the list of known hosts.\r\nxprtest@127.0.0.1: Permission denied (publickey).",
                TransportErrorKind::AuthRefused,
            ),
            (
                "ssh: connect to host 127.0.0.1 port 2223: Connection refused",
                TransportErrorKind::HostUnreachable,
            ),
            ("something new", TransportErrorKind::ConnectFailed),
        ] {
            assert_eq!(classify_ssh_failure(&t, log).kind(), &kind, "{log}");
        }
        let e = classify_ssh_failure(&t, "Host key verification failed.");
        assert_eq!(
            e.to_string(),
            "host key for xpr-hostA is not known: Host key verification failed. (hint: run \
             `ssh -F cfg xpr-hostA` once to accept it, or add it to known_hosts)"
        );
    }
}
