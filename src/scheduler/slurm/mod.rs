//! The Slurm adapter: `sbatch`, `squeue`, `sacct`, `scancel`, `scontrol hold|release` as
//! [`CommandSpec`]s, and parsers of their replies. Pure: nothing here runs a process.
//!
//! # Commands (`{ids}` is the ids joined by `,`)
//!
//! | operation | command |
//! |---|---|
//! | submit | `sbatch --parsable SCRIPT`, run in the job directory |
//! | status | `squeue --noheader --array --states=all --jobs={ids} --format=%i\|%T\|%r\|%N\|%j` |
//! | submit an array of N | `sbatch --parsable --array=0-(N-1) SCRIPT`; element `i` is `ID_i` |
//! | array size limit | `scontrol show config` (`MaxArraySize`, which caps the index) |
//! | accounting | `sacct --noheader --parsable2 --jobs={ids} --format=JobID,State,ExitCode,NodeList,ElapsedRaw,MaxRSS,Reason,JobName` |
//! | find by name | `sh -c FIND_SCRIPT sh {names} SQUEUE_FORMAT SACCT_FORMAT FIND_MARKER FIND_STARTTIME`: squeue then sacct, both by `--name` and `--user=$(id -un)` |
//! | cancel | `scancel ID...` |
//! | hold / release | `scontrol hold ID...` / `scontrol release ID...` |
//!
//! An empty id or name list gives the no-op `true` (an empty `--jobs=` would list every job).
//!
//! # Why these forms
//!
//! - Machine-readable, one line per job, one command for many jobs. The job name, the only
//!   value a user chooses, is the last column, so a `|` inside it cannot shift the others.
//! - `squeue --states=all`: without it, squeue hides jobs that ended in the last `MinJobAge`
//!   seconds. squeue exits 1 with `slurm_load_jobs error: Invalid job id specified` when the
//!   only id asked for has been purged; [`parse_status`](Scheduler::parse_status) reads that
//!   as "no jobs listed", any other failure is an error.
//! - `sacct` without `--allocations` (`-X`): Slurm sometimes records an OOM kill only on a step
//!   (`123.batch OUT_OF_MEMORY`) while the job row says `FAILED`, or even `COMPLETED 0:0`
//!   when the script carried on after a step was killed; the steps are read so that such a job
//!   is reported as out of memory. Without `--duplicates` sacct lists a requeued job once,
//!   with its last run; if a reply lists an id twice anyway, the last record wins.
//!   `--jobs` without `--starttime` searches all of history (sacct's documented default).
//! - `ElapsedRaw` (seconds) rather than `Elapsed` (`[D-]HH:MM:SS`): one number to read.
//!   `MaxRSS` is empty on a job's own row and set on its steps (`123.batch`), sampled every
//!   `JobAcctGatherFrequency` (30 s by default) by `jobacct_gather`: the job's peak memory is
//!   the largest over its steps, and a job shorter than one sample may have none.
//!   `Reason` is the job's last state reason (`None` for most ended jobs).
//! - find by name runs both: squeue knows a just-submitted job before slurmdbd does (the
//!   controller sends records to the database asynchronously, and not at all while it is
//!   down), and sacct still knows jobs the controller has purged. sacct alone would miss the
//!   first, squeue alone the second. sacct needs `--starttime` here (without `--jobs` it
//!   defaults to today); [`FIND_STARTTIME`] reaches back far enough for any job xpr could
//!   have lost. Both filter by the calling user so another user's job of the same name is
//!   never adopted. A job in both lists is taken from sacct once sacct has its final state,
//!   else from squeue (fresher while it runs). The script is a constant; names and formats are
//!   positional arguments, never pasted into it.
//!
//! # Resource lines
//!
//! With `"resource_lines": true` ([`RESOURCE_LINES`]): memory per node as `--mem` (a total
//! or per-task request) or per core as `--mem-per-cpu` (a per-core request), in kB (`K`,
//! Slurm's binary kilobytes, ExPyRe's unit); GPUs per node as `--gres=gpu:N` (generic
//! resources work on every Slurm version, `--gpus-per-node` only with `select/cons_tres`);
//! the account as `--account`.
//!
//! The cluster name of a multi-cluster reply (`123;cluster`, `... on cluster X`) is dropped:
//! the system's environment (e.g. `SLURM_CLUSTERS`) must point later commands at that cluster.
//!
//! # Records
//!
//! [`parse_table`] reads any delimited squeue/sacct table into [`SlurmRecord`]s given a
//! [`TableLayout`]; the trait's parsers use the adapter's own layouts ([`squeue_layout`],
//! [`sacct_layout`]), and tests use other layouts for real outputs captured with other
//! formats. [`parse_sacct_json`] and [`parse_scontrol_show_job`] read the other two formats
//! Slurm has for the same facts.

