//! Following jobs to their end and bringing their outputs back: the orchestration of polls
//! over each system's [`SystemDriver`]; what an end means is decided in [`super::decide`].
//!
//! One poll of a system ([`Session::poll_system`]):
//!
//! 1. if no live process holds the system's lock, continue what a dead one left (`created`,
//!    `staged`, `submitting`: see the `submit` module);
//! 2. ONE status query for all its `submitted`/`started` jobs; running -> `started`; a job
//!    still live whose cancellation was asked for is cancelled (again: the request may have
//!    come before the job existed);
//! 3. the jobs the status reply shows final (Slurm's `squeue --states=all` and LSF's `bjobs`
//!    list finished jobs for a while): their run dirs come back at once (step 6's tar stream),
//!    and each whose script wrote `xpr.exit` is finished from it, without accounting: the exit
//!    status the job wrote itself is the final word, and it saves a query that slurmdbd can
//!    take a second to answer for a few hundred jobs;
//! 4. the other jobs that are final in the status reply (no `xpr.exit`: killed, timed out,
//!    cancelled) or absent from it: ONE accounting query for all of them; their final state
//!    and exit code come from accounting (from the status reply when accounting does not know
//!    the job yet but the queue showed it final);
//! 5. a job in neither the queue nor accounting is *unaccounted*: the first time is written
//!    down (a marker file in its local run dir, so any process polling sees the same clock,
//!    read from the session's [`Clock`](super::Clock)); past
//!    [`SessionOptions::vanish_timeout`](super::SessionOptions) it has vanished. A job xpr
//!    cancelled need not wait: Grid Engine keeps no record of a pending job deleted by `qdel`;
//! 6. collect the finished ones: their run dirs come back in ONE tar stream per remote base,
//!    unpacked as it comes into a scratch dir in the stage root (leaving out what this machine
//!    has: the `unchanged` module) and moved into `<stage_root>/run_<id>/`; then
//!    [`decide_end`] says how each ended.
//!
//! A poll reads only its system's in-flight rows (SQL filters on system and status), and full
//! records only of the tasks that move; the tasks that end in one round are recorded in one DB
//! transaction per status.
//!
//! Between two polls, [`Session::follow`] does not just sleep: one remote command watches the
//! run dirs of the system's tasks of their own in the scheduler, and the dirs of the packs (not
//! their members: one pack marker stands for all of them), for exit status markers (naps of
//! 0.2 s for 3 s, then growing to 2 s; no scheduler query), and the tasks whose markers appear
//! are collected and finished at once: a task of its own or an array element that exited 0 at once (one that
//! failed waits for the poll, which asks accounting why), a pack's tasks together when the pack
//! writes its own marker; in a pack that runs on, one quick look every few seconds collects
//! the members finished so far. A job the queue shows ended that accounting does not know yet waits a few seconds for
//! its record before the queue's word stands.
//!
//! [`Session::follow`] runs one loop per system, concurrently, each polling at an adaptive,
//! polite interval: [`min_poll_interval`](super::SessionOptions::min_poll_interval) while
//! things change (jobs start or finish), growing by half each quiet round (jobs wait in the
//! queue or run long) up to [`max_poll_interval`](super::SessionOptions::max_poll_interval).
//! The interval is counted from the start of one poll to the start of the next, with at least
//! a quarter of it free between the end of one poll and the start of the next. A system's
//! `poll_interval` is a floor under both (a wait that times out first makes no early poll),
//! and its `vanish_timeout` replaces the session's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::decide::{EndContext, EndFacts, decide_end};
use super::deliver::matching;
use super::driver::{SystemDriver, chunk_by_len};
use super::error::SessionError;
use super::protocol::tail_text;
use super::unchanged::UnchangedInputs;
use super::{Session, UNACCOUNTED_FILE, run_dir_names};
use crate::db::{EndState, TaskFilter, TaskRecord, TaskStatus, TaskSummary, TaskUpdate};
use crate::ids::{GroupId, SchedulerJobId, SystemName, TaskId};
use crate::scheduler::{JobState, JobStatus};
use crate::stage::extract_tar_keeping;
use crate::task::{EXIT_FILE, STDERR_FILE};

/// What one poll changed.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Tasks whose status changed, as they are now.
    pub changed: Vec<TaskRecord>,
    /// Tasks still ongoing on the polled system(s) after the poll.
    pub ongoing: usize,
    /// Systems that could not be polled, each with its error; the others were polled.
    pub failed: Vec<(SystemName, SessionError)>,
}

/// A followed job whose end is known (or that vanished: `job` is `None`).
struct Ended {
    record: TaskRecord,
    job: Option<JobStatus>,
}

impl Session {
    /// One round for every system that has ongoing tasks, concurrently (the CLI's `status` /
    /// `sync`). A system that cannot be reached does not stop the others: its error is in
    /// [`PollReport::failed`].
    pub async fn poll(&self) -> Result<PollReport, SessionError> {
        let mut systems: Vec<SystemName> = self
            .summaries(TaskFilter::in_statuses(&TaskStatus::ONGOING))
            .await?
            .into_iter()
            .map(|r| r.system)
            .collect();
        systems.sort();
        systems.dedup();
        let mut set = tokio::task::JoinSet::new();
        for system in systems {
            let session = self.clone();
            set.spawn(async move {
                let result = session.poll_system(system.as_str()).await;
                (system, result)
            });
        }
        let mut report = PollReport::default();
        while let Some(joined) = set.join_next().await {
            match joined.expect("a poll task does not panic") {
                (_, Ok(r)) => {
                    report.changed.extend(r.changed);
                    report.ongoing += r.ongoing;
                }
                (system, Err(e)) => report.failed.push((system, e)),
            }
        }
        report.failed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(report)
    }

