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

pub mod depend;
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
    /// How long the job ran (wall clock, seconds), when accounting records it: Slurm
    /// `ElapsedRaw`, PBS `resources_used.walltime`, Grid Engine `ru_wallclock`, LSF `RUN_TIME`.
    #[serde(default)]
    pub elapsed_secs: Option<u64>,
    /// The job's peak memory in kB, as its scheduler measures it, when accounting records it:
    /// Slurm `MaxRSS` (the largest over the job's steps), PBS `resources_used.mem`, Grid
    /// Engine `maxvmem` (virtual memory: its `ru_maxrss` is mis-scaled by `qacct`), LSF
    /// `MAX_MEM`. Sampled by most schedulers (Slurm every `JobAcctGatherFrequency`), so a
    /// short peak may be missed.
    #[serde(default)]
    pub peak_memory_kb: Option<u64>,
    /// The scheduler's own account of how the job ended, in its words, for a person to read:
    /// Slurm's state and reason (`CANCELLED by 1001`, `TIMEOUT`, `reason TimeLimit`), PBS
    /// `Exit_status` with its meaning, Grid Engine's `failed` code with its text, LSF's exit
    /// reason. `None` while the job runs, and when the reply says nothing beyond the state.
    #[serde(default)]
    pub scheduler_reason: Option<String>,
}

impl JobStatus {
    /// A status of job `id` in `state`, with nothing else known (callers fill in the rest,
    /// e.g. `JobStatus { exit_code: Some(3), ..JobStatus::new(id, state) }`). The raw state
    /// is empty.
    pub fn new(id: SchedulerJobId, state: JobState) -> Self {
        Self {
            id,
            name: None,
            state,
            raw_state: String::new(),
            exit_code: None,
            node: None,
            reason: None,
            elapsed_secs: None,
            peak_memory_kb: None,
            scheduler_reason: None,
        }
    }
}

/// Kilobytes (1024 bytes) of a memory amount as schedulers print it: a number (`215800`,
/// `2.5`) with an optional unit, `K`/`KB`/`kb`/`Kbytes` ... up to `P`, case-insensitive, or `B`
/// for bytes; a bare number is in `bare_unit_bytes` (PBS and Grid Engine: bytes, Slurm's
/// `MaxRSS`: kB, LSF: MB). Units are powers of 1024. Rounded up to a whole kB; `None` for
/// anything else.
pub fn memory_kb(text: &str, bare_unit_bytes: u64) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let prefix = unit
        .strip_suffix("bytes")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let bytes_per_unit: f64 = match prefix {
        "" if unit.is_empty() => bare_unit_bytes as f64,
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0_f64.powi(2),
        "g" => 1024.0_f64.powi(3),
        "t" => 1024.0_f64.powi(4),
        "p" => 1024.0_f64.powi(5),
        _ => return None,
    };
    let kb = (number * bytes_per_unit / 1024.0).ceil();
    (kb.is_finite() && kb >= 0.0 && kb < u64::MAX as f64).then_some(kb as u64)
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

/// How a scheduler runs job arrays: what the engine needs to submit homogeneous tasks as one
/// array job per chunk and to follow each element as its own task (see
/// `shared/reference/arrays-deps-packing.md` for each scheduler's syntax).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArraySyntax {
    /// The environment variable that holds an element's index inside its job, or a parameter expression (`PBS_ARRAY_INDEX:-$PBS_ARRAYID`): the job script puts it inside `${...}`.
    pub index_var: &'static str,
    /// The first element's index (Grid Engine and LSF count from 1, the others from 0).
    pub first_index: u32,
    /// The most elements one array may have when neither the site nor the config says
    /// (the scheduler's own default limit).
    pub default_limit: u32,
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

    /// The command that reports the site's own cap on how many jobs this user may have in
    /// the queue (Slurm: the association's `MaxSubmitJobs`), where the scheduler tells it.
    /// Default: none.
    fn site_job_limit(&self) -> Option<CommandSpec> {
        None
    }

    /// The cap in the reply of [`Scheduler::site_job_limit`]; `None` when none is set.
    fn parse_site_job_limit(&self, output: &CommandOutput) -> Option<u32> {
        let _ = output;
        None
    }

    /// The command that lists this user's jobs in the queue, one id per line (all of them,
    /// not only xpr's: the site's cap counts them all). Default: none.
    fn user_jobs(&self) -> Option<CommandSpec> {
        None
    }

    /// How this scheduler runs job arrays; `None` when it has none (the local queue): array
    /// tasks then go as jobs of their own. Default: none.
    fn arrays(&self) -> Option<ArraySyntax> {
        None
    }

    /// The command that submits `script` in `job_dir` as an array named `name` (the
    /// script's `{id}`, for schedulers that name arrays on the command line: LSF) of `count`
    /// elements, indexed from [`ArraySyntax::first_index`]; its reply is read by
    /// [`Scheduler::parse_submit`] (the array's job id). `None` without arrays.
    fn submit_array(
        &self,
        job_dir: &str,
        script: &str,
        name: &str,
        count: u32,
    ) -> Option<CommandSpec> {
        let _ = (job_dir, script, name, count);
        None
    }

    /// The id of element `index` (the scheduler's own index) of the array `array` (as
    /// [`Scheduler::parse_submit`] gave it): what status, accounting and cancel take for that
    /// element alone. `None` without arrays.
    fn element_id(&self, array: &SchedulerJobId, index: u32) -> Option<SchedulerJobId> {
        let _ = (array, index);
        None
    }

    /// The array's own id given one of its elements' ids or a collapsed listing of them
    /// (Slurm `123_7` or `123_[0-9]` -> `123`), as a lookup by name lists them. Default: the
    /// id itself.
    fn array_of(&self, id: &SchedulerJobId) -> SchedulerJobId {
        id.clone()
    }

    /// The default header lines of an array job: [`Scheduler::default_header`] minus what
    /// the scheduler refuses in arrays (PBS Pro's `-r n`). Default: the same lines.
    fn array_default_header(&self) -> &'static [&'static str] {
        self.default_header()
    }

    /// The command that reports the site's limit on an array's size, where the scheduler
    /// tells it (Slurm's `MaxArraySize`). Default: none.
    fn site_array_limit(&self) -> Option<CommandSpec> {
        None
    }

    /// The most elements one array may have by the reply of
    /// [`Scheduler::site_array_limit`]; `None` when it does not say.
    fn parse_site_array_limit(&self, output: &CommandOutput) -> Option<u32> {
        let _ = output;
        None
    }
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

#[cfg(test)]
mod tests {
    use super::memory_kb;

    #[test]
    fn memory_amounts() {
        assert_eq!(memory_kb("215800K", 1024), Some(215_800));
        assert_eq!(memory_kb("2.5M", 1024), Some(2560));
        assert_eq!(memory_kb("5.2 Gbytes", 1024), Some(5_452_596));
        assert_eq!(memory_kb("3456kb", 1), Some(3456));
        assert_eq!(memory_kb("4.820MB", 1), Some(4936));
        assert_eq!(memory_kb("0.000B", 1), Some(0));
        assert_eq!(memory_kb("1025", 1), Some(2));
        assert_eq!(memory_kb("12", 1024), Some(12));
        assert_eq!(memory_kb("7 bytes", 1024), Some(1));
        for bad in ["", "K", "12X", "1.2.3M", "-5K"] {
            assert_eq!(memory_kb(bad, 1), None, "{bad:?}");
        }
    }
}
