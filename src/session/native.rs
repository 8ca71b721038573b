//! Native dependencies: a child whose parents run on the same scheduler is submitted at once,
//! held by the scheduler itself on the parents' jobs (Slurm `--dependency`, PBS
//! `-W depend`, LSF `-w`, Grid Engine `-hold_jid` for after-any only), so it starts without
//! waiting for xpr to poll. Everything else waits in xpr (`waiting`) and is released by the
//! follow step when the parents' ends are known.
//!
//! The rules, in one place:
//!
//! - **When**: every parent whose end is not known yet runs on the child's system, has a
//!   job in the scheduler (`submitted` or `started`), and waits in a kind the scheduler has;
//!   an `after_fail` or `after_any` parent also has no automatic retries (the scheduler would
//!   release the child on the parent's first attempt); each `inputs_from` pattern of such a
//!   parent is one path component (copied on the cluster by the job itself, see
//!   [`crate::task::inputs_from_lines`]). The parents' job ids are written down per
//!   dependency (`dependencies.native_job`), and the header line is added when the child is
//!   staged.
//! - **Settling** ([`Session::settle_native`], every poll, before and after following jobs):
//!   a child held on a job that is no longer its parent's current one (the parent was
//!   retried) has its job cancelled and waits in xpr again, to be held on the new job; a
//!   child whose parent ended so that its condition can never be met has its job cancelled
//!   and ends `never_ran`, naming the parent, within the poll that saw the parent end, never
//!   left pending in the queue (Slurm's `DependencyNeverSatisfied`). An `after_fail` child of
//!   a parent that xpr failed although its job exited 0 (missing outputs, error lines) waits
//!   in xpr again too: the scheduler counts that job a success.

use super::{Session, SessionError, StoredTask, SystemDriver};
use crate::db::{DependencyKind, EndState, TaskStatus, TaskSummary, TaskUpdate};
use crate::ids::{SchedulerJobId, TaskId};
use crate::scheduler::depend::{AfterEnd, NativeDependency, dependency_line, supports};

/// The statuses of a child held on its parents' jobs: released to the scheduler, whether its
/// job is submitted yet or not.
const HELD: [TaskStatus; 4] = [
    TaskStatus::Created,
    TaskStatus::Staged,
    TaskStatus::Submitted,
    TaskStatus::Started,
];

/// How many generations of held children one settling reaches.
const MAX_SETTLE_ROUNDS: usize = 64;

/// The scheduler's word for a dependency kind.
pub(crate) fn after_end(kind: DependencyKind) -> AfterEnd {
    match kind {
        DependencyKind::AfterOk => AfterEnd::Success,
        DependencyKind::AfterFail => AfterEnd::Failure,
        DependencyKind::AfterAny => AfterEnd::Any,
    }
}

/// Why a held child can no longer be held on its parent's job.
enum Unheld {
    /// Its condition can never be met: it ends `never_ran`.
    Never(String),
    /// The parent's job is not what it waits for any more: it waits in xpr again.
    Again(String),
}

impl Session {
    /// The native dependencies a `waiting` child can be submitted with now, one per parent
    /// whose end is not known yet (see the module docs for when), or `None` when some parent
    /// must be waited for in xpr. `parents` are the child's parents as they are now.
    pub(crate) async fn native_plan(
        &self,
        child: &TaskSummary,
        stored: &StoredTask,
        parents: &[(DependencyKind, TaskSummary)],
    ) -> Result<Option<Vec<(TaskId, NativeDependency)>>, SessionError> {
        let kind = self.system(child.system.as_str())?.scheduler;
        let mut plan = Vec::new();
        for (dep, parent) in parents {
            if parent.status.is_finished() {
                continue;
            }
            let Some(job) = parent.scheduler_job_id.clone() else {
                return Ok(None);
            };
            let after = after_end(*dep);
            if parent.system != child.system
                || !TaskStatus::IN_SCHEDULER.contains(&parent.status)
                || !supports(kind, after)
            {
                return Ok(None);
            }
            let patterns_ok = stored
                .inputs_from
                .iter()
                .filter(|(p, _)| p == &parent.id)
                .all(|(_, glob)| one_component(glob));
            if !patterns_ok {
                return Ok(None);
            }
            if *dep != DependencyKind::AfterOk {
                let record = self.get_async(&parent.id).await?;
                if self.stored(&record)?.retries.max_retries > 0 {
                    return Ok(None);
                }
            }
            plan.push((parent.id.clone(), NativeDependency { after, job }));
        }
        if plan.is_empty() {
            return Ok(None);
        }
        let deps: Vec<NativeDependency> = plan.iter().map(|(_, d)| d.clone()).collect();
        Ok(dependency_line(kind, &deps).map(|_| plan))
    }

