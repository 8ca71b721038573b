//! What a user does to tasks by hand: cancel, clean, remove, mark processed, reset. Thin
//! orchestrators of DB transitions over each system's [`SystemDriver`].
//!
//! A cancel covers every task it selects, whatever its state: the request is written first
//! (the task's `cancel_requested_at` column), then a task not yet submitted ends `cancelled`
//! and is never submitted (a live submitter is waited for through the system's lock, so a task
//! in `submitting` is cancelled once its job id is known), and a submitted job is cancelled
//! through the scheduler. Its final state then comes from the follow loop, which calls any
//! end without an exit status `cancelled` and cancels again a job it still sees live.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;

use super::error::SessionError;
use super::{Session, UNACCOUNTED_FILE, run_dir_names};
use crate::db::{DbError, EndState, TaskRecord, TaskStatus, TaskUpdate};
use crate::ids::{SchedulerJobId, SystemName, TaskId};

/// Statuses a task has before it is in a scheduler.
const NOT_SUBMITTED: [TaskStatus; 3] =
    [TaskStatus::Created, TaskStatus::Waiting, TaskStatus::Staged];

impl Session {
    /// Marks a finished task's results as used: an identical task started later runs anew.
    pub fn mark_processed(&self, id: &TaskId) -> Result<TaskRecord, SessionError> {
        let record = self.get(id)?;
        self.db()
            .transition(
                id,
                &[TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Died],
                TaskStatus::Processed,
                &TaskUpdate::default(),
            )
            .map_err(|e| match e {
                DbError::WrongState { .. } => SessionError::WrongState {
                    id: id.clone(),
                    status: record.status,
                    action: "mark it processed",
                    hint: Some("only finished tasks can be; `xpr wait` for it first"),
                },
                e => e.into(),
            })
    }

    /// Sets a task's status by hand (`xpr reset_status`), e.g. back to `created` to run it
    /// again: the next poll stages and submits it as a new attempt. The old attempt stays in
    /// the task's attempts; the task no longer shows its job id, end state or exit code.
    pub fn reset_status(&self, id: &TaskId, to: TaskStatus) -> Result<TaskRecord, SessionError> {
        let _ = fs::remove_file(self.local_run_dir(id).join(UNACCOUNTED_FILE));
        Ok(self.db().reset(id, to, "reset by hand")?)
    }

