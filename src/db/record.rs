//! The rows of the jobs DB as Rust values: one record type ([`TaskRecord`]: a
//! [`TaskSummary`] plus the spec and identity only a task's own life needs), its borrowed form
//! for listings ([`SummaryRef`]), attempts, updates and filters.

use std::ops::Deref;
use std::path::Path;

use regex::Regex;
use serde::Serialize;

use super::DbError;
use super::state::{DependencyKind, EndState, TaskStatus};
use crate::ids::{GroupId, SchedulerJobId, SystemName, TaskId};

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
    /// The sweep it belongs to, if any (`xpr ls --sweep NAME`).
    pub sweep: Option<String>,
}

/// One task as listings show it: everything but its spec and identity. The job fields are
/// the current attempt's (the one running, or the last one when the task has ended); earlier
/// attempts are in [`Db::attempts`](super::Db::attempts).
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
    /// The current attempt's number (1, 2 ...); 0 before the first submission and after a
    /// reset by hand.
    pub attempt: u32,
    /// The scheduler's job id of the current attempt.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// How the task ended (set with the status that ends it).
    pub end_state: Option<EndState>,
    /// The exit code, when known (the command's own when
    /// [`EndState::ran_to_end`], else what the kill left).
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<String>,
    /// Why it ended as it did, when known.
    pub reason: Option<String>,
    /// When its cancellation was asked for (seconds since the Unix epoch), if it was.
    pub cancel_requested_at: Option<f64>,
    /// Remote run dir.
    pub remote_dir: Option<String>,
    /// Local stage dir.
    pub local_dir: Option<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: f64,
    /// When it last changed (seconds since the Unix epoch).
    pub updated_at: f64,
}

impl TaskSummary {
    /// True when its cancellation was asked for.
    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested_at.is_some()
    }
}

/// One task as the DB holds it: its [`TaskSummary`] (reached through `Deref`: `record.status`)
/// plus what only the task's own life needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskRecord {
    /// The listing fields.
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// Identity hash: equal for tasks that would compute the same thing.
    pub identity: String,
    /// The spec as JSON.
    pub spec: String,
    /// The sweep it belongs to, if any.
    pub sweep: Option<String>,
    /// The job its current attempt runs in with other tasks (an array chunk or a pack), once
    /// staged as its member; `None` for a task that is its own job.
    pub group: Option<GroupMember>,
}

/// A task's place in a job that runs several tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    /// The group (its scheduler job name).
    pub group: GroupId,
    /// Its index in the group, from 0: the array element (before the scheduler's first index
    /// is added) or the position in the pack.
    pub index: u32,
}

impl Deref for TaskRecord {
    type Target = TaskSummary;

    fn deref(&self) -> &TaskSummary {
        &self.summary
    }
}

/// One submission of a task to a scheduler. A task's first submission is attempt 1; retries
/// and resubmissions after a reset add more, each with its own job id and end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// 1, 2 ...
    pub number: u32,
    /// The system it was submitted to.
    pub system: SystemName,
    /// The scheduler's job id, once known.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// How it ended; `None` while it runs (or when it was abandoned by a reset).
    pub end_state: Option<EndState>,
    /// Its exit code, when known.
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<String>,
    /// Why it ended as it did.
    pub reason: Option<String>,
    /// When the scheduler took it (seconds since the Unix epoch).
    pub submitted_at: Option<f64>,
    /// When it was first seen running.
    pub started_at: Option<f64>,
    /// When its end was recorded.
    pub ended_at: Option<f64>,
    /// Its run time by the scheduler's accounting, in seconds.
    pub elapsed_secs: Option<u64>,
    /// Its peak memory by the scheduler's accounting, in kB.
    pub peak_memory_kb: Option<u64>,
    /// The scheduler's own words on its end (state and reason, exit status meaning ...).
    pub scheduler_reason: Option<String>,
    /// The array chunk or pack it ran in with other tasks, if it did.
    pub group: Option<GroupMember>,
}

