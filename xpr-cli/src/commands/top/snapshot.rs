//! What `xpr top` shows, read from the jobs DB: the counts per system and state, the tasks
//! running now, the latest failures.
//!
//! Each refresh costs two small reads when nothing changed: the newest history row's number
//! and one `GROUP BY` of the counts ([`Db::status_counts`]). Only when either differs from the
//! last refresh (or a refresh is forced: a new filter, the `r` key) are the two lists read,
//! each through its status index, so their cost grows with the tasks running and failed, not
//! with the DB. All of one refresh is read in one read transaction, so the counts and the
//! lists agree. A task's start time is read once per attempt and kept.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::SystemTime;

use xpr::db::{Db, DbError, EndState, StatusCount, SummaryRef, TaskFilter, TaskStatus};
use xpr::ids::{SchedulerJobId, SystemName, TaskId};

/// How many failures the view keeps (newest first): more than a screen shows.
pub const MAX_FAILURES: usize = 200;

/// A column of the counts table: one or more statuses a user tells apart at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Waiting for parents.
    Waiting,
    /// Recorded, staged or being submitted: not yet in a queue.
    Created,
    /// In the scheduler's queue.
    Queued,
    /// Running.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended without success, other than by a cancel.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Vanished: nothing says how it ended.
    Died,
    /// Results used or run dirs removed.
    Processed,
}

impl Column {
    /// Every column, in the order shown.
    pub const ALL: [Column; 9] = [
        Column::Waiting,
        Column::Created,
        Column::Queued,
        Column::Running,
        Column::Succeeded,
        Column::Failed,
        Column::Cancelled,
        Column::Died,
        Column::Processed,
    ];

    /// Its heading (one word: the tests split rows on blanks).
    pub fn label(self) -> &'static str {
        match self {
            Column::Waiting => "waiting",
            Column::Created => "created",
            Column::Queued => "queued",
            Column::Running => "running",
            Column::Succeeded => "succeeded",
            Column::Failed => "failed",
            Column::Cancelled => "cancelled",
            Column::Died => "died",
            Column::Processed => "processed",
        }
    }

    /// Its heading where the full one does not fit (one word too).
    pub fn short_label(self) -> &'static str {
        match self {
            Column::Waiting => "wait",
            Column::Created => "new",
            Column::Queued => "queue",
            Column::Running => "run",
            Column::Succeeded => "ok",
            Column::Failed => "fail",
            Column::Cancelled => "cancel",
            Column::Died => "died",
            Column::Processed => "done",
        }
    }

    /// The column a task in `status` that ended as `end` (if it did) is counted in.
    pub fn of(status: TaskStatus, end: Option<EndState>) -> Column {
        match status {
            TaskStatus::Waiting => Column::Waiting,
            TaskStatus::Created | TaskStatus::Staged | TaskStatus::Submitting => Column::Created,
            TaskStatus::Submitted => Column::Queued,
            TaskStatus::Started => Column::Running,
            TaskStatus::Succeeded => Column::Succeeded,
            TaskStatus::Failed if end == Some(EndState::Cancelled) => Column::Cancelled,
            TaskStatus::Failed => Column::Failed,
            TaskStatus::Died => Column::Died,
            TaskStatus::Processed | TaskStatus::Cleaned => Column::Processed,
        }
    }

    fn index(self) -> usize {
        Column::ALL
            .iter()
            .position(|c| *c == self)
            .expect("every column is in ALL")
    }
}

/// One system's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemCounts {
    /// The system.
    pub system: SystemName,
    /// Tasks per [`Column`], in [`Column::ALL`]'s order.
    pub counts: [u64; Column::ALL.len()],
}

impl SystemCounts {
    fn new(system: SystemName) -> SystemCounts {
        SystemCounts {
            system,
            counts: [0; Column::ALL.len()],
        }
    }

    /// The tasks in `column`.
    pub fn get(&self, column: Column) -> u64 {
        self.counts[column.index()]
    }

    /// All its tasks.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A task running now.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningTask {
    /// Its id.
    pub id: TaskId,
    /// Its name.
    pub name: String,
    /// Where it runs.
    pub system: SystemName,
    /// The node, once the scheduler said.
    pub node: Option<String>,
    /// The scheduler's job id.
    pub job: Option<SchedulerJobId>,
    /// When its current attempt was first seen running (seconds since the Unix epoch).
    pub started_at: Option<f64>,
    /// True once its cancel was asked for.
    pub cancel_requested: bool,
}

