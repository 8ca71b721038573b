//! Why a task failed, in one place: [`Session::failure_report`].
//!
//! A [`FailureReport`] gathers what is otherwise spread over the DB, the scheduler's
//! accounting and three log files: the end state (the failure class), the exit code, xpr's
//! reason, the scheduler's own words, how long the job ran and its peak memory, where its run
//! dir is, and the error lines of its logs ([`crate::analysis`]) with file and line.
//!
//! Nothing here talks to a remote side: the report reads the jobs DB and the local run dir
//! (a finished task's run dir came back with it; a task still running has nothing local to
//! scan yet). The error rules are the task's system's (from the config as it is now, so a
//! whitelist tuned after the fact applies at once) under the task's own, which hold a
//! profile's, merged in at start.
//!
//! # Where the figures come from
//!
//! | field | source |
//! |---|---|
//! | `scheduler_reason`, `peak_memory_kb` | the scheduler's accounting of the attempt ([`JobStatus`](crate::scheduler::JobStatus)), once the DB keeps it; `None` before |
//! | `elapsed_secs` | the same accounting; else the job's own markers: `xpr.started` (the start time the job wrote) to the time `xpr.exit` was written |
//! | `errors` | the logs in the local run dir, scanned now: `xpr.stderr`, `xpr.stdout` (the command's), `job.<id>.stderr`, `job.<id>.stdout` (the scheduler's: Slurm writes `CANCELLED ... DUE TO TIME LIMIT` there) |

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::{Session, SessionError};
use crate::analysis::{ErrorFindings, ErrorScanner};
use crate::config::ErrorRules;
use crate::db::{EndState, TaskRecord, TaskStatus};
use crate::ids::{SchedulerJobId, SystemName, TaskId};
use crate::task::{EXIT_FILE, STARTED_FILE, STDERR_FILE, STDOUT_FILE};

/// Where a figure of a [`FailureReport`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FigureSource {
    /// The scheduler's accounting of the attempt.
    Accounting,
    /// The job's own marker files (`xpr.started`, `xpr.exit`), written on the compute node.
    JobMarkers,
}

/// Why task ended as it did (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailureReport {
    /// The task.
    pub id: TaskId,
    /// The user's name for it.
    pub name: String,
    /// The system it ran on.
    pub system: SystemName,
    /// Its status.
    pub status: TaskStatus,
    /// How its current attempt ended: the failure class (`timeout`, `out_of_memory`,
    /// `failed` ...); `None` while it runs.
    pub end_state: Option<EndState>,
    /// The exit code, when known.
    pub exit_code: Option<i32>,
    /// xpr's own account of the end (`exit code 1; stderr ends: ...`).
    pub reason: Option<String>,
    /// The current attempt's number (0 before the first submission).
    pub attempt: u32,
    /// The scheduler's job id of the current attempt.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// The node it ran on, when known.
    pub node: Option<String>,
    /// The scheduler's own words on the end (`TIMEOUT`, `failed 37: qmaster enforced h_rt
    /// ...`), from accounting.
    pub scheduler_reason: Option<String>,
    /// How long the job ran, in seconds.
    pub elapsed_secs: Option<u64>,
    /// Where [`elapsed_secs`](Self::elapsed_secs) came from.
    pub elapsed_source: Option<FigureSource>,
    /// The job's peak memory in kB as its scheduler measured it (sampled: a short job may
    /// have none).
    pub peak_memory_kb: Option<u64>,
    /// The local run dir: the remote run dir as it came back.
    pub run_dir: PathBuf,
    /// The remote run dir, when known.
    pub remote_dir: Option<String>,
    /// True when error lines fail this task (its `error_lines_fail`, or its profile's or
    /// system's).
    pub error_lines_fail: bool,
    /// The error lines of its logs.
    pub errors: ErrorFindings,
}

/// The logs scanned, most telling first: the command's stderr and stdout, then the
/// scheduler's files of the default headers (`job.{id}.stderr`, `job.{id}.stdout`).
pub fn log_names(id: &TaskId) -> Vec<String> {
    vec![
        STDERR_FILE.to_owned(),
        STDOUT_FILE.to_owned(),
        format!("job.{id}.stderr"),
        format!("job.{id}.stdout"),
    ]
}