/// Fields a transition sets; `None` leaves a field as it is. Job fields go to the task and to
/// its current attempt alike.
#[derive(Clone, Debug, Default)]
pub struct TaskUpdate {
    /// The scheduler's job id.
    pub scheduler_job_id: Option<SchedulerJobId>,
    /// How the task ended.
    pub end_state: Option<EndState>,
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
    /// A new stored spec (JSON), when the task's spec changes (inputs resolved on release).
    pub spec: Option<String>,
    /// The attempt's run time by accounting (attempt only).
    pub elapsed_secs: Option<u64>,
    /// The attempt's peak memory by accounting, kB (attempt only).
    pub peak_memory_kb: Option<u64>,
    /// The scheduler's own words on the attempt's end (attempt only).
    pub scheduler_reason: Option<String>,
    /// The group the task joins for its next attempt (set when it is staged as a member of
    /// an array chunk or a pack; cleared by a retry or reset).
    pub group: Option<GroupMember>,
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

/// One state change of a task as events read it ([`Db::changes_since`](super::Db::changes_since)):
/// a history row with its task's name and system and the attempt it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The history row's number: increasing, never reused.
    pub seq: i64,
    /// When (seconds since the Unix epoch).
    pub at: f64,
    /// The task.
    pub task: TaskId,
    /// Its name.
    pub name: String,
    /// Its system.
    pub system: SystemName,
    /// The status before (`None` for creation).
    pub from: Option<TaskStatus>,
    /// The status after.
    pub to: TaskStatus,
    /// The row's note, if any.
    pub detail: Option<String>,
    /// The attempt the change is about (0: none).
    pub attempt: u32,
    /// That attempt's scheduler job, if it had one.
    pub job: Option<SchedulerJobId>,
    /// The node that attempt ran on, if known.
    pub node: Option<String>,
    /// That attempt's end state (else the task's).
    pub end_state: Option<EndState>,
    /// That attempt's exit code (else the task's).
    pub exit_code: Option<i32>,
    /// That attempt's reason (else the task's).
    pub reason: Option<String>,
    /// The task's local run dir, if it has one.
    pub local_dir: Option<String>,
    /// True for the row that wrote down a cancel request (status unchanged).
    pub cancel_request: bool,
}

/// Which tasks to list: ExPyRe's filters. Empty lists match everything; regexps match the
/// whole value. `statuses` and `system` are applied in SQL (indexed), the regexps on the rows
/// SQL returns.
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
    /// Exactly this system (what a poll reads).
    pub system: Option<SystemName>,
    /// Exactly this sweep (`--sweep`); applied by the SQL query alone.
    pub sweep: Option<String>,
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
            system: None,
            sweep: None,
        })
    }

    /// The tasks of `system` in one of `statuses`.
    pub fn system_in(system: &SystemName, statuses: &[TaskStatus]) -> TaskFilter {
        TaskFilter {
            statuses: statuses.to_vec(),
            system: Some(system.clone()),
            ..TaskFilter::default()
        }
    }

    /// Tasks in one of `statuses`.
    pub fn in_statuses(statuses: &[TaskStatus]) -> TaskFilter {
        TaskFilter {
            statuses: statuses.to_vec(),
            ..TaskFilter::default()
        }
    }

    /// True when no part of the filter is set: it matches every task.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.names.is_empty()
            && self.statuses.is_empty()
            && self.systems.is_empty()
            && self.system.is_none()
            && self.sweep.is_none()
    }

    /// True when `summary` passes every part of the filter (statuses included).
    pub fn matches(&self, summary: &TaskSummary) -> bool {
        self.matches_parts(
            summary.status,
            summary.id.as_str(),
            &summary.name,
            summary.system.as_str(),
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
            && self.system.as_ref().is_none_or(|s| s.as_str() == system)
            && any(&self.ids, id)
            && any(&self.names, name)
            && any(&self.systems, system)
    }
}

/// One task's listing columns borrowed from the DB row being read: what
/// [`Db::for_each_summary`](super::Db::for_each_summary) hands its visitor, so a listing of
/// 100,000 tasks allocates nothing per task. Fields as in [`TaskSummary`].
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
    /// The current attempt's number.
    pub attempt: u32,
    /// The scheduler's job id of the current attempt.
    pub scheduler_job_id: Option<&'a str>,
    /// How the task ended.
    pub end_state: Option<EndState>,
    /// The exit code, when known.
    pub exit_code: Option<i32>,
    /// The node it ran on, when known.
    pub node: Option<&'a str>,
    /// Why it ended as it did, when known.
    pub reason: Option<&'a str>,
    /// When its cancellation was asked for.
    pub cancel_requested_at: Option<f64>,
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
            attempt: self.attempt,
            scheduler_job_id: self.scheduler_job_id.map(SchedulerJobId::new),
            end_state: self.end_state,
            exit_code: self.exit_code,
            node: owned(self.node),
            reason: owned(self.reason),
            cancel_requested_at: self.cancel_requested_at,
            remote_dir: owned(self.remote_dir),
            local_dir: owned(self.local_dir),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Reads the columns of `super::SUMMARY_COLUMNS`, in order, from column `first` on, borrowing