    /// The job script of `child` for an attempt the scheduler holds on its parents' jobs (its
    /// dependency header line, and the copying of native parents' outputs it takes), or
    /// `None` when its current attempt has no native dependency.
    pub(crate) async fn native_script(
        &self,
        driver: &SystemDriver,
        child: &crate::db::TaskRecord,
        stored: &StoredTask,
    ) -> Result<Option<String>, SessionError> {
        let id = child.id.clone();
        let natives = self.with_db(move |db| db.native_parents(&id)).await?;
        if natives.is_empty() {
            return Ok(None);
        }
        let system = driver.system();
        let mut deps = Vec::new();
        let mut prologue = Vec::new();
        for (kind, parent, job) in &natives {
            let record = self.get_async(parent).await?;
            // A parent that has ended as the child waits for needs no holding (a scheduler
            // may have forgotten its job by now); one that cannot is settled elsewhere.
            if !record.status.is_finished() {
                deps.push(NativeDependency {
                    after: after_end(*kind),
                    job: job.clone(),
                });
            }
            let dir = record.remote_dir.clone().unwrap_or_default();
            let word = crate::scheduler::script::dir_word(&dir).map_err(|why| {
                SessionError::InvalidTask {
                    name: child.name.clone(),
                    why: format!("the run dir {dir:?} of its parent {parent} {why}"),
                }
            })?;
            for (_, glob) in stored.inputs_from.iter().filter(|(p, _)| p == parent) {
                prologue.extend(crate::task::inputs_from_lines(&word, glob, parent.as_str()));
            }
        }
        // Never submitted unheld: a child that cannot carry its dependency line fails here.
        let unholdable = |why: &str| SessionError::InvalidTask {
            name: child.name.clone(),
            why: format!("it cannot be held on its parents' jobs: {why}"),
        };
        let resources = stored
            .resources
            .as_ref()
            .ok_or_else(|| unholdable("its stored resources are missing"))?;
        let mut header = stored.extra_header.clone();
        if !deps.is_empty() {
            let line = dependency_line(system.scheduler, &deps)
                .ok_or_else(|| unholdable("the scheduler has no such dependency"))?;
            header.push(line);
        }
        let job_dir = child.remote_dir.clone().unwrap_or_default();
        self.render_script_with(
            system,
            resources,
            &stored.spec,
            &child.id,
            &job_dir,
            &header,
            prologue,
        )
        .map(Some)
    }

    /// Settles the tasks of `driver`'s system that the scheduler holds on their parents'
    /// jobs (see the module docs), again while a round settles some (a child that ends
    /// `never_ran` unsettles its own children); returns how many were settled.
    pub(crate) async fn settle_native(&self, driver: &SystemDriver) -> Result<usize, SessionError> {
        let mut total = 0;
        // Each round goes one generation down; the next poll goes on past this many.
        for _ in 0..MAX_SETTLE_ROUNDS {
            let settled = self.settle_native_once(driver).await?;
            if settled == 0 {
                break;
            }
            total += settled;
        }
        Ok(total)
    }

    /// One round of [`Session::settle_native`].
    async fn settle_native_once(&self, driver: &SystemDriver) -> Result<usize, SessionError> {
        let system = driver.system().name.clone();
        let held = self
            .with_db(move |db| db.native_children(&system, &HELD))
            .await?;
        let mut unheld = Vec::new();
        for held in held {
            if let Some(why) = held
                .parents
                .iter()
                .find_map(|(kind, job, parent)| unheld_by(*kind, job, parent))
            {
                unheld.push((held.child, why));
            }
        }
        if unheld.is_empty() {
            return Ok(0);
        }
        let jobs: Vec<SchedulerJobId> = unheld
            .iter()
            .filter(|(c, _)| TaskStatus::IN_SCHEDULER.contains(&c.status))
            .filter_map(|(c, _)| c.scheduler_job_id.clone())
            .collect();
        // The job goes before the row changes: a crash in between finds the row still held
        // and cancels again.
        if !jobs.is_empty() {
            driver.cancel(&jobs).await?;
        }
        let settled = unheld.len();
        for (child, why) in unheld {
            let id = child.id.clone();
            match why {
                Unheld::Never(reason) => {
                    self.transition(
                        &id,
                        &HELD,
                        TaskStatus::Failed,
                        TaskUpdate {
                            end_state: Some(EndState::NeverRan),
                            reason: Some(reason),
                            ..TaskUpdate::default()
                        },
                    )
                    .await?;
                }
                Unheld::Again(reason) => {
                    let end = TaskUpdate {
                        end_state: Some(EndState::NeverRan),
                        reason: Some(reason.clone()),
                        detail: Some(format!("waits in xpr again: {reason}")),
                        ..TaskUpdate::default()
                    };
                    self.with_db(move |db| match db.wait_again(&id, &HELD, &end) {
                        Ok(_) | Err(crate::db::DbError::WrongState { .. }) => Ok(()),
                        Err(e) => Err(e),
                    })
                    .await?;
                }
            }
        }
        Ok(settled)
    }
}

/// Why a child held on `parent`'s `job` for `kind` can be held no longer, if so.
fn unheld_by(kind: DependencyKind, job: &SchedulerJobId, parent: &TaskSummary) -> Option<Unheld> {
    let name = || format!("{} ({})", parent.name, parent.id);
    let finished = parent.status.is_finished();
    if finished && kind.met_by(true, parent.end_state) == Some(false) {
        return Some(Unheld::Never(format!(
            "its parent {} ended {}: {kind} can no longer be met",
            name(),
            parent
                .end_state
                .map_or("without an end state", EndState::as_str),
        )));
    }
    if parent.scheduler_job_id.as_ref() != Some(job) {
        return Some(Unheld::Again(format!(
            "its parent {} is no longer job {job} (it is being run again)",
            name()
        )));
    }
    if finished
        && kind == DependencyKind::AfterFail
        && parent.end_state != Some(EndState::Succeeded)
        && parent.exit_code == Some(0)
    {
        return Some(Unheld::Again(format!(
            "its parent {} failed ({}) although job {job} exited 0, which the scheduler counts \
             a success",
            name(),
            parent.end_state.map_or("", EndState::as_str)
        )));
    }
    None
}

/// True for a pattern the job can match itself: one path component, not `.` or `..`.
fn one_component(pattern: &str) -> bool {
    !pattern.is_empty() && !pattern.contains('/') && pattern != "." && pattern != ".."
}