/// A task that ended without success.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedTask {
    /// Its id.
    pub id: TaskId,
    /// Its name.
    pub name: String,
    /// Where it ran.
    pub system: SystemName,
    /// Its status (failed or died).
    pub status: TaskStatus,
    /// Its failure class.
    pub end_state: Option<EndState>,
    /// Its exit code, when known.
    pub exit_code: Option<i32>,
    /// When it ended (its last change, seconds since the Unix epoch).
    pub ended_at: f64,
    /// Why, when known.
    pub reason: Option<String>,
}

/// Everything one refresh read.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per system, by name; every configured system in scope is there, with zeros if idle.
    pub systems: Vec<SystemCounts>,
    /// The tasks running now that pass the filter, oldest first.
    pub running: Vec<RunningTask>,
    /// The latest failures that pass the filter, newest first, at most [`MAX_FAILURES`].
    pub failures: Vec<FailedTask>,
    /// When it was read.
    pub read_at: Option<SystemTime>,
}

/// Reads [`Snapshot`]s from its own connection to the jobs DB (see the module docs).
pub struct Reader {
    db: Db,
    /// `-S` and `--sweep`: what every read is limited to.
    scope: TaskFilter,
    /// Systems shown even with no task (the configured ones in scope).
    known: Vec<SystemName>,
    /// The `/` filter: a lower-case substring of a task's name or id.
    text: Option<String>,
    /// What the last full read saw: the newest history row and the counts.
    seen: Option<(i64, Vec<StatusCount>)>,
    /// Start times by task and attempt.
    started: HashMap<(TaskId, u32), Option<f64>>,
}

impl Reader {
    /// A reader of `db`, limited to `scope`, showing the `known` systems even when idle.
    pub fn new(db: Db, scope: TaskFilter, known: Vec<SystemName>) -> Reader {
        Reader {
            db,
            scope,
            known,
            text: None,
            seen: None,
            started: HashMap::new(),
        }
    }

    /// Its DB connection (for reading one task).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Sets the `/` filter (matched case-insensitively); the next read is a full one.
    pub fn set_text(&mut self, text: Option<&str>) {
        self.text = text.filter(|t| !t.is_empty()).map(str::to_lowercase);
        self.seen = None;
    }

    /// A new snapshot, or `None` when nothing changed since the last one (unless `force`).
    pub fn read(&mut self, force: bool) -> Result<Option<Snapshot>, DbError> {
        let seen = if force { None } else { self.seen.take() };
        let db = &self.db;
        let (last, counts, fresh) = db.snapshot(|db| {
            let last = db.last_change()?;
            let counts = db.status_counts(&self.scope)?;
            if seen
                .as_ref()
                .is_some_and(|(l, c)| *l == last && *c == counts)
            {
                return Ok((last, counts, None));
            }
            let running = running(db, &self.scope, self.text.as_deref())?;
            let failures = failures(db, &self.scope, self.text.as_deref())?;
            Ok((last, counts, Some((running, failures))))
        })?;
        let Some((mut running, failures)) = fresh else {
            self.seen = Some((last, counts));
            return Ok(None);
        };
        self.fill_start_times(&mut running)?;
        let systems = per_system(&counts, &self.known);
        self.seen = Some((last, counts));
        Ok(Some(Snapshot {
            systems,
            running: running.into_iter().map(|(task, _)| task).collect(),
            failures,
            read_at: Some(SystemTime::now()),
        }))
    }

    /// Sets each running task's start time: read once per attempt (the attempts table is not
    /// in the listing index), kept for the tasks still running.
    fn fill_start_times(&mut self, running: &mut [(RunningTask, u32)]) -> Result<(), DbError> {
        let mut kept = HashMap::with_capacity(running.len());
        for (task, attempt) in running.iter_mut() {
            let key = (task.id.clone(), *attempt);
            let started = match self.started.remove(&key) {
                Some(known) => known,
                None => self
                    .db
                    .attempts(&task.id)?
                    .into_iter()
                    .find(|a| a.number == *attempt)
                    .and_then(|a| a.started_at),
            };
            task.started_at = started;
            kept.insert(key, started);
        }
        self.started = kept;
        Ok(())
    }
}

/// True when `summary`'s name or id contains `text` (already lower case).
fn passes(text: Option<&str>, summary: &SummaryRef<'_>) -> bool {
    text.is_none_or(|t| {
        summary.name.to_lowercase().contains(t) || summary.id.to_lowercase().contains(t)
    })
}

/// `scope` limited to `statuses`.
fn in_scope(scope: &TaskFilter, statuses: &[TaskStatus]) -> TaskFilter {
    TaskFilter {
        statuses: statuses.to_vec(),
        ..scope.clone()
    }
}