mod json;
mod scontrol;
mod state;
mod table;

pub use json::parse_sacct_json;
pub use scontrol::parse_scontrol_show_job;
pub use state::{ExitCode, base_state, map_state, reason_is_held, reported_exit};
pub use table::{
    Field, SlurmRecord, TableLayout, first_node, is_valid_job_id, parse_slurm_duration,
    parse_table, split_job_id,
};

use crate::command::{CommandOutput, CommandSpec, shell_program};
use crate::ids::SchedulerJobId;
use crate::resources::{MemRequest, NodeAllocation};
use crate::scheduler::{ArraySyntax, JobState, JobStatus, ParseError, Scheduler, SchedulerKind};
use table::parse_error;

/// The header lines xpr adds unless a system sets `no_default_header` (as ExPyRe does).
pub const DEFAULT_HEADER: &[&str] = &[
    "#SBATCH --job-name={job_name}",
    "#SBATCH --partition={partition}",
    "#SBATCH --time={max_time}",
    "#SBATCH --output=job.{id}.stdout",
    "#SBATCH --error=job.{id}.stderr",
];

/// The resource lines: memory per node, memory per core, GPUs per node, account.
pub const RESOURCE_LINES: [&str; 4] = [
    "#SBATCH --mem={mem_per_node}K",
    "#SBATCH --mem-per-cpu={max_mem_per_core}K",
    "#SBATCH --gres=gpu:{gpus}",
    "#SBATCH --account={account}",
];

/// The `squeue --format` of status and find-by-name: id, long state, reason, node list, name
/// (last, see the module docs).
pub const SQUEUE_FORMAT: &str = "%i|%T|%r|%N|%j";

/// The `sacct --format` of accounting and find-by-name: id (with steps), state, exit code,
/// node list, run time in seconds, peak memory, reason, name (last).
pub const SACCT_FORMAT: &str = "JobID,State,ExitCode,NodeList,ElapsedRaw,MaxRSS,Reason,JobName";

/// The line the find-by-name command prints between squeue's rows and sacct's; its presence
/// proves squeue succeeded.
pub const FIND_MARKER: &str = "--- sacct ---";

/// How far back find-by-name asks sacct to look.
pub const FIND_STARTTIME: &str = "2000-01-01T00:00:00";

/// The find-by-name script, run as `sh -c FIND_SCRIPT sh NAMES SQUEUE_FORMAT SACCT_FORMAT
/// FIND_MARKER FIND_STARTTIME`. A constant: every value arrives as a positional argument.
/// Kept in `find_by_name.sh`; `tests/testbed/capture/slurm.sh` carries a copy (a test checks
/// they agree).
pub const FIND_SCRIPT: &str = shell_program!(include_str!("find_by_name.sh"));

/// The layout of [`SQUEUE_FORMAT`].
pub fn squeue_layout() -> TableLayout {
    TableLayout::new(
        "|",
        [
            Field::JobId,
            Field::State,
            Field::Reason,
            Field::NodeList,
            Field::Name,
        ],
    )
}

