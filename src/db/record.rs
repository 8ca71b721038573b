//! The rows of the jobs DB as Rust values: task statuses, records, updates and filters.

use std::fmt;
use std::path::Path;

use regex::Regex;
use serde::Serialize;

use super::DbError;
use crate::ids::{SchedulerJobId, SystemName, TaskId};

/// Where a task stands in xpr's life cycle (ExPyRe's statuses plus the steps xpr writes down
/// before acting, so that a crash can be resumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Recorded; nothing done yet.
    Created,
    /// Inputs are in the remote run dir.
    Staged,
    /// The scheduler is being asked; it may or may not have the job (check by name).
    Submitting,
    /// The scheduler accepted the job.
    Submitted,
    /// The job has started running.
    Started,
    /// The job finished with exit code 0 and its expected outputs.
    Succeeded,
    /// The job finished and failed (non-zero exit, time limit, cancelled, missing outputs...).
    Failed,
    /// The job vanished: the scheduler has no record of how it ended.
    Died,
    /// The caller used the results; an identical task would run anew.
    Processed,
    /// Run directories removed.
    Cleaned,
}

impl TaskStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [TaskStatus; 10] = [
        Self::Created,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
        Self::Succeeded,
        Self::Failed,
        Self::Died,
        Self::Processed,
        Self::Cleaned,
    ];

    /// ExPyRe's group `ongoing`: not finished yet.
    pub const ONGOING: [TaskStatus; 5] = [
        Self::Created,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
    ];

    /// ExPyRe's group `can_produce_results`: ongoing, succeeded or died (a died task may
    /// still have left its outputs).
    pub const CAN_PRODUCE_RESULTS: [TaskStatus; 7] = [
        Self::Created,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
        Self::Succeeded,
        Self::Died,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Staged => "staged",
            Self::Submitting => "submitting",
            Self::Submitted => "submitted",
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Died => "died",
            Self::Processed => "processed",
            Self::Cleaned => "cleaned",
        }
    }

    /// The status with this spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A status or one of ExPyRe's groups (`ongoing`, `can_produce_results`) by name.
    pub fn parse_group(name: &str) -> Option<Vec<Self>> {
        match name {
            "ongoing" => Some(Self::ONGOING.to_vec()),
            "can_produce_results" => Some(Self::CAN_PRODUCE_RESULTS.to_vec()),
            other => Self::from_name(other).map(|s| vec![s]),
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task to add to the DB.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// Its id (unique).
    pub id: TaskId,
    /// The user's name for it.
    pub name: String,
    /// The system it runs on.
    pub system: SystemName,
    /// Identity hash: equal for tasks that would compute the same thing.
    pub identity: String,
    /// The task's spec as JSON (command, inputs, resources ...), to resume it after a crash.
    pub spec: String,
    /// Its remote run dir, when known.
    pub remote_dir: Option<String>,
    /// Its local stage dir, when known.
    pub local_dir: Option<String>,
}

/// One task as the DB holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskRecord {
    /// Its id.
    pub id: TaskId,
    /// The user's name for it.
    pub name: String,
    /// The system it runs on.
    pub system: SystemName,
    /// Where it stands.
    pub status: TaskStatus,
    /// Identity hash.
    pub identity: String,
    /// The spec as JSON.
    pub spec: String,
    /// The scheduler's job id once submitted.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// The scheduler's finer state (`timeout`, `out_of_memory`, `cancelled` ...).
    pub sched_state: Option<String>,
    /// The job's exit code, when known.
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<String>,
    /// Why it ended as it did, when known.
    pub reason: Option<String>,
    /// Remote run dir.
    pub remote_dir: Option<String>,
    /// Local stage dir.
    pub local_dir: Option<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: f64,
    /// When it last changed (seconds since the Unix epoch).
    pub updated_at: f64,
}

