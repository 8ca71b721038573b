//! Running commands and moving bytes: on this machine ([`LocalTransport`]), or on a remote host
//! over one multiplexed OpenSSH connection ([`SshTransport`]).
//!
//! A [`Transport`] takes a [`CommandSpec`] (built by a scheduler or the stage module, never
//! here) and returns a [`CommandOutput`]. A non-zero exit code is an output, not an error: only
//! the transport's own failures (cannot connect, connection dropped, cannot start the command,
//! local I/O) are [`TransportError`]s, each naming the host, the rendered command and what to do.
//!
//! Data flow:
//!
//! ```text
//! CommandSpec --to_shell_line()--> one quoted line --ssh mux session--> remote login shell
//!             \--LocalTransport--> tokio::process (argv as is, no shell)
//! local reader --stdin pipe--> command --stdout pipe--> local writer   (run_streaming)
//! ```
//!
//! Invariants:
//! - Quoting happens in one place, [`CommandSpec::to_shell_line`] with
//!   [`shell_quote`](crate::command::shell_quote); nothing here builds shell text by hand. The
//!   fixed helper scripts of [`Transport::upload`] take the path as a positional argument.
//! - Arguments are bytes: non-UTF-8 survives both transports.
//! - stdout, stderr and stdin are pumped concurrently (stderr on its own task), so a chatty child
//!   cannot deadlock on a full pipe.
//! - A command is repeated only when that is harmless: when it never started (the connection was
//!   already gone), or when the caller passed [`Retry::Safe`]. Streaming runs and [`Retry::Never`]
//!   runs (submissions) are never repeated once started.
//!
//! The trait is object safe (methods return [`BoxFuture`]; no `async-trait` crate), so layers
//! above hold an `Arc<dyn Transport>` and are tested against small fakes.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use xpr::command::{CommandOutput, CommandSpec};
//! use xpr::transport::{BoxFuture, DynRead, DynWrite, Retry, Transport, TransportError};
//!
//! /// A fake for tests of the layers above: records command lines, answers with fixed output.
//! #[derive(Debug, Default)]
//! struct Recorder {
//!     seen: Mutex<Vec<String>>,
//!     reply: CommandOutput,
//! }
//!
//! impl Transport for Recorder {
//!     fn host(&self) -> &str {
//!         "fake"
//!     }
//!     fn run<'a>(
//!         &'a self,
//!         cmd: &'a CommandSpec,
//!         _retry: Retry,
//!     ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
//!         self.seen.lock().unwrap().push(cmd.to_string());
//!         let reply = self.reply.clone();
//!         Box::pin(async move { Ok(reply) })
//!     }
//!     fn run_streaming<'a>(
//!         &'a self,
//!         cmd: &'a CommandSpec,
//!         _stdin: Option<DynRead<'a>>,
//!         _stdout: Option<DynWrite<'a>>,
//!     ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
//!         self.run(cmd, Retry::Never)
//!     }
//! }
//!
//! let fake = Arc::new(Recorder { reply: CommandOutput::success("Submitted batch job 42\n"), ..Default::default() });
//! let transport: Arc<dyn Transport> = fake.clone();
//! let submit = CommandSpec::new("sbatch").arg("job 1.sh");
//! let out = transport.run_blocking(&submit, Retry::Never).unwrap();
//! assert_eq!(out.stdout_text(), "Submitted batch job 42\n");
//! assert_eq!(fake.seen.lock().unwrap()[..], ["sbatch 'job 1.sh'"]);
//! ```

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::config::System;

mod error;
mod local;
mod pump;
mod remsh;
mod retry;
mod ssh;

/// The program behind [`Transport::upload`], kept in `upload.sh`: writes its stdin to `$1`
/// by rename.
const UPLOAD_PROGRAM: &str = shell_program!(include_str!("upload.sh"));

pub use error::{TransportError, TransportErrorKind};
pub use local::LocalTransport;
pub use remsh::{InvalidRemoteShell, RemoteShell};
pub use retry::{InvalidRetryPolicy, Retry, RetryPolicy};
pub use ssh::{
    MasterStatus, SshTarget, SshTransport, SshTransportBuilder, close_user_master,
    default_control_dir, open_user_master, user_master_status,
};

/// A boxed, sendable future: what [`Transport`]'s methods return, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A local byte source streamed into a command's standard input.
pub type DynRead<'a> = &'a mut (dyn AsyncRead + Send + Unpin);