/// The layout of [`SACCT_FORMAT`] under `--parsable2`.
pub fn sacct_layout() -> TableLayout {
    TableLayout::new(
        "|",
        [
            Field::JobId,
            Field::State,
            Field::ExitCode,
            Field::NodeList,
            Field::Elapsed,
            Field::MaxRss,
            Field::Reason,
            Field::Name,
        ],
    )
}

/// The status of one table row; the row must have an id and a state.
fn record_status(record: SlurmRecord, what: &'static str) -> Result<JobStatus, ParseError> {
    let (Some(id), Some(raw)) = (record.id, record.state) else {
        return Err(parse_error(
            what,
            "a row lacks the job id or state column",
            None,
        ));
    };
    let state = map_state(&raw, record.reason.as_deref(), record.exit);
    // sacct's Reason is the job's last state reason, which for a job that ran to a clean
    // end is often the one it was pending for (`Dependency`): not said of a success.
    let end_reason_word = record
        .reason
        .as_deref()
        .filter(|_| state != JobState::Succeeded);
    let scheduler_reason = state
        .is_final()
        .then(|| end_reason(&raw, end_reason_word, record.exit));
    Ok(JobStatus {
        id,
        name: record.name,
        raw_state: base_state(&raw).to_owned(),
        exit_code: reported_exit(&state, record.exit),
        state,
        node: record.node,
        reason: record.reason,
        elapsed_secs: record.elapsed_secs,
        peak_memory_kb: record.max_rss_kb,
        scheduler_reason,
    })
}

/// Slurm's own words on how a job ended: its state as printed (`CANCELLED by 1001`), its
/// reason unless `None`, and the signal of its exit code: `TIMEOUT`, `FAILED, exit code 2:0`,
/// `CANCELLED by 1001, signal 15`, `PENDING ... reason DependencyNeverSatisfied`.
pub fn end_reason(raw_state: &str, reason: Option<&str>, exit: Option<ExitCode>) -> String {
    let mut text = raw_state.trim().to_owned();
    if let Some(exit) = exit.filter(|e| !e.is_clean()) {
        text.push_str(&format!(", exit code {}:{}", exit.code, exit.signal));
    }
    if let Some(reason) = reason {
        text.push_str(&format!(", reason {reason}"));
    }
    text
}

/// One status per job from sacct rows (jobs and their steps, in sacct's order: a job row,
/// then its steps). A job listed again replaces the earlier record and its steps (the last
/// run of a requeued job wins); an `OUT_OF_MEMORY` step makes a `FAILED` or `COMPLETED` job
/// [`JobState::OutOfMemory`] (its [`JobStatus::scheduler_reason`] names the step). The
/// job's peak memory is the largest `MaxRSS` of the job row and its steps. Step rows of a job
/// without a job row are ignored.
pub fn merge_accounting(
    records: Vec<SlurmRecord>,
    what: &'static str,
) -> Result<Vec<JobStatus>, ParseError> {
    /// A job row and what its steps add: the first OOM step's name, the largest MaxRSS.
    struct Job {
        record: SlurmRecord,
        oom_step: Option<String>,
        max_rss_kb: Option<u64>,
    }
    let mut jobs: Vec<Job> = Vec::new();
    for record in records {
        let Some(id) = record.id.clone() else {
            return Err(parse_error(what, "a row lacks the job id column", None));
        };
        let known = jobs.iter().position(|j| j.record.id.as_ref() == Some(&id));
        let fresh = |record: SlurmRecord| Job {
            max_rss_kb: record.max_rss_kb,
            record,
            oom_step: None,
        };
        match (&record.step, known) {
            (None, Some(i)) => jobs[i] = fresh(record),
            (None, None) => jobs.push(fresh(record)),
            (Some(step), Some(i)) => {
                let job = &mut jobs[i];
                if job.oom_step.is_none()
                    && record.state.as_deref().is_some_and(state::is_oom_state)
                {
                    job.oom_step = Some(step.clone());
                }
                job.max_rss_kb = job.max_rss_kb.max(record.max_rss_kb);
            }
            (Some(_), None) => {}
        }
    }
    jobs.into_iter()
        .map(|job| {
            let mut status = record_status(job.record, what)?;
            status.peak_memory_kb = job.max_rss_kb;
            if let Some(step) = job.oom_step
                && matches!(status.state, JobState::Succeeded | JobState::Failed { .. })
            {
                status.state = JobState::OutOfMemory;
                if let Some(reason) = &mut status.scheduler_reason {
                    reason.push_str(&format!(", step {step} OUT_OF_MEMORY"));
                }
            }
            Ok(status)
        })
        .collect()
}

