//! What a session could not do: [`SessionError`], each variant naming the system, host, task
//! or path at fault and, where the user can act, a `(hint: ...)`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analysis::AnalysisError;
use crate::config::ConfigError;
use crate::db::{DbError, TaskStatus};
use crate::ids::{SystemName, TaskId};
use crate::resources::NodeFinderError;
use crate::scheduler::ParseError;
use crate::scheduler::script::ScriptError;
use crate::stage::StageError;
use crate::transport::TransportError;

/// Something a session could not do. Each variant names the system, host, task or path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The config is wrong or names an unknown system.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The jobs DB failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Running a command or moving bytes failed (names host and command).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Packing inputs or unpacking outputs failed.
    #[error("{}{source}", task_prefix(.task))]
    Stage {
        /// The task, when one task's files are at fault (not a stream of many).
        task: Option<String>,
        /// What failed.
        #[source]
        source: StageError,
    },
    /// The job script cannot be written.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A sweep cannot be expanded into tasks.
    #[error(transparent)]
    Sweep(#[from] crate::sweep::SweepError),
    /// The resources fit no partition.
    #[error(transparent)]
    Resources(#[from] NodeFinderError),
    /// A scheduler reply that does not parse.
    #[error("system {system}: {source}")]
    Scheduler {
        /// The system.
        system: SystemName,
        /// The parser's error.
        #[source]
        source: ParseError,
    },
    /// A remote helper (tar, batch submission) failed or replied nonsense.
    #[error("system {system} (host {host}): {message}")]
    Remote {
        /// The system.
        system: SystemName,
        /// The host.
        host: String,
        /// What happened, with the command's stderr.
        message: String,
    },
    /// A task's failure analysis settings cannot be used (a pattern that is no regular
    /// expression, a threshold of 0).
    #[error("task {task}: {source}")]
    Analysis {
        /// The task.
        task: TaskId,
        /// What is wrong.
        #[source]
        source: AnalysisError,
    },
    /// A task spec that cannot run.
    #[error("invalid task {name:?}: {why}")]
    InvalidTask {
        /// The task's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A task in a state where the operation makes no sense.
    #[error("task {id} is {status}: cannot {action}{}", hint_suffix(.hint))]
    WrongState {
        /// The task.
        id: TaskId,
        /// Its status.
        status: TaskStatus,
        /// What was asked.
        action: &'static str,
        /// What the user can do.
        hint: Option<&'static str>,
    },
    /// Local file system trouble.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting ran out of time.
    #[error(
        "timed out after {waited:?} with {} task(s) unfinished: {} (hint: they keep running; wait again or `xpr ls`)",
        .pending.len(),
        .pending.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    )]
    Timeout {
        /// How long was waited.
        waited: Duration,
        /// The tasks not finished.
        pending: Vec<TaskId>,
    },
}

fn task_prefix(task: &Option<String>) -> String {
    task.as_ref()
        .map(|t| format!("task {t}: "))
        .unwrap_or_default()
}

fn hint_suffix(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" (hint: {h})")).unwrap_or_default()
}

impl SessionError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| SessionError::Io {
            action,
            path,
            source,
        }
    }
}

/// How a process ended, in words: `exit code 3`, or `killed by a signal` when it has no code.
pub(crate) fn exit_words(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    }
}
