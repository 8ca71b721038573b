//! What a task is: its command, inputs, arguments, environment and expected outputs.

use serde::{Deserialize, Serialize};

use crate::config::ErrorRules;

/// The command a task runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskCommand {
    /// A program and its arguments, each passed as one word whatever it holds.
    Argv(Vec<String>),
    /// A shell line, run by the job script's shell as written (pipes, redirections ...).
    Shell(String),
}

/// Everything that defines a task, as the user gave it. Stored in the jobs DB as JSON so a
/// task can be resumed by another process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The user's name for the task (need not be unique).
    pub name: String,
    /// What to run.
    pub command: TaskCommand,
    /// Input files, directories and globs; relative ones keep their relative path in the run
    /// dir, absolute ones are flattened to their base name.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Optional JSON arguments, written to `xpr_args.json` in the run dir for the command.
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    /// Environment variables set for the command, in order.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Shell lines run before the command.
    #[serde(default)]
    pub pre_commands: Vec<String>,
    /// Shell lines run after the command (whatever its exit status).
    #[serde(default)]
    pub post_commands: Vec<String>,
    /// Output files and globs to bring back; a missing one fails the task, naming it.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// How error lines are found in its logs, over the system's (and a profile's, merged in
    /// at start): see [`crate::analysis`]. Not part of the task's identity: it changes how a
    /// result is judged, not what is computed. Absent from specs stored before it existed.
    #[serde(default, skip_serializing_if = "ErrorRules::is_empty")]
    pub error_rules: ErrorRules,
    /// The caller's own identity of the task, when it keeps one (the Python package's ExPyRe
    /// drop-in: ExPyRe's restart rule over the function and the arguments not in
    /// `hash_ignore`). When set, the task's identity is its name and this key alone, whatever
    /// its command and inputs hold. Absent from specs stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<String>,
    /// The directives of an adopted batch script ([`crate::task::adopt_batch_script`]),
    /// written as they are after xpr's own header lines, so that the script's values win.
    /// Not part of the identity: the script is an input, hashed whole. Absent from specs
    /// stored before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script_directives: Vec<String>,
}

impl TaskSpec {
    /// A task running `argv`.
    pub fn argv<I, S>(name: impl Into<String>, argv: I) -> TaskSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TaskSpec::new(
            name,
            TaskCommand::Argv(argv.into_iter().map(Into::into).collect()),
        )
    }

    /// A task running a shell line.
    pub fn shell(name: impl Into<String>, line: impl Into<String>) -> TaskSpec {
        TaskSpec::new(name, TaskCommand::Shell(line.into()))
    }

    fn new(name: impl Into<String>, command: TaskCommand) -> TaskSpec {
        TaskSpec {
            name: name.into(),
            command,
            inputs: Vec::new(),
            args: None,
            env: Vec::new(),
            pre_commands: Vec::new(),
            post_commands: Vec::new(),
            outputs: Vec::new(),
            error_rules: ErrorRules::default(),
            identity_key: None,
            script_directives: Vec::new(),
        }
    }
}