impl Session {
    /// Why task `id` ended as it did (see the module docs); also for a task that succeeded
    /// or still runs, with what is known so far. A task whose stored spec cannot be read (a
    /// row another tool wrote) is judged by its system's rules alone.
    pub fn failure_report(&self, id: &TaskId) -> Result<FailureReport, SessionError> {
        let record = self.get(id)?;
        let rules = match self.error_rules(&record) {
            Ok(rules) => rules,
            Err(SessionError::Db(e)) => {
                tracing::debug!(task = %id, error = %e, "no task error rules: spec unreadable");
                self.system_error_rules(&record)
            }
            Err(e) => return Err(e),
        };
        let errors = self.error_findings(&record, &rules)?;
        let attempts = self.db().attempts(id)?;
        let current = attempts.iter().rev().find(|a| a.number == record.attempt);
        let run_dir = self.local_run_dir(id);
        let (elapsed_secs, elapsed_source) = match (
            current.and_then(|a| a.elapsed_secs),
            marker_elapsed(&run_dir),
        ) {
            (Some(secs), _) => (Some(secs), Some(FigureSource::Accounting)),
            (None, Some(secs)) => (Some(secs), Some(FigureSource::JobMarkers)),
            (None, None) => (None, None),
        };
        Ok(FailureReport {
            id: record.id.clone(),
            name: record.name.clone(),
            system: record.system.clone(),
            status: record.status,
            end_state: record.end_state,
            exit_code: record.exit_code,
            reason: record.reason.clone(),
            attempt: record.attempt,
            scheduler_job_id: record.scheduler_job_id.clone(),
            node: record
                .node
                .clone()
                .or_else(|| current.and_then(|a| a.node.clone())),
            scheduler_reason: current.and_then(|a| a.scheduler_reason.clone()),
            elapsed_secs,
            elapsed_source,
            peak_memory_kb: current.and_then(|a| a.peak_memory_kb),
            run_dir,
            remote_dir: record.remote_dir.clone(),
            error_lines_fail: rules.lines_fail(),
            errors,
        })
    }

    /// The error rules in force for `record`: its system's (as configured now; none when the
    /// system is no longer configured) under the task's own (which hold its profile's).
    pub fn error_rules(&self, record: &TaskRecord) -> Result<ErrorRules, SessionError> {
        let spec = self.stored(record)?.spec;
        Ok(self.system_error_rules(record).then(&spec.error_rules))
    }

    /// The error rules of `record`'s system as configured now (none when it is not).
    fn system_error_rules(&self, record: &TaskRecord) -> ErrorRules {
        self.inner
            .config
            .config
            .system(record.system.as_str())
            .map(|s| s.error_rules.clone())
            .unwrap_or_default()
    }

    /// The error lines of `record`'s logs in its local run dir, by `rules` (reads at most the
    /// last few MB of each log; a log not there is skipped). What the engine gives
    /// [`EndFacts::error_lines`](super::EndFacts::error_lines) when the task opted in to
    /// `error_lines_fail`.
    pub fn error_findings(
        &self,
        record: &TaskRecord,
        rules: &ErrorRules,
    ) -> Result<ErrorFindings, SessionError> {
        let scanner = ErrorScanner::new(rules).map_err(|source| SessionError::Analysis {
            task: record.id.clone(),
            source,
        })?;
        let dir = self.local_run_dir(&record.id);
        let names = log_names(&record.id);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        scanner
            .scan_files(&dir, &names)
            .map_err(SessionError::io("reading the logs in", &dir))
    }
}

/// Seconds from the start the job wrote in `xpr.started` (`<unix time> <host>`) to the time
/// it wrote `xpr.exit` (its modification time, kept by the tar stream that brought it back;
/// both are the compute node's clock).
fn marker_elapsed(run_dir: &Path) -> Option<u64> {
    let started: u64 = fs::read_to_string(run_dir.join(STARTED_FILE))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let ended = fs::metadata(run_dir.join(EXIT_FILE))
        .ok()?
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs();
    ended.checked_sub(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_from_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(marker_elapsed(dir.path()), None);
        fs::write(dir.path().join(EXIT_FILE), "1\n").unwrap();
        let written = fs::metadata(dir.path().join(EXIT_FILE))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        fs::write(
            dir.path().join(STARTED_FILE),
            format!("{} node7\n", written - 42),
        )
        .unwrap();
        assert_eq!(marker_elapsed(dir.path()), Some(42));
        fs::write(dir.path().join(STARTED_FILE), "garbage\n").unwrap();
        assert_eq!(marker_elapsed(dir.path()), None);
    }

    #[test]
    fn logs_most_telling_first() {
        assert_eq!(
            log_names(&TaskId::new("t1")),
            ["xpr.stderr", "xpr.stdout", "job.t1.stderr", "job.t1.stdout"]
        );
    }
}