/// A local byte sink receiving a command's standard output.
pub type DynWrite<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);

/// Runs commands and moves bytes on one host.
///
/// Implementations: [`LocalTransport`] (this machine) and [`SshTransport`] (a remote host over
/// OpenSSH). Fakes for tests implement [`run`](Transport::run) and
/// [`run_streaming`](Transport::run_streaming); everything else has a default.
pub trait Transport: Send + Sync + fmt::Debug {
    /// The host this transport reaches, as errors and logs name it (`local` for this machine).
    fn host(&self) -> &str;

    /// Runs `cmd` to completion, feeding it `cmd.stdin` and collecting stdout and stderr.
    ///
    /// `retry` says whether the command may run again when the connection drops while it runs
    /// (see [`Retry`]); a command that never started is always retried.
    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        retry: Retry,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>>;

    /// Runs `cmd` with streamed standard input and/or output; never repeated once started.
    ///
    /// Standard input is `cmd.stdin` followed by everything `stdin` yields (then closed).
    /// With `stdout` given, the command's standard output is copied there as it comes and the
    /// returned [`CommandOutput::stdout`] is empty; otherwise it is collected. Standard error is
    /// always collected. Typical use: `tar -x` fed from a local reader, `tar -c` into a writer.
    fn run_streaming<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        stdin: Option<DynRead<'a>>,
        stdout: Option<DynWrite<'a>>,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>>;

    /// Writes everything `input` yields to the file `remote_path` (replacing it atomically: the
    /// bytes go to `<path>.xpr-part.<pid>` which is renamed when complete).
    fn upload<'a>(
        &'a self,
        input: DynRead<'a>,
        remote_path: &'a Path,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            // The script is fixed text; the path travels as `$1`, quoted by CommandSpec.
            let cmd = CommandSpec::new("sh").args([
                OsString::from("-c"),
                OsString::from(UPLOAD_PROGRAM),
                OsString::from("xpr-upload"),
                remote_path.as_os_str().to_owned(),
            ]);
            let out = self.run_streaming(&cmd, Some(input), None).await?;
            check_success(self.host(), &cmd, out).map(drop)
        })
    }

    /// Copies the file `remote_path` into `output`.
    fn download<'a>(
        &'a self,
        remote_path: &'a Path,
        output: DynWrite<'a>,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let cmd = CommandSpec::new("cat")
                .arg("--")
                .arg(remote_path.as_os_str());
            let out = self.run_streaming(&cmd, None, Some(output)).await?;
            check_success(self.host(), &cmd, out).map(drop)
        })
    }

    /// Closes the transport: for SSH, ends the master connection this process opened (one the
    /// user opened with `xpr connect` is left running). Later calls reconnect.
    fn close(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }

    /// [`run`](Transport::run) for callers outside any async runtime: builds a small
    /// current-thread runtime for the call. Panics when called from inside a tokio runtime.
    fn run_blocking(
        &self,
        cmd: &CommandSpec,
        retry: Retry,
    ) -> Result<CommandOutput, TransportError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                TransportError::io(self.host(), Some(cmd), "cannot start an async runtime", e)
            })?
            .block_on(self.run(cmd, retry))
    }
}

/// The transport of a system: [`LocalTransport`] when its `host` is `null`, else an
/// [`SshTransport`] (connected, sharing the process's connection to that host) reached with the
/// system's `remsh_cmd` (else `$EXPYRE_RSH`, else `ssh`).
pub async fn transport_for_system(system: &System) -> Result<Arc<dyn Transport>, TransportError> {
    match &system.host {
        None => Ok(Arc::new(LocalTransport::new())),
        Some(host) => {
            let target = SshTarget::new(host, system.remsh_cmd.as_deref())?;
            Ok(Arc::new(SshTransport::connect(target).await?))
        }
    }
}

/// Turns a non-zero exit into a [`TransportErrorKind::CommandFailed`] error carrying stderr.
///
/// For callers (and the default `upload`/`download`) that treat failure as an error.
pub fn check_success(
    host: &str,
    cmd: &CommandSpec,
    out: CommandOutput,
) -> Result<CommandOutput, TransportError> {
    if out.succeeded() {
        Ok(out)
    } else {
        Err(TransportError::command_failed(host, cmd, &out))
    }
}
