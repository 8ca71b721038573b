//! The errors of discovery: a context (the host, the remote command, the file) and a kind.

use std::path::PathBuf;

use crate::config::{ConfigError, SchedulerKind};
use crate::transport::TransportError;

/// Discovery failed: what was being asked of which host (or written to which file), and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{kind}", context_prefix(host, command, file))]
pub struct DiscoverError {
    /// The host asked, as the user named it (`None` for errors about a file only).
    pub host: Option<String>,
    /// The remote command whose reply is at fault, as a user would type it.
    pub command: Option<String>,
    /// The config file being written.
    pub file: Option<PathBuf>,
    /// What went wrong (boxed: the error travels in `Result`s and stays small).
    #[source]
    pub kind: Box<DiscoverErrorKind>,
}

fn context_prefix(
    host: &Option<String>,
    command: &Option<String>,
    file: &Option<PathBuf>,
) -> String {
    let mut out = String::new();
    if let Some(host) = host {
        out.push_str(&format!("discovering {host}"));
        if let Some(command) = command {
            out.push_str(&format!(", `{command}`"));
        }
        out.push_str(": ");
    }
    if let Some(file) = file {
        out.push_str(&format!("{}: ", file.display()));
    }
    out
}

/// What went wrong in discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverErrorKind {
    /// The host could not be reached or the probe could not run.
    #[error("cannot run the probe")]
    Transport(#[source] TransportError),
    /// The probe's reply is not in its own framing (a login banner or a shell that is not
    /// POSIX would do that).
    #[error(
        "the probe's reply is garbled: {why} (hint: a login shell that prints text, e.g. an \
         `echo` in ~/.bashrc, corrupts replies; make it print only for interactive shells)"
    )]
    Garbled {
        /// What is wrong with it.
        why: String,
    },
    /// No batch system answered, and `local` was not asked for.
    #[error(
        "no batch system answered (looked for {tried}) (hint: `--scheduler local` makes a \
         system that runs jobs on the host itself)"
    )]
    NoScheduler {
        /// The kinds looked for.
        tried: String,
    },
    /// The scheduler asked for with `--scheduler` is not there or does not answer.
    #[error("{kind} is not there or does not answer: {why}")]
    NotThere {
        /// The kind asked for.
        kind: SchedulerKind,
        /// Its command's status and stderr, or "not on PATH".
        why: String,
    },
    /// Several batch systems answered.
    #[error(
        "several batch systems answer here: {found} (hint: pick one with `--scheduler {first}`)"
    )]
    Ambiguous {
        /// Their names, comma-separated.
        found: String,
        /// The first of them, for the hint.
        first: SchedulerKind,
    },
    /// A command the scheduler must answer failed.
    #[error("exited with status {status}: {stderr}")]
    CommandFailed {
        /// Its exit status (124: it ran out of time).
        status: i32,
        /// The start of its stderr.
        stderr: String,
    },
    /// A value of a reply is not what the command prints.
    #[error("unexpected {what} {value:?}: {why}")]
    BadValue {
        /// Which field.
        what: &'static str,
        /// The value as printed.
        value: String,
        /// What was expected.
        why: String,
    },
    /// The scheduler has no partition or queue xpr can use.
    #[error("no usable partition or queue{}", notes_suffix(notes))]
    NoPartitions {
        /// Why each one was left out.
        notes: Vec<String>,
    },
    /// The discovered entry is not a valid config (a bug of discovery, or of the values).
    #[error("the discovered entry is not a valid config")]
    Invalid(#[source] ConfigError),
    /// The config file cannot be read, parsed, or written.
    #[error("{what}")]
    File {
        /// What could not be done.
        what: String,
        /// The I/O or JSON error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The config file already has a system of this name.
    #[error(
        "already has a system {name:?} (hint: pass --force to replace it, or --name to add it \
         under another name)"
    )]
    SystemExists {
        /// The system's name.
        name: String,
    },
}

fn notes_suffix(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(": {}", notes.join("; "))
    }
}

impl DiscoverError {
    /// An error about `host` with no particular command.
    pub(crate) fn host(host: &str, kind: DiscoverErrorKind) -> Self {
        Self {
            host: Some(host.to_owned()),
            command: None,
            file: None,
            kind: Box::new(kind),
        }
    }

    /// An error about the reply of `command` on `host`.
    pub(crate) fn command(host: &str, command: &str, kind: DiscoverErrorKind) -> Self {
        Self {
            host: Some(host.to_owned()),
            command: Some(command.to_owned()),
            file: None,
            kind: Box::new(kind),
        }
    }

    /// An error about the config file `file`.
    pub(crate) fn file(file: impl Into<PathBuf>, kind: DiscoverErrorKind) -> Self {
        Self {
            host: None,
            command: None,
            file: Some(file.into()),
            kind: Box::new(kind),
        }
    }
}

/// A value of a reply that does not parse: what the pure parsers return, without the host
/// (the caller adds it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{command}`: unexpected {what} {value:?}: {why}")]
pub struct ReplyError {
    /// The command whose reply it is.
    pub command: &'static str,
    /// Which field.
    pub what: &'static str,
    /// The value as printed.
    pub value: String,
    /// What was expected.
    pub why: String,
}

impl ReplyError {
    /// A bad `what` of `command`'s reply.
    pub fn new(
        command: &'static str,
        what: &'static str,
        value: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Self {
            command,
            what,
            value: value.into(),
            why: why.into(),
        }
    }

    /// This error as a [`DiscoverError`] about `host`.
    pub fn on(self, host: &str) -> DiscoverError {
        DiscoverError::command(
            host,
            self.command,
            DiscoverErrorKind::BadValue {
                what: self.what,
                value: self.value,
                why: self.why,
            },
        )
    }
}
