//! The one error type of the transports: which host, which command, what went wrong (a kind
//! the caller can match on), what the other side said, and what the user can do about it.
//!
//! Messages are built from the kind, so every error of a kind reads the same way:
//! `host key for xpr-hostA is not known: Host key verification failed. (hint: run `ssh
//! xpr-hostA` once to accept it, or add it to known_hosts)`.

use std::fmt;
use std::io;

use crate::command::{CommandOutput, CommandSpec};

/// What went wrong, for callers that react differently (retry, ask the user, give up).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name does not resolve (DNS, or no `HostName` for an alias).
    NameNotResolved,
    /// The host did not answer: connection refused or timed out, no route, network down.
    HostUnreachable,
    /// The host refused every authentication method offered (`Permission denied (publickey)`).
    AuthRefused,
    /// The host's key is not in known_hosts and the ssh config does not allow adding it.
    HostKeyUnknown,
    /// The host's key differs from the one in known_hosts.
    HostKeyChanged,
    /// The connection broke while a command ran; the command was not repeated (or every
    /// allowed repeat failed too). Whether it had an effect is unknown.
    ConnectionDropped,
    /// Connecting failed for another reason; `detail` has what ssh said.
    ConnectFailed,
    /// The command could not be started (program missing locally, NUL byte in an argument,
    /// the SSH server refused a session).
    CommandNotStarted,
    /// The command ran and failed (only from helpers that require success, such as
    /// [`Transport::upload`](super::Transport::upload)); `None` means killed by a signal.
    CommandFailed {
        /// Its exit code, `None` when killed by a signal.
        code: Option<i32>,
    },
    /// Reading or writing local data (a streamed input or output, a control directory) failed.
    Io,
    /// The remote shell command (`remsh_cmd` / `EXPYRE_RSH`) cannot be honoured.
    InvalidRemoteShell,
    /// `EXPYRE_RETRY` does not parse.
    InvalidRetryPolicy,
}

