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
//! | submit an array | `qsub -terse -t 1-N SCRIPT`, run in the group's directory |
//! | status | `sh -c 'exec qstat -xml -g d -u "$(id -un)"' sh` |
//! | accounting | `sh -c 'u=$(id -un) \|\| exit 1; for id do qacct -o "$u" -j "$id"; done; exit 0' sh JOB...` |
//! | find by name | `sh -c 'u=...; printf "#xpr:name %s\n" "$@"; echo "#xpr:qstat"; qstat -xml -g d -u "$u" \|\| exit 1; echo "#xpr:qacct"; for n do qacct -o "$u" -j "$n"; done; exit 0' sh N_NAME...` |
//! | cancel / hold / release | `qdel ID...` / `qhold ID...` / `qrls ID...` (`true` when no valid id is left) |
//! | site array limit | `qconf -sconf` (`max_aj_tasks`) |
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
//! [`JobStatus`] per plain job (`123`) and per array task (`123.4`); the engine follows each
//! element by its own id, [`Scheduler::element_id`] of the array's (see Job arrays below). Ids
//! that are none of these shapes (never produced by the parsers, so a corrupted record) are
//! left out of every command, so an id can never become an option.
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
//! # Job arrays
//!
//! Homogeneous tasks go as array jobs ([`Scheduler::arrays`]): `qsub -terse -t 1-N SCRIPT`
//! (reply `123.1-N:1`), each element sees its index in `SGE_TASK_ID` (from 1) and is the task
//! `123.7` everywhere after: `qstat -g d` lists it on its own row (a pending range
//! `<tasks>2-9:1</tasks>` of another listing is expanded, see [`qstat`]), `qacct -j 123` gives
//! one record per element (`taskid 7`), and `qdel 123.7` / `qhold 123.7` / `qrls 123.7` act on
//! that element alone (Son of Grid Engine 8.1.9 takes the `JOB.TASK` form as well as `JOB -t
//! TASK`, checked on the test bed). An array's elements write their scheduler logs to files of
//! their own (`-o job.{id}.$TASK_ID.stdout`, [`ARRAY_DEFAULT_HEADER`]), as Grid Engine's own
//! default does, so elements running at once never share one. The site's cap is the global
//! `max_aj_tasks` of `qconf -sconf` (default 75000; 0 = none, then xpr keeps to the config's
//! `max_array_size` or that default): it caps the index too, and indices start at 1, so it is
//! also the most elements one array may have.
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
use crate::scheduler::{
    ArraySyntax, JobStatus, ParseError, Scheduler, SchedulerKind, nothing_to_do,
};

pub use ids::{SgeId, TaskRange};
pub use qacct::{QacctRecord, parse_qacct};
pub use qstat::{JobDetail, QstatRow, parse_qstat_detail_xml, parse_qstat_xml};
pub use qsub::parse_qsub_reply;

/// The default header lines, in upstream ExPyRe's order (`{partition}` is the queue list).
pub const DEFAULT_HEADER: &[&str] = &[
    "#$ -N N_{job_name}",
    "#$ -q {partition}",
    "#$ -l h_rt={max_time}",
    "#$ -o job.{id}.stdout",
    "#$ -e job.{id}.stderr",
    "#$ -S /bin/bash",
    "#$ -r n",
    "#$ -cwd",
];

/// The default header lines of an array job: [`DEFAULT_HEADER`] with one pair of log files per
/// element (Grid Engine expands `$TASK_ID` in `-o`/`-e` when the element starts), so that
/// elements running at the same time never write to one file.
pub const ARRAY_DEFAULT_HEADER: &[&str] = &[
    "#$ -N N_{job_name}",
    "#$ -q {partition}",
    "#$ -l h_rt={max_time}",
    "#$ -o job.{id}.$TASK_ID.stdout",
    "#$ -e job.{id}.$TASK_ID.stderr",
    "#$ -S /bin/bash",
    "#$ -r n",
    "#$ -cwd",
];

/// The environment variable holding an array element's index (from 1; `undefined` outside
/// arrays).
pub const ARRAY_INDEX_VAR: &str = "SGE_TASK_ID";

/// Grid Engine's default `max_aj_tasks`: the most elements of one array job when the site's
/// configuration cannot be read.
pub const DEFAULT_MAX_AJ_TASKS: u32 = 75_000;

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

/// `program ID...` over the valid ids, or [`nothing_to_do`] when none is left: `qdel` and
/// friends must never run without an id.
fn valid_ids_command(program: &str, ids: &[SchedulerJobId]) -> CommandSpec {
    let ids: Vec<String> = valid_ids(ids).collect();
    if ids.is_empty() {
        return nothing_to_do();
    }
    CommandSpec::new(program).args(ids)
}

