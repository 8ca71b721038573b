//! The Grid Engine adapter: Son of Grid Engine 8.1.x (Debian's `gridengine`), and Univa / Open
//! Grid Engine where their output is the same. Pure: it builds [`CommandSpec`]s and parses
//! their output; a transport runs them.
//!
//! # Resource lines
//!
//! With `"resource_lines": true`: memory as `#$ -l h_vmem={max_mem_per_core}K` (Grid Engine
//! counts `h_vmem` per slot, and xpr's slots are cores; `K` is 1024 bytes, ExPyRe's kB), the
//! account as `#$ -A {account}`. Grid Engine has no standard GPU resource (each site defines
//! its own complex, `gpu`, `cuda`, ...), so a GPU request needs the site's line in the
//! system's or partition's header, e.g. `#$ -l gpu={gpus}`; without one it is an error rather
//! than a job without GPUs.
//!
//! # Commands
//!
//! | operation | command |
//! |---|---|
//! | submit | `qsub -terse SCRIPT`, run in the job directory |
//! | status | `sh -c 'exec qstat -xml -g d -u "$(id -un)"' sh` |
//! | accounting | `sh -c 'u=$(id -un) \|\| exit 1; for id do qacct -o "$u" -j "$id"; done; exit 0' sh JOB...` |
//! | find by name | `sh -c 'u=...; printf "#xpr:name %s\n" "$@"; echo "#xpr:qstat"; qstat -xml -g d -u "$u" \|\| exit 1; echo "#xpr:qacct"; for n do qacct -o "$u" -j "$n"; done; exit 0' sh N_NAME...` |
//! | cancel / hold / release | `qdel ID...` / `qhold ID...` / `qrls ID...` |
//!
//! The `sh -c` scripts are constants ([`STATUS_SCRIPT`], [`ACCOUNTING_SCRIPT`],
//! [`FIND_BY_NAME_SCRIPT`]) kept as files next to this module (`status.sh`, `accounting.sh`,
//! `find_by_name.sh`); ids and names reach them only as positional arguments, never pasted
//! into the script text.
//!
//! # Ids
//!
//! `qsub -terse` prints `123`, or `123.1-5:1` for an array job; both are stored as given
//! ([`SchedulerJobId`]) and `qdel`/`qhold`/`qrls` accept both. Status and accounting report one
//! [`JobStatus`] per plain job (`123`) and per array task (`123.4`); an array's caller gathers
//! the tasks of `123.1-5:1` by job number ([`SgeId::parse`] gives it). Ids that are none of
//! these shapes (never produced by the parsers, so a corrupted record) are left out of every
//! command, so an id can never become an option.
//!
//! # Status
//!
//! `qstat` cannot restrict its listing to a list of job ids (`-j` switches to the detailed
//! format), so the status command lists all of the user's jobs (`-u` with the login name, which
//! overrides a site's `sge_qstat` default such as `-u '*'`), with `-g d` so that every array task
//! has its own row. The reply therefore holds jobs that were not asked about; callers pick
//! theirs by id. See [`qstat`] for the state letters.
//!
//! # Accounting
//!
//! `qacct -j` takes one job per run and scans the whole accounting file each time, so the
//! command loops over the distinct job numbers of the ids in one shell. `qacct` reports a job
//! it has no record of on stderr (`error: job id 12 not found`): the job is simply absent from
//! the result. Records appear 1-15 s after a job ends (the qmaster flushes in batches); a
//! pending job deleted with `qdel` never gets one. See [`qacct`] for the state rules.
//!
//! # Names
//!
//! Grid Engine job names may not start with a digit, so the default header names a job
//! `N_{id}` (as upstream ExPyRe). Every [`JobStatus::name`] this adapter returns has that
//! prefix taken off (the task id xpr put there); names without it are returned verbatim.
//! [`Scheduler::find_by_name`] takes task ids and asks for `N_{id}`: `qstat` for queued and
//! running jobs, and `qacct -j N_{id}` (which matches job names as well as numbers) for
//! finished ones. The script first echoes the names it was given (`#xpr:name N_{id}` lines),
//! so the parser keeps only the jobs asked about out of the full listing. A name Grid Engine
//! would refuse as a job name (empty, blanks, `/:@\*?[]`) cannot name a job and is left out.
//! Accounting keeps old records: one name may come back several times (a resubmission, or an
//! older job with the same task id), once per job number.
//!
//! # Errors
//!
//! A status or find-by-name reply from a command that exited non-zero is an error, never an
//! empty queue (that would make every job look finished). The accounting script always exits 0;
//! its parser tells `qacct`'s "not found" lines from real failures on stderr.
//!
//! # Error state
//!
//! A job in `Eqw` reports `Failed { exit_code: None }` with a hint; [`SgeScheduler::detail`]
//! (`qstat -j ID -xml`) gives its error reason ([`JobDetail::all_messages`]).

pub mod ids;
pub mod qacct;
pub mod qstat;
pub mod qsub;
pub mod xml;

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::ids::SchedulerJobId;
use crate::resources::NodeAllocation;
use crate::scheduler::{JobStatus, ParseError, Scheduler, SchedulerKind};