    /// One round for `system` (see the module docs).
    pub async fn poll_system(&self, system: &str) -> Result<PollReport, SessionError> {
        let system = self.system(system)?.name.clone();
        let mut report = PollReport::default();
        let ongoing = TaskFilter::system_in(&system, &TaskStatus::ONGOING);
        let before: HashMap<TaskId, TaskStatus> = self
            .summaries(ongoing.clone())
            .await?
            .into_iter()
            .map(|s| (s.id, s.status))
            .collect();
        if before.is_empty() {
            return Ok(report);
        }
        let driver = self.driver(&system).await?;
        // Continue what a dead process left, unless a live one is at it right now.
        if let Some(_lock) = self.system_lock(&system, false).await? {
            self.advance_locked(&driver).await?;
        }
        // Settled before following too: a process that died between cancelling a held
        // child's job and writing so left the child held; its job must not be read as ended.
        self.settle_native(&driver).await?;
        let retried = self.follow_jobs(&driver).await?;
        let settled = self.settle_native(&driver).await?;
        let released = self.release_waiting(&system).await?;
        // Retries, released children and (with `max_queued` or a site's cap) tasks waiting
        // for a queue slot go out in this poll, not the next one.
        let capped =
            driver.system().max_queued.is_some() || driver.site_job_limit().await.is_some();
        if (retried + released + settled > 0 || capped)
            && let Some(_lock) = self.system_lock(&system, false).await?
        {
            self.advance_locked(&driver).await?;
            // A child the scheduler holds goes out once its parent has a job: a chain goes
            // one link per round, all in this poll.
            while self.release_waiting(&system).await? > 0 {
                self.advance_locked(&driver).await?;
            }
        }
        // Only in-flight rows again: a task that left them has finished (changed).
        let after: HashMap<TaskId, TaskStatus> = self
            .summaries(ongoing)
            .await?
            .into_iter()
            .map(|s| (s.id, s.status))
            .collect();
        report.ongoing = after.keys().filter(|id| before.contains_key(*id)).count();
        let changed: Vec<TaskId> = before
            .iter()
            .filter(|(id, old)| after.get(*id) != Some(*old))
            .map(|(id, _)| id.clone())
            .collect();
        report.changed = self.with_db(move |db| db.get_many(&changed)).await?;
        Ok(report)
    }

    /// Follows the system's jobs one round; returns how many tasks go on to a new attempt.
    async fn follow_jobs(&self, driver: &SystemDriver) -> Result<usize, SessionError> {
        let system = &driver.system().name;
        let followed: Vec<TaskSummary> = self
            .summaries(TaskFilter::system_in(system, &TaskStatus::IN_SCHEDULER))
            .await?
            .into_iter()
            .filter(|r| r.scheduler_job_id.is_some())
            .collect();
        if followed.is_empty() {
            return Ok(0);
        }
        // A pack's members share its job: asked about once.
        let mut job_ids: Vec<SchedulerJobId> = followed
            .iter()
            .filter_map(|r| r.scheduler_job_id.clone())
            .collect();
        job_ids.sort();
        job_ids.dedup();
        let status = driver.status(&job_ids).await?;
        // How many members of each shared job are still live and not asked to be cancelled:
        // a pack is cancelled only once none of its members wants to go on.
        let mut wanted: HashMap<&SchedulerJobId, usize> = HashMap::new();
        for task in &followed {
            let job = task.scheduler_job_id.as_ref().expect("filtered above");
            *wanted.entry(job).or_default() += usize::from(!task.cancel_requested());
        }

        let mut to_account = Vec::new();
        let mut final_in_queue = Vec::new();
        let mut to_cancel = Vec::new();
        let mut now_running = Vec::new();
        for task in &followed {
            let job = task.scheduler_job_id.as_ref().expect("filtered above");
            match status.get(job) {
                Some(s) if !s.state.is_final() => {
                    self.clear_unaccounted(&task.id);
                    if task.cancel_requested() && wanted.get(job) == Some(&0) {
                        to_cancel.push(job.clone());
                    }
                    if task.status == TaskStatus::Submitted && s.state == JobState::Running {
                        let update = TaskUpdate {
                            node: s.node.clone(),
                            ..TaskUpdate::default()
                        };
                        now_running.push((task.id.clone(), update));
                    }
                }
                Some(s) => final_in_queue.push(Ended {
                    record: self.get_async(&task.id).await?,
                    job: Some(s.clone()),
                }),
                None => to_account.push(self.get_async(&task.id).await?),
            }
        }
        self.transition_many(now_running, &[TaskStatus::Submitted], TaskStatus::Started)
            .await?;
        if !to_cancel.is_empty() {
            to_cancel.sort();
            to_cancel.dedup();
            driver.cancel(&to_cancel).await?;
        }

        // The queue shows these final: their run dirs come back now, and those whose script
        // wrote its exit status are finished from it without asking accounting. The rest
        // (killed, timed out, cancelled: no exit status) wait for accounting's word.
        let mut retried = 0;
        let mut fetched: HashSet<TaskId> = HashSet::new();
        if !final_in_queue.is_empty() {
            fetched = self.fetch(driver, &final_in_queue).await?;
            let mut clean = Vec::new();
            for e in final_in_queue {
                // A job that exited non-zero is asked of accounting too (in the same one
                // query): its run time, memory and the scheduler's words say why it failed.
                let exited = fs::read_to_string(self.local_run_dir(&e.record.id).join(EXIT_FILE))
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok());
                if fetched.contains(&e.record.id) && exited == Some(0) {
                    clean.push((e, true));
                } else {
                    to_account.push(e.record);
                }
            }
            retried += self.finish_many(driver, clean).await?;
        }
        if to_account.is_empty() {
            return Ok(retried);
        }