    /// Starts a new attempt of finished tasks that failed or died, by hand (housekeeper's
    /// `retry()`): the last attempt's files are kept (`xpr logs --attempt N`), the task is
    /// staged afresh and submitted now. Returns the tasks retried; others are left as they are.
    pub async fn retry(&self, ids: &[TaskId]) -> Result<Vec<TaskId>, SessionError> {
        let mut by_system: BTreeMap<SystemName, Vec<TaskId>> = BTreeMap::new();
        for id in ids {
            let record = self.get_async(id).await?;
            if !matches!(record.status, TaskStatus::Failed | TaskStatus::Died) {
                return Err(SessionError::WrongState {
                    id: id.clone(),
                    status: record.status,
                    action: "retry it",
                    hint: Some(
                        "only failed or died tasks are retried; --force-rerun runs a task anew",
                    ),
                });
            }
            self.keep_attempt_dir(id, record.attempt)?;
            let task = id.clone();
            let end = TaskUpdate {
                detail: Some(format!("retry: attempt {} by hand", record.attempt + 1)),
                ..TaskUpdate::default()
            };
            let moved = self
                .with_db(move |db| {
                    match db.retry(&task, &[TaskStatus::Failed, TaskStatus::Died], &end, None) {
                        Ok(_) => Ok(true),
                        Err(DbError::WrongState { .. }) => Ok(false),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            if moved {
                by_system
                    .entry(record.system.clone())
                    .or_default()
                    .push(id.clone());
            }
        }
        let mut done = Vec::new();
        for (system, ids) in by_system {
            let driver = self.driver(&system).await?;
            let _lock = self.system_lock(&system, true).await?;
            self.advance_locked(&driver).await?;
            done.extend(ids);
        }
        Ok(done)
    }

    /// Cancels tasks (see the module docs). Returns the tasks acted on: every selected task
    /// that had not finished.
    pub async fn cancel(&self, ids: &[TaskId]) -> Result<Vec<TaskId>, SessionError> {
        let wanted = ids.to_vec();
        let requested = self.with_db(move |db| db.request_cancel(&wanted)).await?;
        let mut by_system: BTreeMap<SystemName, Vec<TaskRecord>> = BTreeMap::new();
        for record in requested {
            by_system
                .entry(record.system.clone())
                .or_default()
                .push(record);
        }
        let mut done = Vec::new();
        for (system, records) in by_system {
            done.extend(records.iter().map(|r| r.id.clone()));
            self.cancel_on(&system, records).await?;
        }
        Ok(done)
    }

    /// Cancels `records` (cancel already requested) of one system.
    async fn cancel_on(
        &self,
        system: &SystemName,
        records: Vec<TaskRecord>,
    ) -> Result<(), SessionError> {
        let mut in_flight = false;
        for record in &records {
            if NOT_SUBMITTED.contains(&record.status) {
                let moved = self.cancel_unsubmitted(&record.id).await?;
                in_flight |= moved.is_none();
            } else if record.status == TaskStatus::Submitting {
                in_flight = true;
            }
        }
        if in_flight {
            // A submitter is at it (or died at it): once it lets go of the lock, every such
            // task has a job id or is back in `staged`, and the advance skips cancelled ones.
            let driver = self.driver(system).await?;
            let _lock = self.system_lock(system, true).await?;
            self.advance_locked(&driver).await?;
        }
        let mut jobs: Vec<SchedulerJobId> = Vec::new();
        for record in &records {
            let now = self.get_async(&record.id).await?;
            if TaskStatus::IN_SCHEDULER.contains(&now.status)
                && let Some(job) = &now.scheduler_job_id
            {
                jobs.push(job.clone());
            }
        }
        if !jobs.is_empty() {
            self.driver(system).await?.cancel(&jobs).await?;
        }
        Ok(())
    }

    /// Ends a task that is not yet in a scheduler as cancelled; `None` when it moved on
    /// meanwhile (a submitter took it).
    pub(crate) async fn cancel_unsubmitted(
        &self,
        id: &TaskId,
    ) -> Result<Option<TaskRecord>, SessionError> {
        self.transition(
            id,
            &NOT_SUBMITTED,
            TaskStatus::Failed,
            TaskUpdate {
                end_state: Some(EndState::Cancelled),
                reason: Some("cancelled before submission".to_owned()),
                ..TaskUpdate::default()
            },
        )
        .await
    }

    /// Removes the remote and local run dirs of finished tasks and marks them `cleaned`, and
    /// the `grp_<id>` dirs of the arrays and packs whose members are all cleaned now. Only
    /// dirs xpr made are removed; the user's own input files are never touched (the run dirs
    /// hold copies).
    pub async fn clean(&self, ids: &[TaskId]) -> Result<(), SessionError> {
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let record = self.get_async(id).await?;
            if !record.status.is_finished() {
                return Err(SessionError::WrongState {
                    id: id.clone(),
                    status: record.status,
                    action: "clean it while it may still run",
                    hint: Some("cancel it and wait for it to end first"),
                });
            }
            records.push(record);
        }
        for ((system, base), records) in self.by_remote_base(records)? {
            let driver = self.driver(&system).await?;
            driver
                .remove_run_dirs(&base, &run_dir_names(&records)?)
                .await?;
            let cleaned: HashSet<TaskId> = records.iter().map(|r| r.id.clone()).collect();
            for record in records {
                let task = record.id.clone();
                let attempts = self.with_db(move |db| db.attempts(&task)).await?.len() as u32;
                self.remove_local_dirs(&record.id, attempts)?;
                if record.status != TaskStatus::Cleaned {
                    self.transition(&record.id, &[], TaskStatus::Cleaned, TaskUpdate::default())
                        .await?;
                }
            }
            // The dirs of the arrays and packs they ran in (scripts, job logs, markers), once
            // every member is cleaned: a group's members live under one base.
            let groups = self
                .with_db(move |db| db.groups_cleaned_with(&cleaned))
                .await?;
            if !groups.is_empty() {
                let names: Vec<String> = groups.iter().map(|g| format!("grp_{g}")).collect();
                driver.remove_run_dirs(&base, &names).await?;
            }
        }
        Ok(())
    }

    /// Deletes tasks from the DB (`xpr rm`); with `cancel_and_clean`, first cancels the ones
    /// still running and removes their run dirs.
    pub async fn remove(&self, ids: &[TaskId], cancel_and_clean: bool) -> Result<(), SessionError> {
        if cancel_and_clean {
            self.cancel(ids).await?;
            let mut records = Vec::with_capacity(ids.len());
            for id in ids {
                records.push(self.get_async(id).await?);
            }
            for ((system, base), records) in self.by_remote_base(records)? {
                let driver = self.driver(&system).await?;
                driver
                    .remove_run_dirs(&base, &run_dir_names(&records)?)
                    .await?;
            }
        }
        // Children before their parents: a parent cannot go while a child names it.
        let mut left: Vec<TaskId> = ids.to_vec();
        while !left.is_empty() {
            let mut kept = Vec::new();
            let mut refused = None;
            for id in left.iter() {
                // Its attempts, counted before the row (and they) go: their kept local dirs.
                let task = id.clone();
                let attempts = self
                    .with_db(move |db| {
                        let n = db.attempts(&task)?.len() as u32;
                        db.remove(&task).map(|()| n)
                    })
                    .await;
                match attempts {
                    Ok(attempts) => {
                        if cancel_and_clean {
                            self.remove_local_dirs(id, attempts)?;
                        }
                    }
                    Err(SessionError::Db(e @ DbError::HasChildren { .. })) => {
                        kept.push(id.clone());
                        refused = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            if kept.len() == left.len() {
                return Err(refused.expect("kept only when refused").into());
            }
            left = kept;
        }
        Ok(())
    }

    /// Removes the local run dir of `id` and the kept dirs of its `attempts` attempts.
    fn remove_local_dirs(&self, id: &TaskId, attempts: u32) -> Result<(), SessionError> {
        let kept = (1..=attempts).map(|n| self.kept_attempt_dir(id, n));
        for dir in std::iter::once(self.local_run_dir(id)).chain(kept) {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(SessionError::io("removing", &dir))?;
            }
        }
        Ok(())
    }

    /// Groups records by (system, remote base dir).
    pub(crate) fn by_remote_base(
        &self,
        records: Vec<TaskRecord>,
    ) -> Result<HashMap<(SystemName, String), Vec<TaskRecord>>, SessionError> {
        let mut groups: HashMap<(SystemName, String), Vec<TaskRecord>> = HashMap::new();
        for record in records {
            let base = self.stored(&record)?.remote_base;
            groups
                .entry((record.system.clone(), base))
                .or_default()
                .push(record);
        }
        Ok(groups)
    }
}