pub use ids::{SgeId, TaskRange};
pub use qacct::{QacctRecord, parse_qacct};
pub use qstat::{JobDetail, QstatRow, parse_qstat_detail_xml, parse_qstat_xml};
pub use qsub::parse_qsub_reply;

/// The default header lines, in upstream ExPyRe's order (`{partition}` is the queue list).
pub const DEFAULT_HEADER: &[&str] = &[
    "#$ -N N_{id}",
    "#$ -q {partition}",
    "#$ -l h_rt={max_time}",
    "#$ -o job.{id}.stdout",
    "#$ -e job.{id}.stderr",
    "#$ -S /bin/bash",
    "#$ -r n",
    "#$ -cwd",
];

/// The prefix the default header puts before the task id in a job name.
pub const JOB_NAME_PREFIX: &str = "N_";

/// The status script: the user's jobs, one row per array task.
pub const STATUS_SCRIPT: &str = shell_program!(include_str!("status.sh"));

/// The accounting script; its positional arguments are job numbers.
pub const ACCOUNTING_SCRIPT: &str = shell_program!(include_str!("accounting.sh"));

/// The prefix of the lines in which [`FIND_BY_NAME_SCRIPT`] echoes the names it looks for.
pub const NAME_MARKER: &str = "#xpr:name ";

/// The line [`FIND_BY_NAME_SCRIPT`] prints before the `qstat` document.
pub const QSTAT_MARKER: &str = "#xpr:qstat";

/// The line [`FIND_BY_NAME_SCRIPT`] prints between the `qstat` document and the `qacct` records.
pub const QACCT_MARKER: &str = "#xpr:qacct";

/// The find-by-name script; its positional arguments are job names (`N_{id}`). It echoes them
/// first (one `#xpr:name` line each) so that the parser can keep only the jobs asked about
/// from the full `qstat` listing; the names are valid job names, so one line each.
pub const FIND_BY_NAME_SCRIPT: &str = shell_program!(include_str!("find_by_name.sh"));

/// The Grid Engine adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct SgeScheduler;

/// A [`ParseError`] of this scheduler.
pub(crate) fn parse_error(
    what: &'static str,
    message: String,
    snippet: Option<String>,
) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Sge,
        what,
        message,
        snippet,
    }
}

/// The task id in a job name: `N_abc` -> `abc`; other names unchanged.
pub fn task_name(job_name: &str) -> String {
    job_name
        .strip_prefix(JOB_NAME_PREFIX)
        .unwrap_or(job_name)
        .to_owned()
}

/// True when Grid Engine would accept `N_{name}` as a job name and `qacct -j` would match it
/// literally (no pattern characters).
pub fn is_valid_task_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/:@\\*?[]'\"".contains(&b))
}

/// `sh -c SCRIPT sh ARGS...`: a constant script with its values as positional arguments.
fn shell_script(script: &str, args: impl IntoIterator<Item = String>) -> CommandSpec {
    CommandSpec::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
}

/// The ids that are Grid Engine ids, as strings (others are dropped: see the module docs).
fn valid_ids(ids: &[SchedulerJobId]) -> impl Iterator<Item = String> + '_ {
    ids.iter()
        .filter(|id| SgeId::parse(id.as_str()).is_some())
        .map(|id| id.as_str().to_owned())
}

/// Fails with `command`'s stderr when it exited non-zero.
fn require_success(
    output: &CommandOutput,
    what: &'static str,
    command: &str,
) -> Result<(), ParseError> {
    if output.succeeded() {
        return Ok(());
    }
    let stderr = output.stderr_text();
    Err(parse_error(
        what,
        format!(
            "{command} exited with {}: {}",
            qsub::exit_text(output.code),
            qsub::first_line(&stderr).unwrap_or("(no message on stderr)")
        ),
        None,
    ))
}

impl SgeScheduler {
    /// `qstat -j ID[,ID...] -xml`: the details of queued jobs, among them the error reason of a
    /// job in `Eqw` (see [`parse_qstat_detail_xml`]).
    pub fn detail(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        let numbers: Vec<String> = job_numbers(ids).iter().map(u64::to_string).collect();
        CommandSpec::new("qstat")
            .arg("-j")
            .arg(numbers.join(","))
            .arg("-xml")
    }

    /// The jobs in a [`detail`](Self::detail) reply.
    pub fn parse_detail(&self, output: &CommandOutput) -> Result<Vec<JobDetail>, ParseError> {
        require_success(output, "qstat -j -xml output", "qstat -j")?;
        parse_qstat_detail_xml(&output.stdout_text())
    }
}

/// The distinct job numbers of `ids`, in first-seen order.
fn job_numbers(ids: &[SchedulerJobId]) -> Vec<u64> {
    let mut numbers = Vec::new();
    for id in ids.iter().filter_map(|id| SgeId::parse(id.as_str())) {
        if !numbers.contains(&id.job) {
            numbers.push(id.job);
        }
    }
    numbers
}