/// An error for a command that did not exit 0, showing its stderr.
fn exit_error(output: &CommandOutput, what: &'static str, program: &str) -> ParseError {
    let how = match output.code {
        Some(code) => format!("{program} exited with code {code}"),
        None => format!("{program} was killed by a signal"),
    };
    let stderr = output.stderr_text();
    let stderr = stderr.trim();
    parse_error(what, how, (!stderr.is_empty()).then_some(stderr))
}

/// Ids joined by `,`, as `--jobs=` takes them.
fn id_list(ids: &[SchedulerJobId]) -> String {
    ids.iter()
        .map(SchedulerJobId::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The job id of one sbatch reply line, if the line is one: `123`, `123;cluster`,
/// `Submitted batch job 123`, `Submitted batch job 123 on cluster X`, `sbatch: Submitted ...`.
/// `Some(Err(text))` when the line has the shape of a reply but not a valid id.
fn submit_line(line: &str) -> Option<Result<SchedulerJobId, String>> {
    let line = line.trim();
    let line = line.strip_prefix("sbatch: ").unwrap_or(line);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let id = if let Some(rest) = line.strip_prefix("Submitted batch job") {
        let mut words = rest.split_whitespace();
        let id = words.next().unwrap_or("");
        let tail: Vec<&str> = words.collect();
        let tail_ok =
            tail.is_empty() || (tail.len() == 3 && tail[0] == "on" && tail[1] == "cluster");
        if !digits(id) || !tail_ok {
            return Some(Err(line.to_owned()));
        }
        id
    } else {
        let id = line.split_once(';').map_or(line, |(id, _cluster)| id);
        if !digits(id) {
            return None;
        }
        id
    };
    Some(Ok(SchedulerJobId::new(id)))
}

/// The Slurm adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlurmScheduler;

impl Scheduler for SlurmScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Slurm
    }

    fn default_header(&self) -> &'static [&'static str] {
        DEFAULT_HEADER
    }

    /// `--mem` or `--mem-per-cpu` in the form the request gave (Slurm refuses both at once),
    /// `--gres=gpu:N`, `--account` (see the module docs).
    fn resource_header(&self, alloc: &NodeAllocation) -> Vec<&'static str> {
        let [mem, mem_per_cpu, gpus, account] = RESOURCE_LINES;
        let mut lines = Vec::new();
        match alloc.mem {
            Some(MemRequest::PerCore(_)) => lines.push(mem_per_cpu),
            Some(MemRequest::Total(_) | MemRequest::PerTask(_)) => lines.push(mem),
            None => {}
        }
        if alloc.gpus.is_some() {
            lines.push(gpus);
        }
        if alloc.account.is_some() {
            lines.push(account);
        }
        lines
    }

    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        CommandSpec::new("sbatch")
            .arg("--parsable")
            .arg(script)
            .cwd(job_dir)
    }

    /// Takes the one line holding a job id; other lines (site banners, warnings) are skipped.
    /// Fails when sbatch did not exit 0, when no line or more than one line holds an id, or
    /// when a `Submitted batch job` line holds no valid id.
    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        const WHAT: &str = "sbatch reply";
        if !output.succeeded() {
            return Err(exit_error(output, WHAT, "sbatch"));
        }
        let stdout = output.stdout_text();
        let mut found = Vec::new();
        for line in stdout.lines() {
            match submit_line(line) {
                Some(Ok(id)) => found.push(id),
                Some(Err(text)) => {
                    return Err(parse_error(WHAT, "not a valid Slurm job id", Some(&text)));
                }
                None => {}
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(parse_error(WHAT, "no job id found", Some(stdout.trim()))),
            n => Err(parse_error(
                WHAT,
                format!("{n} lines look like job ids, expected one"),
                Some(stdout.trim()),
            )),
        }
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        if ids.is_empty() {
            return CommandSpec::new("true");
        }
        CommandSpec::new("squeue").args([
            "--noheader".to_owned(),
            // One line per array element, pending ones too (not `123_[0-9]`).
            "--array".to_owned(),
            "--states=all".to_owned(),
            format!("--jobs={}", id_list(ids)),
            format!("--format={SQUEUE_FORMAT}"),
        ])
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        const WHAT: &str = "squeue output";
        // squeue fails this way when the only id it was given is no longer known (purged
        // after MinJobAge); with several ids it lists the known ones and exits 0.
        let purged =
            output.code == Some(1) && output.stderr_text().contains("Invalid job id specified");
        if !output.succeeded() && !purged {
            return Err(exit_error(output, WHAT, "squeue"));
        }
        parse_table(&output.stdout_text(), &squeue_layout(), WHAT)?
            .into_iter()
            .map(|r| record_status(r, WHAT))
            .collect()
    }

    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        if ids.is_empty() {
            return CommandSpec::new("true");
        }
        CommandSpec::new("sacct").args([
            "--noheader".to_owned(),
            "--parsable2".to_owned(),
            format!("--jobs={}", id_list(ids)),
            format!("--format={SACCT_FORMAT}"),
        ])
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        const WHAT: &str = "sacct output";
        if !output.succeeded() {
            return Err(exit_error(output, WHAT, "sacct"));
        }
        let records = parse_table(&output.stdout_text(), &sacct_layout(), WHAT)?;
        merge_accounting(records, WHAT)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        if names.is_empty() {
            return CommandSpec::new("printf").args(["%s\\n", FIND_MARKER]);
        }
        CommandSpec::new("sh").args([
            "-c",
            FIND_SCRIPT,
            "sh",
            &names.join(","),
            SQUEUE_FORMAT,
            SACCT_FORMAT,
            FIND_MARKER,
            FIND_STARTTIME,
        ])
    }

    /// Names may match more widely than asked (Slurm splits `--name` at commas): callers
    /// compare [`JobStatus::name`] with the names they look for.
    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        const WHAT: &str = "find-by-name output";
        if !output.succeeded() {
            return Err(exit_error(output, WHAT, "squeue/sacct"));
        }
        let stdout = output.stdout_text();
        let (live, accounted) = split_at_marker(&stdout).ok_or_else(|| {
            parse_error(
                WHAT,
                format!("no {FIND_MARKER:?} line: squeue did not finish"),
                Some(stdout.trim()),
            )
        })?;
        let live: Vec<JobStatus> = parse_table(live, &squeue_layout(), WHAT)?
            .into_iter()
            .map(|r| record_status(r, WHAT))
            .collect::<Result<_, _>>()?;
        let accounted = merge_accounting(parse_table(accounted, &sacct_layout(), WHAT)?, WHAT)?;
        let mut merged = live;
        for status in accounted {
            match merged.iter_mut().find(|s| s.id == status.id) {
                Some(seen) if status.state.is_final() => *seen = status,
                Some(_) => {}
                None => merged.push(status),
            }
        }
        Ok(merged)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        id_command(["scancel"], ids)
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        id_command(["scontrol", "hold"], ids)
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        id_command(["scontrol", "release"], ids)
    }

    fn site_job_limit(&self) -> Option<CommandSpec> {
        // The user's name is the login's own (`id -un`), never a value pasted in.
        Some(CommandSpec::new("sh").args([
            "-c",
            "sacctmgr -n -P show assoc where user=\"$(id -un)\" format=MaxSubmitJobs",
        ]))
    }

    /// The smallest cap over the user's associations (one per account or partition): the
    /// one that bites first. Blank lines are associations without a cap.
    fn parse_site_job_limit(&self, output: &CommandOutput) -> Option<u32> {
        if !output.succeeded() {
            return None;
        }
        output
            .stdout_text()
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .min()
    }

    fn user_jobs(&self) -> Option<CommandSpec> {
        Some(CommandSpec::new("squeue").args(["--me", "-h", "-o", "%i"]))
    }

    fn arrays(&self) -> Option<ArraySyntax> {
        Some(ArraySyntax {
            index_var: "SLURM_ARRAY_TASK_ID",
            first_index: 0,
            // `MaxArraySize`'s default: it caps the index, so 1001 elements 0..=1000.
            default_limit: 1001,
        })
    }

    fn submit_array(
        &self,
        job_dir: &str,
        script: &str,
        _name: &str,
        count: u32,
    ) -> Option<CommandSpec> {
        Some(
            CommandSpec::new("sbatch")
                .arg("--parsable")
                .arg(format!("--array=0-{}", count.saturating_sub(1)))
                .arg(script)
                .cwd(job_dir),
        )
    }

    fn element_id(&self, array: &SchedulerJobId, index: u32) -> Option<SchedulerJobId> {
        Some(SchedulerJobId::new(format!("{array}_{index}")))
    }

    /// `123_7`, `123_[0-9]` -> `123`.
    fn array_of(&self, id: &SchedulerJobId) -> SchedulerJobId {
        let text = id.as_str();
        SchedulerJobId::new(text.split_once('_').map_or(text, |(array, _)| array))
    }

    fn site_array_limit(&self) -> Option<CommandSpec> {
        Some(CommandSpec::new("scontrol").args(["show", "config"]))
    }

    /// `MaxArraySize = 1001` caps the index, so an array has at most that many elements
    /// (indices 0 to 1000).
    fn parse_site_array_limit(&self, output: &CommandOutput) -> Option<u32> {
        if !output.succeeded() {
            return None;
        }
        output.stdout_text().lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "MaxArraySize")
                .then(|| value.trim().parse::<u32>().ok())
                .flatten()
        })
    }
}

