//! [`SshTransport`]: commands on a remote host through one OpenSSH ControlMaster connection per
//! host, shared by every operation of the process.
//!
//! # Connections
//!
//! xpr drives the user's own OpenSSH client, so `~/.ssh/config`, ProxyJump, agents, Kerberos and
//! host key checking behave exactly as in their terminal (xpr never sets
//! `StrictHostKeyChecking`). Per host ([`SshTarget`]: host, remote shell, control directory) the
//! process keeps one connection in a registry (`ssh/master.rs`); every [`SshTransport`] for that target shares
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
//! See [`Retry`] for the rules. Connection problems are read from ssh's own
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

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openssh::Session;

use super::pump::{PumpError, pump};
use super::{
    BoxFuture, DynRead, DynWrite, Retry, RetryPolicy, Transport, TransportError, TransportErrorKind,
};
use crate::command::{CommandOutput, CommandSpec};

mod master;
mod target;

use master::{Connection, Master};
pub use target::{
    MasterStatus, SshTarget, close_user_master, default_control_dir, open_user_master,
    user_master_status,
};

/// Default cap of concurrent sessions per connection (sshd's `MaxSessions` defaults to 10).
pub const DEFAULT_MAX_SESSIONS: usize = 8;

/// Default idle time after which a master this process started exits on its own.
pub const DEFAULT_CONTROL_PERSIST: Duration = Duration::from_secs(600);

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
        let conn = Connection::shared(&self.target, retry, self.max_sessions, self.control_persist);
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

    /// Ends the master connection, unless another transport of this process still uses it
    /// (transports of one target share it: one session closing must not cut another's
    /// commands); the last one to close ends it.
    fn close(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            if Arc::strong_count(&self.conn) > 1 {
                return Ok(());
            }
            let master = self.conn.state.lock().await.master.take();
            if let Some(master) = master {
                self.conn.retire(&master).await;
            }
            Ok(())
        })
    }
}