        let mut account_ids: Vec<SchedulerJobId> = to_account
            .iter()
            .filter_map(|r| r.scheduler_job_id.clone())
            .collect();
        account_ids.sort();
        account_ids.dedup();
        let accounting = driver.accounting(&account_ids).await?;
        let mut ended = Vec::new();
        for record in to_account {
            let job = record.scheduler_job_id.clone().expect("filtered above");
            if let Some(s) = accounting.get(&job).filter(|s| s.state.is_final()) {
                ended.push(Ended {
                    job: Some(s.clone()),
                    record,
                });
                continue;
            }
            if let Some(s) = status.get(&job).filter(|s| s.state.is_final()) {
                // The queue says it ended and accounting has no record yet (slurmdbd takes a
                // moment): its run time, memory and words say why it failed, so it is waited
                // for a little; then the queue's word stands.
                if !record.cancel_requested()
                    && self.unaccounted_for(&record.id)? < ACCOUNTING_GRACE
                {
                    continue;
                }
                ended.push(Ended {
                    job: Some(s.clone()),
                    record,
                });
                continue;
            }
            if let Some(s) = accounting.get(&job) {
                // Accounting still sees it live (e.g. the queue listing lagged).
                self.clear_unaccounted(&record.id);
                self.mark_running(&record, s).await?;
                continue;
            }
            if record.cancel_requested() {
                ended.push(Ended { job: None, record });
                continue;
            }
            let missing_for = self.unaccounted_for(&record.id)?;
            if missing_for >= self.vanish_timeout(driver.system()) {
                ended.push(Ended { job: None, record });
            }
        }
        if !ended.is_empty() {
            retried += self.collect(driver, ended, &fetched).await?;
        }
        Ok(retried)
    }

    /// Looks at the tasks of `system` waiting for parents: one whose parents' ends all meet
    /// their conditions is released (`created`, to be submitted); one with a parent whose end
    /// can no longer meet its condition ends `never_ran`, naming that parent. Returns how many
    /// were released. Exactly once: each is a compare-and-set from `waiting`.
    pub(crate) async fn release_waiting(&self, system: &SystemName) -> Result<usize, SessionError> {
        let waiting = self
            .summaries(TaskFilter::system_in(system, &[TaskStatus::Waiting]))
            .await?;
        let mut released = 0;
        for child in waiting {
            let id = child.id.clone();
            let parents = self.with_db(move |db| db.parents(&id)).await?;
            let mut all_met = true;
            let mut blocker = None;
            for (kind, parent) in &parents {
                match kind.met_by(parent.status.is_finished(), parent.end_state) {
                    Some(true) => {}
                    Some(false) => {
                        blocker = Some((*kind, parent));
                        break;
                    }
                    None => all_met = false,
                }
            }
            let (to, update) = match blocker {
                Some((kind, parent)) => (
                    TaskStatus::Failed,
                    TaskUpdate {
                        end_state: Some(EndState::NeverRan),
                        reason: Some(format!(
                            "its parent {} ({}) ended {}: {kind} can no longer be met",
                            parent.name,
                            parent.id,
                            parent
                                .end_state
                                .map_or("without an end state", |e| e.as_str()),
                        )),
                        ..TaskUpdate::default()
                    },
                ),
                None if all_met => match self.inputs_from_parents(&child.id).await? {
                    Ok(spec) => (
                        TaskStatus::Created,
                        TaskUpdate {
                            spec,
                            detail: Some(format!(
                                "released: its {} parent(s) ended as it waited for",
                                parents.len()
                            )),
                            ..TaskUpdate::default()
                        },
                    ),
                    Err(why) => (
                        TaskStatus::Failed,
                        TaskUpdate {
                            end_state: Some(EndState::NeverRan),
                            reason: Some(why),
                            ..TaskUpdate::default()
                        },
                    ),
                },
                None => {
                    let record = self.get_async(&child.id).await?;
                    let stored = self.stored(&record)?;
                    let Some(plan) = self.native_plan(&child, &stored, &parents).await? else {
                        continue;
                    };
                    let held: Vec<String> = plan
                        .iter()
                        .map(|(parent, dep)| format!("job {} of {parent}", dep.job))
                        .collect();
                    let jobs: Vec<_> = plan
                        .iter()
                        .map(|(parent, dep)| (parent.clone(), Some(dep.job.clone())))
                        .collect();
                    let spec = match self.inputs_from_parents(&child.id).await? {
                        Ok(spec) => spec,
                        // Only parents that have ended are read here; one of them lacks what
                        // the child takes: it cannot run, whatever the others do.
                        Err(why) => {
                            self.transition(
                                &child.id,
                                &[TaskStatus::Waiting],
                                TaskStatus::Failed,
                                TaskUpdate {
                                    end_state: Some(EndState::NeverRan),
                                    reason: Some(why),
                                    ..TaskUpdate::default()
                                },
                            )
                            .await?;
                            continue;
                        }
                    };
                    let id = child.id.clone();
                    self.with_db(move |db| db.set_native_jobs(&id, &jobs))
                        .await?;
                    (
                        TaskStatus::Created,
                        TaskUpdate {
                            spec,
                            detail: Some(format!(
                                "released to the scheduler, held on {}",
                                held.join(", ")
                            )),
                            ..TaskUpdate::default()
                        },
                    )
                }
            };
            let moved = self
                .transition(&child.id, &[TaskStatus::Waiting], to, update)
                .await?;
            if moved.is_some() && to == TaskStatus::Created {
                released += 1;
            }
        }
        Ok(released)
    }

    /// The stored spec of `child` with the outputs of its parents that it takes as inputs
    /// (`inputs_from`) added to its inputs, read from the parents' local run dirs (their
    /// outputs came back when they ended); `Ok(None)` when it takes none. `Err` says, in
    /// words, why it cannot run: a pattern that matches nothing, two files for one name.
    async fn inputs_from_parents(
        &self,
        child: &TaskId,
    ) -> Result<Result<Option<String>, String>, SessionError> {
        let record = self.get_async(child).await?;
        let mut stored = self.stored(&record)?;
        if stored.inputs_from.is_empty() {
            return Ok(Ok(None));
        }
        for (parent, glob) in stored.inputs_from.clone() {
            let status = self.get_async(&parent).await?.status;
            if !status.is_finished() {
                // Held on by the scheduler: its outputs are copied on the cluster.
                continue;
            }
            let dir = self.local_run_dir(&parent);
            let found = matching(&dir, &glob).unwrap_or_default();
            let found: Vec<_> = found.into_iter().filter(|rel| !is_xprs_own(rel)).collect();
            if found.is_empty() {
                return Ok(Err(format!(
                    "the outputs of its parent {parent} hold nothing matching {glob:?} \
                     (in {})",
                    dir.display()
                )));
            }
            for rel in found {
                let source = dir.join(&rel);
                if stored.inputs.iter().any(|(s, d)| s == &source && d == &rel) {
                    // Added when it was released before (it waited again since).
                    continue;
                }
                if stored.inputs.iter().any(|(_, dest)| dest == &rel) {
                    return Ok(Err(format!(
                        "two of its inputs would be {} (one from parent {parent})",
                        rel.display()
                    )));
                }
                stored.inputs.push((source, rel));
            }
        }
        Ok(Ok(Some(
            serde_json::to_string(&stored).expect("a task spec serialises"),
        )))
    }

    async fn mark_running(&self, task: &TaskSummary, job: &JobStatus) -> Result<(), SessionError> {
        if task.status == TaskStatus::Submitted && job.state == JobState::Running {
            self.transition(
                &task.id,
                &[TaskStatus::Submitted],
                TaskStatus::Started,
                TaskUpdate {
                    node: job.node.clone(),
                    ..TaskUpdate::default()
                },
            )
            .await?;
        }
        Ok(())
    }

    fn clear_unaccounted(&self, id: &TaskId) {
        let _ = fs::remove_file(self.local_run_dir(id).join(UNACCOUNTED_FILE));
    }

    /// How long the job of `id` has been in neither queue nor accounting, by the session's
    /// clock (zero the first time: the moment is written down). The marker holds epoch
    /// milliseconds.
    fn unaccounted_for(&self, id: &TaskId) -> Result<Duration, SessionError> {
        let dir = self.local_run_dir(id);
        let path = dir.join(UNACCOUNTED_FILE);
        let now = self.options().clock.now().as_millis() as u64;
        let since = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        let since = match since {
            Some(s) => s,
            None => {
                fs::create_dir_all(&dir).map_err(SessionError::io("creating", &dir))?;
                fs::write(&path, format!("{now}\n")).map_err(SessionError::io("writing", &path))?;
                now
            }
        };
        Ok(Duration::from_millis(now.saturating_sub(since)))
    }

    /// Brings the run dirs of ended jobs back (one tar stream per remote base), except those
    /// of `fetched` (brought back earlier in this poll), and records how each task ended;
    /// returns how many go on to a new attempt.
    async fn collect(
        &self,
        driver: &SystemDriver,
        ended: Vec<Ended>,
        fetched: &HashSet<TaskId>,
    ) -> Result<usize, SessionError> {
        let (earlier, now): (Vec<Ended>, Vec<Ended>) = ended
            .into_iter()
            .partition(|e| fetched.contains(&e.record.id));
        let came_back = self.fetch(driver, &now).await?;
        let mut items: Vec<(Ended, bool)> = earlier.into_iter().map(|e| (e, true)).collect();
        items.extend(now.into_iter().map(|e| {
            let back = came_back.contains(&e.record.id);
            (e, back)
        }));
        self.finish_many(driver, items).await
    }

    /// Brings the run dirs of `jobs` back, one tar stream per remote base; returns the tasks
    /// whose run dir came back.
    async fn fetch(
        &self,
        driver: &SystemDriver,
        jobs: &[Ended],
    ) -> Result<HashSet<TaskId>, SessionError> {
        let mut by_base: BTreeMap<String, Vec<TaskRecord>> = BTreeMap::new();
        let mut unchanged: HashMap<String, UnchangedInputs> = HashMap::new();
        for e in jobs {
            let stored = self.stored(&e.record)?;
            unchanged.insert(
                format!("run_{}", e.record.id),
                UnchangedInputs::new(stored.inputs, &stored.spec.outputs),
            );
            by_base
                .entry(stored.remote_base)
                .or_default()
                .push(e.record.clone());
        }
        let unchanged = Arc::new(unchanged);
        let mut came_back = HashSet::new();
        for (base, records) in by_base {
            let names = run_dir_names(&records)?;
            let mut fetched: HashSet<String> = HashSet::new();
            for chunk in chunk_by_len(&names, String::len) {
                fetched.extend(
                    self.fetch_run_dirs(driver, &base, chunk, unchanged.clone())
                        .await?,
                );
            }
            came_back.extend(
                records
                    .into_iter()
                    .filter(|r| fetched.contains(&format!("run_{}", r.id)))
                    .map(|r| r.summary.id),
            );
        }
        Ok(came_back)
    }

    /// Fetches `names` (run dirs under `base`) in one tar stream, unpacked as it comes into a
    /// scratch dir and then moved into place (a run dir is replaced whole, never seen half
    /// written); returns the names that came back. The inputs that come back as they went
    /// (`unchanged`, by run dir name) are not written.
    async fn fetch_run_dirs(
        &self,
        driver: &SystemDriver,
        base: &str,
        names: &[String],
        unchanged: Arc<HashMap<String, UnchangedInputs>>,
    ) -> Result<Vec<String>, SessionError> {
        let scratch = self.scratch_file("collect", "d")?;
        let extract_into = scratch.clone();
        let pipe_error = SessionError::io("creating a pipe for", Path::new("the run dirs"));
        let (read_end, write_end) = std::io::pipe().map_err(pipe_error)?;
        let mut sender = tokio::net::unix::pipe::Sender::from_owned_fd(write_end.into()).map_err(
            SessionError::io("creating a pipe for", Path::new("the run dirs")),
        )?;
        let unpacker = tokio::task::spawn_blocking(move || {
            let mut keep = |path: &Path, header: &tar::Header| {
                let mut parts = path.components();
                let dir = parts.next().map(|c| c.as_os_str().to_string_lossy());
                let rel = parts.as_path();
                !dir.and_then(|d| unchanged.get(d.as_ref()))
                    .is_some_and(|rules| rules.is_unchanged(rel, header))
            };
            let input = std::io::BufReader::with_capacity(1 << 20, read_end);
            extract_tar_keeping(input, &extract_into, &mut keep)
                .map_err(|source| SessionError::Stage { task: None, source })
        });
        let fetched = driver.fetch(base, names, &mut sender).await;
        // The end of the stream for the unpacker.
        drop(sender);
        let extracted = unpacker
            .await
            .expect("the extraction thread does not panic");
        // The unpacker reads the stream to its end even after a refusal, so a transport
        // failure is the transport's own (the stream was cut): it comes first.
        let outcome = fetched.and(extracted.map(|_| ()));
        if let Err(e) = outcome {
            let _ = fs::remove_dir_all(&scratch);
            return Err(e);
        }
        let mut came_back = Vec::new();
        for name in names {
            let fresh = scratch.join(name);
            if !fresh.is_dir() {
                continue;
            }
            let target = self.stage_root().join(name);
            let old = scratch.join(format!("{name}.old"));
            // The clock of a job missing from accounting is this machine's, not the job's:
            // it stays with the local run dir, and one the remote side sent is never read.
            let _ = fs::remove_file(fresh.join(UNACCOUNTED_FILE));
            let _ = fs::rename(target.join(UNACCOUNTED_FILE), fresh.join(UNACCOUNTED_FILE));
            if target.exists() {
                fs::rename(&target, &old).map_err(SessionError::io("moving aside", &target))?;
            }
            fs::rename(&fresh, &target).map_err(SessionError::io("moving into place", &fresh))?;
            came_back.push(name.clone());
        }
        let _ = fs::remove_dir_all(&scratch);
        Ok(came_back)
    }

    /// Records how each task ended ([`decide_end`] over what its run dir and the scheduler
    /// say; `came_back` says whether its run dir came back): the ones that end, in one DB
    /// transaction per status; the ones that retry each to a new attempt. Returns how many go
    /// on to a new attempt.
    async fn finish_many(
        &self,
        driver: &SystemDriver,
        items: Vec<(Ended, bool)>,
    ) -> Result<usize, SessionError> {
        let mut retried = 0;
        let mut ends: Vec<(TaskStatus, Vec<(TaskId, TaskUpdate)>)> = Vec::new();
        for (ended, came_back) in items {
            let record = ended.record.clone();
            let (decision, update) = self.decide(driver, ended, came_back).await?;
            let mut stored = self.stored(&record)?;
            if let Some(next) = stored.retries.next(
                decision.end_state,
                record.attempt,
                stored.resources.as_ref(),
                driver.system(),
            ) {
                self.retry_attempt(driver, &record, stored, update, next)
                    .await?;
                retried += 1;
                continue;
            }
            // A pack that ended before this member did (killed half-way, timed out, cancelled
            // by someone else): the member goes again once, whatever the pack's end was.
            let packed = record.group.is_some() && stored.submission.is_packed();
            if packed
                && decision.exit_code_from_marker.is_none()
                && !record.cancel_requested()
                && stored.pack_restarts == 0
            {
                stored.pack_restarts += 1;
                let next = super::NextAttempt {
                    number: record.attempt + 1,
                    resources: None,
                    note: format!(
                        "attempt {} after its pack ended ({}) before it did",
                        record.attempt + 1,
                        decision.end_state
                    ),
                };
                self.retry_attempt(driver, &record, stored, update, next)
                    .await?;
                retried += 1;
                continue;
            }
            let status = decision.end_state.status();
            match ends.iter_mut().find(|(s, _)| *s == status) {
                Some((_, moves)) => moves.push((record.id.clone(), update)),
                None => ends.push((status, vec![(record.id.clone(), update)])),
            }
        }
        for (status, moves) in ends {
            let ids: Vec<TaskId> = moves.iter().map(|(id, _)| id.clone()).collect();
            self.transition_many(moves, &TaskStatus::IN_SCHEDULER, status)
                .await?;
            for id in &ids {
                self.clear_unaccounted(id);
            }
        }
        Ok(retried)
    }

    /// Writes the job script (as this attempt ran it) and the arguments of a task that did
    /// not succeed into its local run dir, from the jobs DB: they do not come back with its
    /// outputs (the `unchanged` module), but whoever looks into why it failed wants them.
    async fn restore_own_files(
        &self,
        driver: &SystemDriver,
        record: &TaskRecord,
        dir: &Path,
    ) -> Result<(), SessionError> {
        let stored = self.stored(record)?;
        for (name, bytes) in self.own_files(driver, record, &stored).await? {
            let path = dir.join(name);
            if path.symlink_metadata().is_err() {
                fs::write(&path, bytes).map_err(SessionError::io("writing", &path))?;
            }
        }
        Ok(())
    }

    /// How one task's attempt ended, and the update that records it.
    async fn decide(
        &self,
        driver: &SystemDriver,
        ended: Ended,
        came_back: bool,
    ) -> Result<(Decided, TaskUpdate), SessionError> {
        let Ended { record, job } = ended;
        let dir = self.local_run_dir(&record.id);
        let exit_status = fs::read_to_string(dir.join(EXIT_FILE))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|_| came_back);
        let missing_outputs = match exit_status {
            Some(0) => missing_outputs(&dir, &self.stored(&record)?.spec.outputs),
            _ => Vec::new(),
        };
        let stderr_tail = match exit_status {
            Some(code) if code != 0 => {
                tail_text(&fs::read(dir.join(STDERR_FILE)).unwrap_or_default(), 500)
            }
            _ => String::new(),
        };
        // Error lines count only for a task that opted in, and only against a clean exit.
        let findings = if exit_status == Some(0) && missing_outputs.is_empty() {
            let rules = self.error_rules(&record)?;
            if rules.lines_fail() {
                let session = self.clone();
                let task = record.clone();
                Some(
                    tokio::task::spawn_blocking(move || session.error_findings(&task, &rules))
                        .await
                        .expect("the log scan does not panic")?,
                )
            } else {
                None
            }
        } else {
            None
        };
        let facts = EndFacts {
            exit_status,
            missing_outputs,
            cancel_requested: record.cancel_requested(),
            job: job.as_ref(),
            stderr_tail,
            error_lines: findings.as_ref(),
        };
        let job_id = record
            .scheduler_job_id
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default();
        let decision = decide_end(
            &facts,
            EndContext {
                job_id: &job_id,
                system: driver.system().name.as_str(),
                vanish_timeout: self.vanish_timeout(driver.system()),
            },
        );
        if came_back && decision.end_state != EndState::Succeeded {
            self.restore_own_files(driver, &record, &dir).await?;
        }
        let update = TaskUpdate {
            end_state: Some(decision.end_state),
            exit_code: decision.exit_code,
            reason: decision.reason,
            node: job.as_ref().and_then(|j| j.node.clone()),
            local_dir: Some(dir.to_string_lossy().into_owned()),
            elapsed_secs: job.as_ref().and_then(|j| j.elapsed_secs),
            peak_memory_kb: job.as_ref().and_then(|j| j.peak_memory_kb),
            scheduler_reason: job.as_ref().and_then(|j| j.scheduler_reason.clone()),
            ..TaskUpdate::default()
        };
        Ok((
            Decided {
                end_state: decision.end_state,
                exit_code_from_marker: exit_status,
            },
            update,
        ))
    }

    /// Ends `record`'s attempt as `end` says and makes the task ready for attempt `next`:
    /// the attempt's local run dir is kept as `run_<id>.attempt-<n>` (its logs stay
    /// readable), the job script is rendered again when the resources grow, and the task is
    /// `created` again, to be staged afresh and submitted as a new attempt.
    async fn retry_attempt(
        &self,
        driver: &SystemDriver,
        record: &TaskRecord,
        mut stored: super::StoredTask,
        end: TaskUpdate,
        next: super::NextAttempt,
    ) -> Result<(), SessionError> {
        self.keep_attempt_dir(&record.id, record.attempt)?;
        if let Some(resources) = next.resources {
            let job_dir = record.remote_dir.clone().unwrap_or_default();
            stored.script = self.render_script(
                driver.system(),
                &resources,
                &stored.spec,
                &record.id,
                &job_dir,
                &stored.extra_header,
            )?;
            stored.resources = Some(resources);
        }
        let spec = Some(serde_json::to_string(&stored).expect("a task spec serialises"));
        let id = record.id.clone();
        let end = TaskUpdate {
            detail: Some(format!("retry: {}", next.note)),
            ..end
        };
        tracing::info!(task = %id, note = %next.note, "retrying");
        let moved = self
            .with_db(move |db| {
                match db.retry(&id, &TaskStatus::IN_SCHEDULER, &end, spec.as_deref()) {
                    Ok(r) => Ok(Some(r)),
                    Err(crate::db::DbError::WrongState { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        if moved.is_none() {
            tracing::info!(task = %record.id, "task moved by someone else; not retried here");
        }
        self.clear_unaccounted(&record.id);
        Ok(())
    }

    /// Follows tasks until they are finished: `ids`, or every ongoing task when `None`. One
    /// loop per system runs concurrently. Fails with [`SessionError::Timeout`] after
    /// `timeout` (the tasks keep running). Returns the tasks as they ended.
    pub async fn follow(
        &self,
        ids: Option<&[TaskId]>,
        timeout: Option<Duration>,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        let (ids, watched) = self.followed(ids).await?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut systems: Vec<SystemName> = Vec::new();
        for (_, system, status) in &watched {
            if !status.is_finished() && !systems.contains(system) {
                systems.push(system.clone());
            }
        }
        let watch: Vec<TaskId> = watched.into_iter().map(|(id, _, _)| id).collect();
        let mut set = tokio::task::JoinSet::new();
        for system in systems {
            let session = self.clone();
            let watch = watch.clone();
            set.spawn(async move { session.follow_system(system, watch, deadline).await });
        }
        let mut first_error = None;
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined.expect("a follow loop does not panic") {
                first_error.get_or_insert(e);
            }
        }
        let mut records = Vec::with_capacity(ids.len());
        for id in &ids {
            records.push(self.get_async(id).await?);
        }
        if let Some(e) = first_error {
            let pending: Vec<TaskId> = records
                .iter()
                .filter(|r| !r.status.is_finished())
                .map(|r| r.id.clone())
                .collect();
            return Err(match e {
                SessionError::Timeout { waited, .. } => SessionError::Timeout { waited, pending },
                e => e,
            });
        }
        Ok(records)
    }

    /// The tasks [`Session::follow`] follows: `ids` (or every ongoing task), and the
    /// ancestors that unfinished ones wait for, each with its system and status.
    async fn followed(
        &self,
        ids: Option<&[TaskId]>,
    ) -> Result<(Vec<TaskId>, Vec<(TaskId, SystemName, TaskStatus)>), SessionError> {
        // (id, system, status) of each task to follow, from the light listing columns.
        let tasks: Vec<(TaskId, SystemName, TaskStatus)> = match ids {
            // Each id given must exist: an unknown one is an error, not nothing to wait for.
            Some(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let r = self.get_async(id).await?;
                    out.push((r.summary.id, r.summary.system, r.summary.status));
                }
                out
            }
            None => self
                .summaries(TaskFilter::in_statuses(&TaskStatus::ONGOING))
                .await?
                .into_iter()
                .map(|s| (s.id, s.system, s.status))
                .collect(),
        };
        let ids: Vec<TaskId> = tasks.iter().map(|(id, _, _)| id.clone()).collect();
        // A task waiting for parents on other systems ends only once they do: follow those
        // systems too, until the parents have ended.
        let unfinished: Vec<TaskId> = tasks
            .iter()
            .filter(|(_, _, status)| !status.is_finished())
            .map(|(id, _, _)| id.clone())
            .collect();
        let ancestors = self.with_db(move |db| db.ancestors(&unfinished)).await?;
        let mut watched = tasks;
        watched.extend(ancestors.into_iter().map(|a| (a.id, a.system, a.status)));
        Ok((ids, watched))
    }

    /// The ids [`Session::follow`] would follow for `ids` (see [`Session::followed`]).
    pub(crate) async fn follow_set(
        &self,
        ids: Option<&[TaskId]>,
    ) -> Result<HashSet<TaskId>, SessionError> {
        let (_, watched) = self.followed(ids).await?;
        Ok(watched.into_iter().map(|(id, _, _)| id).collect())
    }

    /// How long a job of `system` may be missing from queue and accounting before it has
    /// vanished: the system's `vanish_timeout`, else the session's.
    pub(crate) fn vanish_timeout(&self, system: &crate::config::System) -> Duration {
        system
            .vanish_timeout
            .unwrap_or(self.options().vanish_timeout)
    }

    /// Waits until `ids` are finished, at most `timeout`.
    pub async fn wait(
        &self,
        ids: &[TaskId],
        timeout: Duration,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        self.follow(Some(ids), Some(timeout)).await
    }

    async fn follow_system(
        &self,
        system: SystemName,
        ids: Vec<TaskId>,
        deadline: Option<Instant>,
    ) -> Result<(), SessionError> {
        let mut options = self.options().clone();
        // A system's own poll interval is a floor: the back-off runs above it.
        if let Some(floor) = self.system(system.as_str())?.poll_interval {
            options.min_poll_interval = options.min_poll_interval.max(floor);
            options.max_poll_interval = options.max_poll_interval.max(floor);
        }
        let ids: HashSet<TaskId> = ids.into_iter().collect();
        let unfinished: Vec<TaskStatus> = TaskStatus::ALL
            .into_iter()
            .filter(|s| !s.is_finished())
            .collect();
        let started = Instant::now();
        let mut interval = options.min_poll_interval;
        let mut errors = 0;
        // When the finished members of packs that run on are next collected.
        let mut progress_due = started + PACK_PROGRESS;
        loop {
            let poll_started = Instant::now();
            match self.poll_system(system.as_str()).await {
                Ok(report) => {
                    tracing::debug!(%system, took = ?poll_started.elapsed(), changed = report.changed.len(), ongoing = report.ongoing, "poll");
                    errors = 0;
                    interval = if report.changed.is_empty() {
                        (interval + interval / 2).min(options.max_poll_interval)
                    } else {
                        options.min_poll_interval
                    };
                }
                // The network drops, clusters hiccup: keep following, a few times.
                Err(e) if errors < 5 => {
                    errors += 1;
                    tracing::warn!(%system, error = %e, "poll failed; trying again");
                    interval = options.max_poll_interval.min(interval * 2);
                }
                Err(e) => return Err(e),
            }
            let done = !self
                .summaries(TaskFilter::system_in(&system, &unfinished))
                .await?
                .iter()
                .any(|t| ids.contains(&t.id));
            if done {
                return Ok(());
            }
            // The interval runs from the start of one poll to the start of the next, so a
            // poll's own round trips (several over a slow link) do not stretch it; a quarter
            // of it always stays free, so a slow scheduler is never asked back to back.
            let this_round = interval.max(options.min_poll_interval);
            let sleep = this_round
                .saturating_sub(poll_started.elapsed())
                .max(this_round / 4);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                // The deadline comes before the next poll is due: no early poll (a
                // system's poll interval is a promise to the site), just the timeout.
                if left < sleep {
                    tokio::time::sleep(left).await;
                    return Err(SessionError::Timeout {
                        waited: started.elapsed(),
                        pending: Vec::new(),
                    });
                }
            }
            let (finished, all_done) = self
                .wait_for_markers(&system, sleep, &ids, &mut progress_due)
                .await?;
            if all_done {
                return Ok(());
            }
            if finished > 0 {
                interval = options.min_poll_interval;
            }
        }
    }

    /// Waits `wait` before the next poll of `system`, meanwhile finishing tasks as soon as
    /// their exit status markers appear (see the module docs), with no scheduler query (the
    /// poll interval is a promise to the site; a look at a few files is not a scheduler
    /// query): one remote command looks at the run dirs of the tasks of their own in the
    /// scheduler and at the dirs of the packs (not at their members: one pack marker stands
    /// for them all), napping ever longer between looks, and returns as soon as a marker is
    /// there. A task of its own or an array element is collected at once; the tasks of a pack
    /// when their pack has ended (one collection for all); in a pack that runs on, once
    /// `progress_due` has passed, one quick look at its members' dirs collects those finished
    /// (then due again [`PACK_PROGRESS`] later). Returns how many were finished, and whether
    /// every task of `watched` is finished now.
    async fn wait_for_markers(
        &self,
        system: &SystemName,
        wait: Duration,
        watched: &HashSet<TaskId>,
        progress_due: &mut Instant,
    ) -> Result<(usize, bool), SessionError> {
        let end = Instant::now() + wait;
        let mut finished = 0;
        // Tasks whose marker was seen and that the next poll finishes (a job of its own that
        // exited non-zero: accounting says why): not looked at again in this wait.
        let mut seen: HashSet<TaskId> = HashSet::new();
        let mut is_pack: HashMap<GroupId, bool> = HashMap::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            // Submitted ones too: a job may run, even end, before a poll sees it start.
            let running: Vec<TaskSummary> = self
                .summaries(TaskFilter::system_in(system, &TaskStatus::IN_SCHEDULER))
                .await?;
            let sys = system.clone();
            let groups = self.with_db(move |db| db.in_flight_groups(&sys)).await?;
            let mut packs: HashMap<GroupId, Vec<TaskId>> = HashMap::new();
            let mut pack_of: HashMap<TaskId, GroupId> = HashMap::new();
            for (id, group) in groups {
                if !is_pack.contains_key(&group) {
                    let record = self.get_async(&id).await?;
                    let packed = self.stored(&record)?.submission.is_packed();
                    is_pack.insert(group.clone(), packed);
                }
                if is_pack[&group] {
                    packs.entry(group.clone()).or_default().push(id.clone());
                    pack_of.insert(id, group);
                }
            }
            let dir_of = |task: &TaskSummary| {
                let dir = task.remote_dir.as_deref()?;
                Some(dir.strip_prefix("~/").unwrap_or(dir).to_owned())
            };
            let progress = !packs.is_empty() && Instant::now() >= *progress_due;
            // Packs' dirs first, then tasks, the oldest first, as many as one command takes.
            let mut dirs: Vec<String> = Vec::new();
            let mut by_dir: HashMap<String, MarkerOf> = HashMap::new();
            let waiting: Vec<&TaskSummary> =
                running.iter().filter(|t| !seen.contains(&t.id)).collect();
            for task in &waiting {
                if let (Some(group), Some(dir)) = (pack_of.get(&task.id), dir_of(task))
                    && let Some((base, _)) = dir.rsplit_once('/')
                {
                    let group_dir = format!("{base}/grp_{group}");
                    if !by_dir.contains_key(&group_dir) {
                        by_dir.insert(group_dir.clone(), MarkerOf::Pack(group.clone()));
                        dirs.push(group_dir);
                    }
                }
            }
            for task in &waiting {
                if pack_of.contains_key(&task.id) && !progress {
                    continue;
                }
                if let Some(dir) = dir_of(task) {
                    by_dir.insert(dir.clone(), MarkerOf::Task(task.id.clone()));
                    dirs.push(dir);
                }
            }
            let dirs: Vec<String> = chunk_by_len(&dirs, String::len)
                .first()
                .map_or_else(Vec::new, |c| c.to_vec());
            if dirs.is_empty() || (left < MARKER_NAP && !progress) {
                tokio::time::sleep(left).await;
                return Ok((finished, false));
            }
            let driver = self.driver(system).await?;
            let watch_started = Instant::now();
            let hits = if progress {
                // One look, no waiting: the members that finished so far.
                *progress_due = Instant::now() + PACK_PROGRESS;
                driver.watch_markers(&[], 0.0, &dirs).await?
            } else {
                let gather = MARKER_GATHER.min(left).as_secs_f64();
                driver.watch_markers(&naps(left), gather, &dirs).await?
            };
            tracing::debug!(%system, dirs = dirs.len(), hits = hits.len(), progress, took = ?watch_started.elapsed(), "marker watch");
            if hits.is_empty() {
                if progress {
                    continue;
                }
                return Ok((finished, false));
            }
            let mut collect: Vec<(TaskId, Option<i32>)> = Vec::new();
            for (dir, code) in hits {
                match by_dir.get(&dir) {
                    // The pack is over: all its tasks at once.
                    Some(MarkerOf::Pack(group)) => {
                        for id in packs.get(group).into_iter().flatten() {
                            if !seen.contains(id) && !collect.iter().any(|(c, _)| c == id) {
                                collect.push((id.clone(), None));
                            }
                        }
                    }
                    Some(MarkerOf::Task(id)) if !collect.iter().any(|(c, _)| c == id) => {
                        collect.push((id.clone(), code));
                    }
                    Some(MarkerOf::Task(_)) => {}
                    None => {}
                }
            }
            finished += self.collect_marked(&driver, &collect).await?;
            seen.extend(collect.into_iter().map(|(id, _)| id));
            let unfinished: Vec<TaskStatus> = TaskStatus::ALL
                .into_iter()
                .filter(|s| !s.is_finished())
                .collect();
            let left_over = self
                .summaries(TaskFilter::system_in(system, &unfinished))
                .await?
                .iter()
                .any(|t| watched.contains(&t.id));
            if !left_over {
                return Ok((finished, true));
            }
        }
    }

    /// True when `record`'s current attempt runs as a member of a pack.
    fn is_packed_member(&self, record: &TaskRecord) -> Result<bool, SessionError> {
        Ok(record.group.is_some() && self.stored(record)?.submission.is_packed())
    }

    /// Brings back the run dirs of `marked` (tasks whose exit status markers are there, with
    /// the status each holds) and finishes those whose marker is the final word now: a clean
    /// exit, or any exit of a packed task (its pack's own end says nothing of it). A job of its
    /// own that exited non-zero is left to the next poll, which asks accounting why (its run
    /// dir is not fetched twice). Returns how many were finished.
    async fn collect_marked(
        &self,
        driver: &SystemDriver,
        marked: &[(TaskId, Option<i32>)],
    ) -> Result<usize, SessionError> {
        let mut ended = Vec::new();
        let mut packed_ids = HashSet::new();
        for (id, code) in marked {
            let record = self.get_async(id).await?;
            let packed = self.is_packed_member(&record)?;
            if TaskStatus::IN_SCHEDULER.contains(&record.status) && (*code == Some(0) || packed) {
                if packed {
                    packed_ids.insert(record.id.clone());
                }
                ended.push(Ended { record, job: None });
            }
        }
        let fetch_started = Instant::now();
        let came_back = self.fetch(driver, &ended).await?;
        tracing::debug!(tasks = ended.len(), took = ?fetch_started.elapsed(), "marked run dirs fetched");
        let mut done = Vec::new();
        for e in ended {
            if !came_back.contains(&e.record.id) {
                continue;
            }
            let exited = fs::read_to_string(self.local_run_dir(&e.record.id).join(EXIT_FILE))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            let packed = packed_ids.contains(&e.record.id);
            if exited == Some(0) || (packed && exited.is_some()) {
                done.push((e, true));
            }
        }
        let finished = done.len();
        let finish_started = Instant::now();
        self.finish_many(driver, done).await?;
        tracing::debug!(finished, took = ?finish_started.elapsed(), "marked tasks finished");
        Ok(finished)
    }
}