/// Accounting statuses of `records`, one per (id, name), the last record winning.
fn accounting_statuses(records: &[QacctRecord]) -> Result<Vec<JobStatus>, ParseError> {
    let mut out: Vec<JobStatus> = Vec::new();
    for record in records {
        let status = qacct::status_from_record(record, task_name)?;
        match out
            .iter_mut()
            .find(|s| s.id == status.id && s.name == status.name)
        {
            Some(slot) => *slot = status,
            None => out.push(status),
        }
    }
    Ok(out)
}

impl Scheduler for SgeScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Sge
    }

    fn default_header(&self) -> &'static [&'static str] {
        DEFAULT_HEADER
    }

    /// `h_vmem` per slot and `-A`; no GPU line (see the module docs).
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        let mut lines = Vec::new();
        if alloc.mem.is_some() {
            lines.push("#$ -l h_vmem={max_mem_per_core}K");
        }
        if alloc.account.is_some() {
            lines.push("#$ -A {account}");
        }
        lines
    }

    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        CommandSpec::new("qsub")
            .arg("-terse")
            .arg(script)
            .cwd(job_dir)
    }

    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        parse_qsub_reply(output)
    }

    /// Lists all of the user's jobs: `qstat` cannot filter by id (see the module docs).
    fn status(&self, _ids: &[SchedulerJobId]) -> CommandSpec {
        shell_script(STATUS_SCRIPT, [])
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        require_success(output, "qstat -xml output", "qstat")?;
        let rows = parse_qstat_xml(&output.stdout_text())?;
        Ok(qstat::statuses_from_rows(&rows, task_name))
    }

    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        shell_script(
            ACCOUNTING_SCRIPT,
            job_numbers(ids).iter().map(u64::to_string),
        )
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        require_success(output, "qacct output", "qacct")?;
        accounting_statuses(&qacct::parse_qacct_output(output)?)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        shell_script(
            FIND_BY_NAME_SCRIPT,
            names
                .iter()
                .filter(|n| is_valid_task_name(n))
                .map(|n| format!("{JOB_NAME_PREFIX}{n}")),
        )
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        const WHAT: &str = "find-by-name output";
        require_success(output, WHAT, "qstat/qacct")?;
        let stdout = output.stdout_text();
        let missing = |marker: &str| {
            parse_error(
                WHAT,
                format!("the `{marker}` line is missing (not the output of FIND_BY_NAME_SCRIPT?)"),
                None,
            )
        };
        let (names, rest) = stdout
            .split_once(&format!("{QSTAT_MARKER}\n"))
            .ok_or_else(|| missing(QSTAT_MARKER))?;
        let (listing, accounting) = rest
            .split_once(&format!("\n{QACCT_MARKER}\n"))
            .ok_or_else(|| missing(QACCT_MARKER))?;
        let wanted: Vec<&str> = names
            .lines()
            .filter_map(|line| line.strip_prefix(NAME_MARKER))
            .filter(|name| !name.is_empty())
            .collect();
        let asked = |status: &JobStatus| {
            status.name.as_deref().is_some_and(|name| {
                wanted
                    .iter()
                    .any(|w| w.strip_prefix(JOB_NAME_PREFIX) == Some(name))
            })
        };
        let rows = parse_qstat_xml(listing)?;
        let mut statuses = qstat::statuses_from_rows(&rows, task_name);
        let accounting_output = CommandOutput {
            code: output.code,
            stdout: accounting.as_bytes().to_vec(),
            stderr: output.stderr.clone(),
        };
        statuses.extend(accounting_statuses(&qacct::parse_qacct_output(
            &accounting_output,
        )?)?);
        statuses.retain(asked);
        Ok(statuses)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        CommandSpec::new("qdel").args(valid_ids(ids))
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        CommandSpec::new("qhold").args(valid_ids(ids))
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        CommandSpec::new("qrls").args(valid_ids(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_values_out_of_scripts() {
        let s = SgeScheduler;
        let ids = [
            SchedulerJobId::new("12"),
            SchedulerJobId::new("13.1-5:1"),
            SchedulerJobId::new("13.2"),
            SchedulerJobId::new("-u"),
        ];
        let accounting = s.accounting(&ids);
        assert_eq!(
            accounting.to_string(),
            format!("sh -c '{ACCOUNTING_SCRIPT}' sh 12 13")
        );
        assert_eq!(s.cancel(&ids).to_string(), "qdel 12 13.1-5:1 13.2");
        assert_eq!(s.hold(&ids[..1]).to_string(), "qhold 12");
        assert_eq!(s.release(&ids[..1]).to_string(), "qrls 12");
        assert_eq!(
            s.submit("/w/run 1", "job.script.sge").to_string(),
            "cd '/w/run 1' && qsub -terse job.script.sge"
        );
        let find = s.find_by_name(&["abc".into(), "a*".into(), "x y".into()]);
        assert_eq!(find.args.last().unwrap(), "N_abc");
        assert_eq!(find.args.len(), 4);
    }
}