/// The running tasks in scope that pass `text`, with their attempt numbers; start times are
/// filled in afterwards.
fn running(
    db: &Db,
    scope: &TaskFilter,
    text: Option<&str>,
) -> Result<Vec<(RunningTask, u32)>, DbError> {
    let mut out = Vec::new();
    db.for_each_summary(&in_scope(scope, &[TaskStatus::Started]), |s| {
        if passes(text, s) {
            let task = RunningTask {
                id: TaskId::new(s.id),
                name: s.name.to_owned(),
                system: SystemName::new(s.system),
                node: s.node.map(str::to_owned),
                job: s.scheduler_job_id.map(SchedulerJobId::new),
                started_at: None,
                cancel_requested: s.cancel_requested_at.is_some(),
            };
            out.push((task, s.attempt));
        }
    })?;
    Ok(out)
}

/// A failure ordered by when it ended, for keeping the newest.
struct ByEnd(FailedTask);

impl PartialEq for ByEnd {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for ByEnd {}

impl PartialOrd for ByEnd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByEnd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.ended_at.total_cmp(&other.0.ended_at)
    }
}

/// The newest [`MAX_FAILURES`] failed or died tasks in scope that pass `text`, newest first.
fn failures(db: &Db, scope: &TaskFilter, text: Option<&str>) -> Result<Vec<FailedTask>, DbError> {
    // A min-heap of the newest seen so far: each row costs O(log MAX_FAILURES), and only
    // rows newer than the oldest kept are copied out of the DB row.
    let mut newest: BinaryHeap<Reverse<ByEnd>> = BinaryHeap::with_capacity(MAX_FAILURES + 1);
    let filter = in_scope(scope, &[TaskStatus::Failed, TaskStatus::Died]);
    db.for_each_summary(&filter, |s| {
        let full = newest.len() >= MAX_FAILURES;
        if !passes(text, s)
            || (full
                && newest
                    .peek()
                    .is_some_and(|Reverse(o)| o.0.ended_at >= s.updated_at))
        {
            return;
        }
        newest.push(Reverse(ByEnd(FailedTask {
            id: TaskId::new(s.id),
            name: s.name.to_owned(),
            system: SystemName::new(s.system),
            status: s.status,
            end_state: s.end_state,
            exit_code: s.exit_code,
            ended_at: s.updated_at,
            reason: s.reason.map(str::to_owned),
        })));
        if newest.len() > MAX_FAILURES {
            newest.pop();
        }
    })?;
    // Ascending order of `Reverse` is newest first.
    Ok(newest
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse(ByEnd(t))| t)
        .collect())
}

/// The counts folded into columns, one row per system: the `known` ones first seen with
/// zeros, then whatever the DB has; sorted by name.
fn per_system(counts: &[StatusCount], known: &[SystemName]) -> Vec<SystemCounts> {
    let mut rows: Vec<SystemCounts> = known.iter().cloned().map(SystemCounts::new).collect();
    for count in counts {
        let at = match rows.iter().position(|r| r.system == count.system) {
            Some(at) => at,
            None => {
                rows.push(SystemCounts::new(count.system.clone()));
                rows.len() - 1
            }
        };
        rows[at].counts[Column::of(count.status, count.end_state).index()] += count.count;
    }
    rows.sort_by(|a, b| a.system.cmp(&b.system));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_lands_in_one_column_and_cancels_are_told_apart() {
        for status in TaskStatus::ALL {
            let column = Column::of(status, None);
            assert!(Column::ALL.contains(&column), "{status}");
        }
        assert_eq!(
            Column::of(TaskStatus::Failed, Some(EndState::Cancelled)),
            Column::Cancelled
        );
        assert_eq!(
            Column::of(TaskStatus::Failed, Some(EndState::Timeout)),
            Column::Failed
        );
        assert_eq!(Column::of(TaskStatus::Submitted, None), Column::Queued);
        assert_eq!(Column::of(TaskStatus::Started, None), Column::Running);
    }

    #[test]
    fn counts_fold_per_system_and_idle_known_systems_show_zeros() {
        let count = |system: &str, status, end_state, count| StatusCount {
            system: SystemName::new(system),
            status,
            end_state,
            count,
        };
        let rows = per_system(
            &[
                count("b", TaskStatus::Started, None, 3),
                count("b", TaskStatus::Created, None, 1),
                count("b", TaskStatus::Staged, None, 2),
                count("a", TaskStatus::Failed, Some(EndState::Failed), 1),
            ],
            &[SystemName::new("idle"), SystemName::new("b")],
        );
        let names: Vec<&str> = rows.iter().map(|r| r.system.as_str()).collect();
        assert_eq!(names, ["a", "b", "idle"]);
        assert_eq!(rows[1].get(Column::Running), 3);
        assert_eq!(rows[1].get(Column::Created), 3);
        assert_eq!(rows[1].total(), 6);
        assert_eq!(rows[2].total(), 0);
    }
}