/// How an attempt ended, as [`Session::finish_many`] needs it.
struct Decided {
    /// The end state.
    end_state: EndState,
    /// The exit status the task's own marker holds, if it came back with one.
    exit_code_from_marker: Option<i32>,
}

/// What a run dir watched for its marker stands for.
enum MarkerOf {
    /// A task's own run dir.
    Task(TaskId),
    /// A pack's dir: its marker says all its tasks are done.
    Pack(GroupId),
}

/// How often the finished tasks of a pack that runs on are collected (a pack's tasks are
/// otherwise collected together when it ends: one collection for all).
const PACK_PROGRESS: Duration = Duration::from_secs(5);

/// How long a job the queue shows ended may wait for its accounting record before the queue's
/// word is taken instead.
const ACCOUNTING_GRACE: Duration = Duration::from_secs(5);

/// The first nap of a marker watch; shorter waits are slept through.
const MARKER_NAP: Duration = Duration::from_millis(200);

/// How long a marker watch waits, once a marker is there, for others that come with it: tasks
/// end in bursts (a pack's, an array's), and one collection for many costs about what one
/// for a single task does.
const MARKER_GATHER: Duration = Duration::from_millis(300);

/// The longest nap of a marker watch.
const MARKER_NAP_MAX: Duration = Duration::from_secs(2);