/// A transport failure, with the host, the rendered command and a hint where the user can act.
///
/// Boxed inside, so `Result<_, TransportError>` stays one pointer wide.
#[derive(Debug)]
pub struct TransportError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    host: String,
    command: Option<String>,
    kind: TransportErrorKind,
    detail: Option<String>,
    hint: Option<String>,
    ssh_command: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A new error of `kind` on `host`; add context with the `with_*` methods.
    pub fn new(host: impl Into<String>, kind: TransportErrorKind) -> Self {
        Self(Box::new(Inner {
            host: host.into(),
            command: None,
            kind,
            detail: None,
            hint: None,
            ssh_command: None,
            source: None,
        }))
    }

    /// Names the command that was running (its pasteable shell line).
    pub fn with_command(mut self, cmd: &CommandSpec) -> Self {
        self.0.command = Some(cmd.to_string());
        self
    }

    /// Adds what the other side said (ssh's message, the command's stderr).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let detail = detail.trim();
        if !detail.is_empty() {
            self.0.detail = Some(detail.to_owned());
        }
        self
    }

    /// Replaces the default hint of the kind.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Names the ssh command that reaches the host (`ssh -F cfg xpr-hostA`), for hints.
    pub fn with_ssh_command(mut self, ssh_command: impl Into<String>) -> Self {
        self.0.ssh_command = Some(ssh_command.into());
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    pub(crate) fn io(host: &str, cmd: Option<&CommandSpec>, what: &str, err: io::Error) -> Self {
        let mut e = Self::new(host, TransportErrorKind::Io).with_detail(what);
        if let Some(cmd) = cmd {
            e = e.with_command(cmd);
        }
        e.with_source(err)
    }

    pub(crate) fn command_failed(host: &str, cmd: &CommandSpec, out: &CommandOutput) -> Self {
        // The last lines of stderr are what a user needs; a chatty command can write megabytes.
        let stderr = out.stderr_text();
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Self::new(host, TransportErrorKind::CommandFailed { code: out.code })
            .with_command(cmd)
            .with_detail(tail.join("\n"))
    }

    /// The host (`local` for this machine).
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// The command that was running, as a pasteable shell line, if any.
    pub fn command(&self) -> Option<&str> {
        self.0.command.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &TransportErrorKind {
        &self.0.kind
    }

    /// What the other side said, if anything.
    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// What the user can do, if anything.
    pub fn hint(&self) -> Option<String> {
        if let Some(hint) = &self.0.hint {
            return Some(hint.clone());
        }
        let host = &self.0.host;
        let ssh = self
            .0
            .ssh_command
            .clone()
            .unwrap_or_else(|| format!("ssh {host}"));
        let hint = match &self.0.kind {
            TransportErrorKind::NameNotResolved => format!(
                "check the spelling of the system's host, or give `{host}` a HostName in ~/.ssh/config"
            ),
            TransportErrorKind::HostUnreachable => {
                format!("check the network or VPN, and that `{ssh}` works in a terminal")
            }
            TransportErrorKind::AuthRefused => format!(
                "check that `{ssh}` logs in without a prompt: load your key with `ssh-add` or \
                 set IdentityFile in ~/.ssh/config; for a host with two-factor login, run \
                 `xpr connect SYSTEM` first"
            ),
            TransportErrorKind::HostKeyUnknown => {
                format!("run `{ssh}` once to accept it, or add it to known_hosts")
            }
            TransportErrorKind::HostKeyChanged => format!(
                "if the host's administrators changed its key, remove the old one with \
                 `ssh-keygen -R HOSTNAME` and run `{ssh}` once; otherwise do not connect"
            ),
            TransportErrorKind::ConnectionDropped => {
                "the command may or may not have taken effect; check before running it again"
                    .to_owned()
            }
            TransportErrorKind::ConnectFailed => {
                format!("run `{ssh}` in a terminal to see why")
            }
            TransportErrorKind::InvalidRemoteShell => {
                "remsh_cmd / EXPYRE_RSH must be an OpenSSH `ssh` with options only, \
                 e.g. `ssh -p 2222 -F ~/.ssh/cluster_config`"
                    .to_owned()
            }
            TransportErrorKind::InvalidRetryPolicy => {
                "set EXPYRE_RETRY to 'N T': N attempts (at least 1), T seconds apart, e.g. '3 5'"
                    .to_owned()
            }
            TransportErrorKind::CommandNotStarted
            | TransportErrorKind::CommandFailed { .. }
            | TransportErrorKind::Io => return None,
        };
        Some(hint)
    }

    /// True for failures that may go away by themselves (unreachable host, dropped or failed
    /// connection): those are worth another attempt. Name, key and auth failures are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.0.kind,
            TransportErrorKind::HostUnreachable
                | TransportErrorKind::ConnectionDropped
                | TransportErrorKind::ConnectFailed
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.0.host;
        match &self.0.kind {
            TransportErrorKind::NameNotResolved => {
                write!(f, "cannot resolve the host name of {host}")?
            }
            TransportErrorKind::HostUnreachable => write!(f, "cannot reach {host}")?,
            TransportErrorKind::AuthRefused => {
                write!(f, "{host} refused the login (authentication failed)")?
            }
            TransportErrorKind::HostKeyUnknown => write!(f, "host key for {host} is not known")?,
            TransportErrorKind::HostKeyChanged => write!(
                f,
                "host key for {host} has changed since it was accepted (possible attack)"
            )?,
            TransportErrorKind::ConnectionDropped => write!(f, "connection to {host} dropped")?,
            TransportErrorKind::ConnectFailed => write!(f, "cannot connect to {host}")?,
            TransportErrorKind::CommandNotStarted => write!(f, "cannot start a command on {host}")?,
            TransportErrorKind::CommandFailed { code: Some(code) } => {
                write!(f, "command on {host} failed with exit code {code}")?
            }
            TransportErrorKind::CommandFailed { code: None } => {
                write!(f, "command on {host} was killed by a signal")?
            }
            TransportErrorKind::Io => write!(f, "i/o error on the way to {host}")?,
            TransportErrorKind::InvalidRemoteShell => {
                write!(f, "invalid remote shell command for {host}")?
            }
            TransportErrorKind::InvalidRetryPolicy => write!(f, "invalid retry policy")?,
        }
        if let Some(cmd) = &self.0.command {
            write!(f, " while running `{cmd}`")?;
        }
        if let Some(detail) = &self.0.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_says_which_and_what_to_do() {
        let e = TransportError::new("xpr-hostA", TransportErrorKind::HostKeyUnknown);
        assert_eq!(
            e.to_string(),
            "host key for xpr-hostA is not known (hint: run `ssh xpr-hostA` once to accept it, \
             or add it to known_hosts)"
        );
    }

    #[test]
    fn command_and_detail_are_shown() {
        let cmd = CommandSpec::new("sbatch").arg("job 1.sh");
        let out = CommandOutput {
            code: Some(1),
            stdout: Vec::new(),
            stderr: b"sbatch: error: invalid partition\n".to_vec(),
        };
        let e = TransportError::command_failed("hpc", &cmd, &out);
        assert_eq!(
            e.to_string(),
            "command on hpc failed with exit code 1 while running `sbatch 'job 1.sh'`: \
             sbatch: error: invalid partition"
        );
        assert_eq!(
            e.kind(),
            &TransportErrorKind::CommandFailed { code: Some(1) }
        );
    }
}