/// the texts.
pub(super) fn summary_from_row<'a>(
    row: &'a rusqlite::Row<'_>,
    first: usize,
    path: &Path,
) -> Result<SummaryRef<'a>, DbError> {
    let sql = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let text = |i: usize| -> Result<Option<&'a str>, DbError> {
        let value = row.get_ref(first + i).map_err(sql)?;
        match value {
            rusqlite::types::ValueRef::Null => Ok(None),
            other => other.as_str().map(Some).map_err(|e| {
                sql(rusqlite::Error::FromSqlConversionFailure(
                    first + i,
                    other.data_type(),
                    Box::new(e),
                ))
            }),
        }
    };
    let id = text(0)?.unwrap_or("");
    let corrupt = |column: &'static str, value: &str| DbError::Corrupt {
        path: path.to_path_buf(),
        id: id.to_owned(),
        column,
        value: value.to_owned(),
    };
    let status_text = text(3)?.unwrap_or("");
    let status =
        TaskStatus::from_name(status_text).ok_or_else(|| corrupt("status", status_text))?;
    let end_state = match text(6)? {
        None => None,
        Some(word) => Some(EndState::from_name(word).ok_or_else(|| corrupt("end_state", word))?),
    };
    Ok(SummaryRef {
        id,
        name: text(1)?.unwrap_or(""),
        system: text(2)?.unwrap_or(""),
        status,
        attempt: row.get(first + 4).map_err(sql)?,
        scheduler_job_id: text(5)?,
        end_state,
        exit_code: row.get(first + 7).map_err(sql)?,
        node: text(8)?,
        reason: text(9)?,
        cancel_requested_at: row.get(first + 10).map_err(sql)?,
        remote_dir: text(11)?,
        local_dir: text(12)?,
        created_at: row.get(first + 13).map_err(sql)?,
        updated_at: row.get(first + 14).map_err(sql)?,
    })
}

/// Reads a whole record: `super::RECORD_COLUMNS` then the summary columns.
pub(super) fn record_from_row(row: &rusqlite::Row<'_>, path: &Path) -> Result<TaskRecord, DbError> {
    let sql = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let group: Option<GroupId> = row.get(3).map_err(sql)?;
    let index: Option<u32> = row.get(4).map_err(sql)?;
    Ok(TaskRecord {
        identity: row.get(0).map_err(sql)?,
        spec: row.get(1).map_err(sql)?,
        sweep: row.get(2).map_err(sql)?,
        group: group.map(|group| GroupMember {
            group,
            index: index.unwrap_or(0),
        }),
        summary: summary_from_row(row, 5, path)?.to_summary(),
    })
}

/// Reads an attempt from the columns of `super::ATTEMPT_COLUMNS`.
pub(super) fn attempt_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        number: row.get(0)?,
        system: row.get(1)?,
        scheduler_job_id: row.get(2)?,
        end_state: row.get(3)?,
        exit_code: row.get(4)?,
        node: row.get(5)?,
        reason: row.get(6)?,
        submitted_at: row.get(7)?,
        started_at: row.get(8)?,
        ended_at: row.get(9)?,
        elapsed_secs: row.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
        peak_memory_kb: row.get::<_, Option<i64>>(11)?.map(|v| v.max(0) as u64),
        scheduler_reason: row.get(12)?,
        group: row
            .get::<_, Option<GroupId>>(13)?
            .map(|group| -> rusqlite::Result<GroupMember> {
                Ok(GroupMember {
                    group,
                    index: row.get::<_, Option<u32>>(14)?.unwrap_or(0),
                })
            })
            .transpose()?,
    })
}

/// A task whose current attempt the scheduler holds on jobs of its parents
/// ([`super::Db::native_children`]).
#[derive(Clone, Debug)]
pub struct NativeChild {
    /// The child as it is now.
    pub child: TaskSummary,
    /// Each native dependency: what the child waits for, the parent's job the scheduler holds
    /// it on, and the parent as it is now.
    pub parents: Vec<(DependencyKind, SchedulerJobId, TaskSummary)>,
}