/// `PROGRAM ARGS... ID...`, or `true` for no ids.
fn id_command<const N: usize>(words: [&str; N], ids: &[SchedulerJobId]) -> CommandSpec {
    if ids.is_empty() {
        return CommandSpec::new("true");
    }
    CommandSpec::new(words[0])
        .args(&words[1..])
        .args(ids.iter().map(SchedulerJobId::as_str))
}

/// Splits find-by-name output at the marker line: (squeue part, sacct part).
fn split_at_marker(stdout: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for line in stdout.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == FIND_MARKER {
            return Some((&stdout[..offset], &stdout[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies of `sacctmgr -n -P show assoc where user=... format=MaxSubmitJobs` on the test
    /// bed's Slurm 22.05.8: one line per association, blank where none is set.
    #[test]
    fn the_site_job_limit_is_the_smallest_set_cap() {
        let limit = |out: &str| SlurmScheduler.parse_site_job_limit(&CommandOutput::success(out));
        assert_eq!(limit("3\n"), Some(3));
        assert_eq!(limit("\n12\n4\n"), Some(4));
        assert_eq!(limit("\n"), None, "an association without a cap");
        assert_eq!(limit(""), None, "no association at all");
    }

    #[test]
    fn formats_match_layouts() {
        let squeue_fields = SQUEUE_FORMAT.split('|').count();
        assert_eq!(squeue_fields, squeue_layout().fields().len());
        let sacct = TableLayout::from_sacct_header(&SACCT_FORMAT.replace(',', "|"), "|");
        assert_eq!(sacct, sacct_layout());
    }

    #[test]
    fn marker_split() {
        assert_eq!(
            split_at_marker("a\n--- sacct ---\nb\n"),
            Some(("a\n", "b\n"))
        );
        assert_eq!(split_at_marker("--- sacct ---"), Some(("", "")));
        assert_eq!(split_at_marker("a\n"), None);
    }
}
