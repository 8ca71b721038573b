//! Batch schedulers as pure data: each one builds job scripts and the commands of submit,
//! status, accounting, cancel, hold and release as [`CommandSpec`]s, and parses their replies
//! into one state model ([`JobState`]). Nothing here runs a process or touches a file: a
//! transport runs the commands. That keeps every parser testable against `fixtures/`.
//!
//! Each scheduler has three layers: pure `build_*` functions (job -> script text and argv),
//! the shared driver in the layers above that runs them through a transport, and pure
//! `parse_*` functions (text -> typed records).

use serde::{Deserialize, Serialize};

use crate::command::{CommandOutput, CommandSpec};
use crate::ids::SchedulerJobId;
use crate::resources::NodeAllocation;

pub mod local;
pub mod lsf;
pub mod pbs;
pub mod script;
pub mod sge;
pub mod slurm;

/// Which batch system a system runs: part of a system's config, so defined in
/// [`crate::config`] (the layer below) and re-exported here next to the adapters.
pub use crate::config::SchedulerKind;

/// Where a job stands, in one model for every scheduler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to start.
    Queued,
    /// Held by the user or an administrator.
    Held,
    /// Running (including completing / suspended-while-running states the scheduler reports).
    Running,
    /// Finished with exit code 0.
    Succeeded,
    /// Finished with a non-zero exit code (or failed to launch).
    Failed {
        /// The job's exit code, when the scheduler reports one.
        exit_code: Option<i32>,
    },
    /// Killed for exceeding its wall time.
    Timeout,
    /// Killed for exceeding its memory.
    OutOfMemory,
    /// Cancelled by a user or an administrator.
    Cancelled,
    /// Lost because a node failed.
    NodeFail,
    /// Preempted by a higher-priority job.
    Preempted,
    /// A state string xpr does not know; kept verbatim.
    Unknown {
        /// The scheduler's own word for it.
        raw: String,
    },
}

impl JobState {
    /// True once the job can no longer change state (it has left the queue for good).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Self::Queued | Self::Held | Self::Running | Self::Unknown { .. }
        )
    }
}

/// One job's state as a status or accounting query reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The scheduler's job id (for array elements, the element's id, e.g. `123_4`).
    pub id: SchedulerJobId,
    /// The job's name, when the reply carries it (xpr puts the task id there).
    pub name: Option<String>,
    /// The state in xpr's model.
    pub state: JobState,
    /// The scheduler's own state word (`"CANCELLED by 1001"` -> `"CANCELLED"`), for display.
    pub raw_state: String,
    /// Exit code, when known (also for non-failed states, e.g. OUT_OF_MEMORY with 0).
    pub exit_code: Option<i32>,
    /// The node (or first node) it ran on, when known.
    pub node: Option<String>,
    /// The scheduler's reason / comment, when it gives one.
    pub reason: Option<String>,
}

/// A scheduler reply that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("cannot parse {scheduler} {what}: {message}{}", snippet_suffix(.snippet))]
pub struct ParseError {
    /// Which scheduler's parser failed.
    pub scheduler: SchedulerKind,
    /// Which reply: `"sbatch reply"`, `"squeue output"`, ...
    pub what: &'static str,
    /// What is wrong.
    pub message: String,
    /// The offending text (a line or so), if any.
    pub snippet: Option<String>,
}

fn snippet_suffix(snippet: &Option<String>) -> String {
    match snippet {
        Some(s) => format!(" (in {s:?})"),
        None => String::new(),
    }
}

/// What every scheduler adapter provides. All methods are pure: they build commands or parse
/// replies. Status and accounting take many ids and make one command.
pub trait Scheduler: Send + Sync {
    /// Which scheduler this is.
    fn kind(&self) -> SchedulerKind;

    /// The default header template lines (e.g. `#SBATCH --job-name={id}`), added unless the
    /// system sets `no_default_header`.
    fn default_header(&self) -> &'static [&'static str];

    /// The header template lines that carry `alloc`'s memory, GPUs and account in this
    /// scheduler's own syntax, added when the system sets `resource_lines` (see
    /// [`script`]'s module docs). Only lines for what the request asked for, except where the
    /// scheduler needs one line for everything (PBS's `select=`). Default: none.
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        let _ = alloc;
        Vec::new()
    }

    /// The command that submits `script` (a file name inside `job_dir`), run in `job_dir`.
    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec;

    /// The job id from the submit command's reply.
    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError>;

    /// One command that reports the state of all `ids` still known to the queue.
    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec;

    /// The states in a status reply; ids the queue no longer knows are simply absent.
    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError>;

    /// One command asking accounting for the final state of all `ids`.
    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec;

    /// The final states in an accounting reply.
    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError>;

    /// One command that lists the user's jobs whose names are among `names` (queued or in
    /// accounting), to find a submission that may have happened before a crash.
    ///
    /// Names here, and [`JobStatus::name`] in every parsed reply, are the `{id}` values of the
    /// header templates (xpr's task ids): a scheduler whose default header decorates the name
    /// (`N_{id}` for PBS and Grid Engine, whose names may not start with a digit) adds and
    /// strips the decoration itself.
    fn find_by_name(&self, names: &[String]) -> CommandSpec;

    /// The jobs in a `find_by_name` reply, with their names set.
    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError>;

    /// Cancels `ids`.
    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec;

    /// Holds `ids` (keeps them queued without starting).
    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec;

    /// Releases held `ids`.
    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec;
}

/// A command that does nothing and prints nothing: what a query or action on an empty id list
/// becomes, because most schedulers' commands act on *all* the user's jobs when given no id.
pub(crate) fn nothing_to_do() -> CommandSpec {
    CommandSpec::new("true")
}

/// `program ID...`, or [`nothing_to_do`] for no ids.
pub(crate) fn ids_command(program: &str, ids: &[SchedulerJobId]) -> CommandSpec {
    if ids.is_empty() {
        return nothing_to_do();
    }
    CommandSpec::new(program).args(ids.iter().map(SchedulerJobId::as_str))
}

/// The adapter for `kind`.
pub fn scheduler_for(kind: SchedulerKind) -> Box<dyn Scheduler> {
    match kind {
        SchedulerKind::Slurm => Box::new(slurm::SlurmScheduler),
        SchedulerKind::Pbs => Box::new(pbs::PbsScheduler),
        SchedulerKind::Sge => Box::new(sge::SgeScheduler),
        SchedulerKind::Lsf => Box::new(lsf::LsfScheduler),
        SchedulerKind::Local => Box::new(local::LocalScheduler),
    }
}