/// One task as listings show it: a [`TaskRecord`] without its spec and identity, which only
/// the task's own life needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskSummary {
    /// Its id.
    pub id: TaskId,
    /// The user's name for it.
    pub name: String,
    /// The system it runs on.
    pub system: SystemName,
    /// Where it stands.
    pub status: TaskStatus,
    /// The scheduler's job id once submitted.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// The scheduler's finer state.
    pub sched_state: Option<String>,
    /// The job's exit code, when known.
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<String>,
    /// Why it ended as it did, when known.
    pub reason: Option<String>,
    /// Remote run dir.
    pub remote_dir: Option<String>,
    /// Local stage dir.
    pub local_dir: Option<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: f64,
    /// When it last changed (seconds since the Unix epoch).
    pub updated_at: f64,
}

/// Fields a transition sets; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TaskUpdate {
    /// The scheduler's job id.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// The scheduler's finer state.
    pub sched_state: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Node.
    pub node: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Remote run dir.
    pub remote_dir: Option<String>,
    /// Local stage dir.
    pub local_dir: Option<String>,
    /// A note kept in the history row only.
    pub detail: Option<String>,
}

/// One state change of a task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// When (seconds since the Unix epoch).
    pub at: f64,
    /// The status before (`None` for creation).
    pub from: Option<TaskStatus>,
    /// The status after.
    pub to: TaskStatus,
    /// A note, if any.
    pub detail: Option<String>,
}

/// Which tasks to list: ExPyRe's filters. Empty lists match everything; regexps match the
/// whole value.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Id regexps (`-i`).
    pub ids: Vec<Regex>,
    /// Name regexps (`-n`).
    pub names: Vec<Regex>,
    /// Statuses (`-s`, groups expanded).
    pub statuses: Vec<TaskStatus>,
    /// System regexps (`-S`).
    pub systems: Vec<Regex>,
}

impl TaskFilter {
    /// Builds a filter from regexp texts; each is anchored to match a whole value.
    pub fn from_patterns(
        ids: &[String],
        names: &[String],
        statuses: Vec<TaskStatus>,
        systems: &[String],
    ) -> Result<TaskFilter, regex::Error> {
        let compile = |patterns: &[String]| -> Result<Vec<Regex>, regex::Error> {
            patterns
                .iter()
                .map(|p| Regex::new(&format!("^(?:{p})$")))
                .collect()
        };
        Ok(TaskFilter {
            ids: compile(ids)?,
            names: compile(names)?,
            statuses,
            systems: compile(systems)?,
        })
    }

    /// True when `record` passes every part of the filter (statuses included).
    pub fn matches(&self, record: &TaskRecord) -> bool {
        self.matches_parts(
            record.status,
            record.id.as_str(),
            &record.name,
            record.system.as_str(),
        )
    }

    /// True when `summary` passes every part of the filter (statuses included).
    pub fn matches_summary(&self, summary: &SummaryRef<'_>) -> bool {
        self.matches_parts(summary.status, summary.id, summary.name, summary.system)
    }

    fn matches_parts(&self, status: TaskStatus, id: &str, name: &str, system: &str) -> bool {
        let any =
            |res: &[Regex], value: &str| res.is_empty() || res.iter().any(|r| r.is_match(value));
        (self.statuses.is_empty() || self.statuses.contains(&status))
            && any(&self.ids, id)
            && any(&self.names, name)
            && any(&self.systems, system)
    }
}

/// One task's listing columns borrowed from the DB row being read: what
/// [`Db::for_each_summary`](super::Db::for_each_summary) hands its visitor, so a listing of
/// 100,000 tasks allocates nothing per task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SummaryRef<'a> {
    /// Its id.
    pub id: &'a str,
    /// The user's name for it.
    pub name: &'a str,
    /// The system it runs on.
    pub system: &'a str,
    /// Where it stands.
    pub status: TaskStatus,
    /// The scheduler's job id once submitted.
    pub scheduler_job_id: Option<&'a str>,
    /// The scheduler's finer state.
    pub sched_state: Option<&'a str>,
    /// The job's exit code, when known.
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<&'a str>,
    /// Why it ended as it did, when known.
    pub reason: Option<&'a str>,
    /// Remote run dir.
    pub remote_dir: Option<&'a str>,
    /// Local stage dir.
    pub local_dir: Option<&'a str>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: f64,
    /// When it last changed (seconds since the Unix epoch).
    pub updated_at: f64,
}