/// The job number of `id` as text: `123.1-5:1` and `123.7` -> `123`. An id that is no Grid
/// Engine id (never one of the parsers' ids) is cut at its first dot, and stays invalid.
fn job_number_text(id: &SchedulerJobId) -> String {
    match SgeId::parse(id.as_str()) {
        Some(parsed) => parsed.job.to_string(),
        None => id.as_str().split('.').next().unwrap_or_default().to_owned(),
    }
}

/// The most elements of one array by a `qconf -sconf` listing: its `max_aj_tasks` (`None`
/// when the listing has none, or 0, which lifts the limit).
pub fn parse_max_aj_tasks(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "max_aj_tasks")
            .then(|| words.next()?.parse::<u32>().ok())
            .flatten()
            .filter(|&limit| limit > 0)
    })
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

    /// `qdel ID...`: an array element (`123.7`) is deleted alone.
    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        valid_ids_command("qdel", ids)
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        valid_ids_command("qhold", ids)
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        valid_ids_command("qrls", ids)
    }

    fn arrays(&self) -> Option<ArraySyntax> {
        Some(ArraySyntax {
            index_var: ARRAY_INDEX_VAR,
            first_index: 1,
            default_limit: DEFAULT_MAX_AJ_TASKS,
        })
    }

    /// `qsub -terse -t 1-COUNT SCRIPT` in `job_dir` (the name is the script's `-N`); the reply
    /// is `123.1-COUNT:1`.
    fn submit_array(
        &self,
        job_dir: &str,
        script: &str,
        _name: &str,
        count: u32,
    ) -> Option<CommandSpec> {
        Some(
            CommandSpec::new("qsub")
                .arg("-terse")
                .arg("-t")
                .arg(format!("1-{count}"))
                .arg(script)
                .cwd(job_dir),
        )
    }

    /// `123.1-12:1` (or `123`), 7 -> `123.7`.
    fn element_id(&self, array: &SchedulerJobId, index: u32) -> Option<SchedulerJobId> {
        Some(SchedulerJobId::new(format!(
            "{}.{index}",
            job_number_text(array)
        )))
    }

    /// `123.7`, `123.1-12:1` -> `123`.
    fn array_of(&self, id: &SchedulerJobId) -> SchedulerJobId {
        SchedulerJobId::new(job_number_text(id))
    }

    fn array_default_header(&self) -> &'static [&'static str] {
        ARRAY_DEFAULT_HEADER
    }

    /// `qconf -sconf`: the global configuration, with `max_aj_tasks`.
    fn site_array_limit(&self) -> Option<CommandSpec> {
        Some(CommandSpec::new("qconf").arg("-sconf"))
    }

    fn parse_site_array_limit(&self, output: &CommandOutput) -> Option<u32> {
        if !output.succeeded() {
            return None;
        }
        parse_max_aj_tasks(&output.stdout_text())
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

    #[test]
    fn no_valid_id_runs_nothing() {
        let s = SgeScheduler;
        let hostile = [SchedulerJobId::new("-u"), SchedulerJobId::new("*")];
        for cmd in [s.cancel(&hostile), s.hold(&[]), s.release(&hostile)] {
            assert_eq!(cmd.to_string(), "true");
        }
    }

    #[test]
    fn array_elements_are_job_dot_task() {
        let s = SgeScheduler;
        let syntax = s.arrays().unwrap();
        assert_eq!((syntax.index_var, syntax.first_index), ("SGE_TASK_ID", 1));
        assert_eq!(
            s.submit_array("/w/grp_a", "xpr_group.sh", "a", 12)
                .unwrap()
                .to_string(),
            "cd /w/grp_a && qsub -terse -t 1-12 xpr_group.sh"
        );
        let array = SchedulerJobId::new("123.1-12:1");
        assert_eq!(s.element_id(&array, 7).unwrap().as_str(), "123.7");
        // A one-element array's reply `123.1-1:1` is stored as `123.1`.
        let single = SchedulerJobId::new("124.1");
        assert_eq!(s.element_id(&single, 1).unwrap().as_str(), "124.1");
        for id in ["123.7", "123.1-12:1", "123"] {
            assert_eq!(s.array_of(&SchedulerJobId::new(id)).as_str(), "123");
        }
        assert_eq!(
            s.cancel(&[SchedulerJobId::new("123.7")]).to_string(),
            "qdel 123.7"
        );
    }

    #[test]
    fn max_aj_tasks_is_the_array_limit() {
        let conf =
            "#global:\nmax_aj_instances             2000\nmax_aj_tasks                 500\n";
        assert_eq!(parse_max_aj_tasks(conf), Some(500));
        assert_eq!(parse_max_aj_tasks("max_aj_tasks 0\n"), None);
        assert_eq!(parse_max_aj_tasks("max_aj_instances 2000\n"), None);
        let failed = CommandOutput {
            code: Some(1),
            stdout: b"max_aj_tasks 500\n".to_vec(),
            stderr: Vec::new(),
        };
        assert_eq!(SgeScheduler.parse_site_array_limit(&failed), None);
    }
}