/// How long a marker watch naps only [`MARKER_NAP`]: short jobs (a pack of small tasks) end
/// within seconds of a poll, and a look at a few run dirs costs next to nothing.
const MARKER_NAP_STEADY: Duration = Duration::from_secs(3);

/// Naps (seconds) filling `wait`: [`MARKER_NAP`] for the first [`MARKER_NAP_STEADY`], then
/// half as long again each time, up to [`MARKER_NAP_MAX`], so a result is seen within a fifth
/// of a second of its marker while jobs end often, and a long quiet wait looks at the run dirs
/// only every two seconds.
fn naps(wait: Duration) -> Vec<f64> {
    let mut naps = Vec::new();
    let mut left = wait.as_secs_f64();
    let mut slept = 0.0;
    let mut nap = MARKER_NAP.as_secs_f64();
    while left > 0.05 {
        let n = nap.min(left);
        naps.push(n);
        left -= n;
        slept += n;
        if slept >= MARKER_NAP_STEADY.as_secs_f64() {
            nap = (nap * 1.5).min(MARKER_NAP_MAX.as_secs_f64());
        }
    }
    naps
}

/// True for the files xpr itself keeps in a run dir (job script, logs, markers): never a
/// task's output to pass on.
fn is_xprs_own(rel: &Path) -> bool {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.starts_with("xpr.")
        || first.starts_with("xpr_")
        || first.starts_with(".xpr-")
        || first.starts_with("job.")
}

/// The expected outputs (files or globs, relative to `dir`) that match nothing, by the same
/// rule that delivers them ([`deliver::matching`](super::deliver)): only the user's pattern
/// is a pattern, `dir` is taken literally whatever characters its path holds.
pub(crate) fn missing_outputs(dir: &Path, outputs: &[String]) -> Vec<String> {
    outputs
        .iter()
        .filter(|pattern| matching(dir, pattern).map_or(true, |found| found.is_empty()))
        .cloned()
        .collect()
}