impl SummaryRef<'_> {
    /// An owned copy.
    pub fn to_summary(&self) -> TaskSummary {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        TaskSummary {
            id: TaskId::new(self.id),
            name: self.name.to_owned(),
            system: SystemName::new(self.system),
            status: self.status,
            scheduler_job_id: self.scheduler_job_id.map(SchedulerJobId::new),
            sched_state: owned(self.sched_state),
            exit_code: self.exit_code,
            node: owned(self.node),
            reason: owned(self.reason),
            remote_dir: owned(self.remote_dir),
            local_dir: owned(self.local_dir),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Reads the columns of `super::SUMMARY_COLUMNS`, in order, borrowing the texts.
pub(super) fn summary_from_row<'a>(
    row: &'a rusqlite::Row<'_>,
    path: &Path,
) -> Result<SummaryRef<'a>, DbError> {
    let sql = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let text = |i: usize| -> Result<Option<&'a str>, DbError> {
        let value = row.get_ref(i).map_err(sql)?;
        match value {
            rusqlite::types::ValueRef::Null => Ok(None),
            other => other.as_str().map(Some).map_err(|e| {
                sql(rusqlite::Error::FromSqlConversionFailure(
                    i,
                    other.data_type(),
                    Box::new(e),
                ))
            }),
        }
    };
    let id = text(0)?.unwrap_or("");
    let status_text = text(3)?.unwrap_or("");
    let status = TaskStatus::from_name(status_text).ok_or_else(|| DbError::Corrupt {
        path: path.to_path_buf(),
        id: id.to_owned(),
        column: "status",
        value: status_text.to_owned(),
    })?;
    Ok(SummaryRef {
        id,
        name: text(1)?.unwrap_or(""),
        system: text(2)?.unwrap_or(""),
        status,
        scheduler_job_id: text(4)?,
        sched_state: text(5)?,
        exit_code: row.get(6).map_err(sql)?,
        node: text(7)?,
        reason: text(8)?,
        remote_dir: text(9)?,
        local_dir: text(10)?,
        created_at: row.get(11).map_err(sql)?,
        updated_at: row.get(12).map_err(sql)?,
    })
}

/// A row as SQLite returns it, before its texts are checked.
pub(super) struct RawRow {
    id: String,
    name: String,
    system: String,
    status: String,
    identity: String,
    spec: String,
    scheduler_job_id: Option<String>,
    sched_state: Option<String>,
    exit_code: Option<i32>,
    node: Option<String>,
    reason: Option<String>,
    remote_dir: Option<String>,
    local_dir: Option<String>,
    created_at: f64,
    updated_at: f64,
}

impl RawRow {
    /// Reads the columns of `super::COLUMNS`, in order.
    pub(super) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            id: row.get(0)?,
            name: row.get(1)?,
            system: row.get(2)?,
            status: row.get(3)?,
            identity: row.get(4)?,
            spec: row.get(5)?,
            scheduler_job_id: row.get(6)?,
            sched_state: row.get(7)?,
            exit_code: row.get(8)?,
            node: row.get(9)?,
            reason: row.get(10)?,
            remote_dir: row.get(11)?,
            local_dir: row.get(12)?,
            created_at: row.get(13)?,
            updated_at: row.get(14)?,
        })
    }

    pub(super) fn into_record(self, path: &Path) -> Result<TaskRecord, DbError> {
        let status = TaskStatus::from_name(&self.status).ok_or_else(|| DbError::Corrupt {
            path: path.to_path_buf(),
            id: self.id.clone(),
            column: "status",
            value: self.status.clone(),
        })?;
        Ok(TaskRecord {
            id: TaskId::new(self.id),
            name: self.name,
            system: SystemName::new(self.system),
            status,
            identity: self.identity,
            spec: self.spec,
            scheduler_job_id: self.scheduler_job_id.map(SchedulerJobId::new),
            sched_state: self.sched_state,
            exit_code: self.exit_code,
            node: self.node,
            reason: self.reason,
            remote_dir: self.remote_dir,
            local_dir: self.local_dir,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}
