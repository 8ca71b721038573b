//! [`LocalTransport`]: commands on this machine, as processes of their own (no SSH, no shell).
//!
//! The spec's argv is passed to the program as is (bytes, no shell in between), its environment
//! changes are applied on top of this process's environment, and its working directory is set.
//! A command that cannot be started (program not found, not executable, missing directory) is
//! a [`CommandNotStarted`](super::TransportErrorKind::CommandNotStarted) error; over SSH the
//! remote shell reports the same case as exit code 127 instead.
//!
//! There is no connection to lose, so [`Retry`] changes nothing here.

use std::process::Stdio;

use tokio::process::Command;

use super::pump::pump;
use super::{BoxFuture, DynRead, DynWrite, Retry, Transport, TransportError, TransportErrorKind};
use crate::command::{CommandOutput, CommandSpec, EnvChange};

/// Runs commands on this machine.
#[derive(Clone, Debug, Default)]
pub struct LocalTransport {
    _private: (),
}

impl LocalTransport {
    /// The host name errors show for this transport.
    pub const HOST: &'static str = "local";

    /// A transport for this machine.
    pub fn new() -> Self {
        Self::default()
    }

    async fn exec(
        &self,
        cmd: &CommandSpec,
        reader: Option<DynRead<'_>>,
        writer: Option<DynWrite<'_>>,
    ) -> Result<CommandOutput, TransportError> {
        let mut command = Command::new(&cmd.program);
        command.args(&cmd.args);
        for (key, change) in &cmd.env {
            match change {
                EnvChange::Set(value) => command.env(key, value),
                EnvChange::Unset => command.env_remove(key),
            };
        }
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        let wants_stdin = !cmd.stdin.is_empty() || reader.is_some();
        command
            .stdin(if wants_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            TransportError::new(Self::HOST, TransportErrorKind::CommandNotStarted)
                .with_command(cmd)
                .with_detail(e.to_string())
                .with_source(e)
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let pumped = pump(
            child.stdin.take(),
            &cmd.stdin,
            reader,
            stdout,
            writer,
            stderr,
        )
        .await
        .map_err(|e| {
            let what = e.describe();
            // Do not leave a child blocked on a pipe nobody reads any more.
            let _ = child.start_kill();
            TransportError::io(Self::HOST, Some(cmd), what, e.into_io())
        })?;
        let status = child.wait().await.map_err(|e| {
            TransportError::io(Self::HOST, Some(cmd), "waiting for the command failed", e)
        })?;
        Ok(CommandOutput {
            code: status.code(),
            stdout: pumped.stdout,
            stderr: pumped.stderr,
        })
    }
}

impl Transport for LocalTransport {
    fn host(&self) -> &str {
        Self::HOST
    }

    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        _retry: Retry,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(self.exec(cmd, None, None))
    }

    fn run_streaming<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        stdin: Option<DynRead<'a>>,
        stdout: Option<DynWrite<'a>>,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(self.exec(cmd, stdin, stdout))
    }
}
