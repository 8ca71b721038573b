//! Following jobs to their end and bringing their outputs back.
//!
//! One poll of a system ([`Session::poll_system`]):
//!
//! 1. if no live process holds the system's lock, continue what a dead one left (`created`,
//!    `staged`, `submitting`: see [`crate::session`]);
//! 2. ONE status query for all its `submitted`/`started` jobs (id lists chunked below
//!    [`MAX_ARG_BYTES`](crate::session::MAX_ARG_BYTES)); running -> `started`;
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
//!    down (a marker file in its local run dir, so any process polling sees the same clock);
//!    past [`SessionOptions::vanish_timeout`](crate::session::SessionOptions) it has
//!    vanished;
//! 6. collect the finished ones: their run dirs come back in ONE tar stream per remote base
//!    (`tar -c -C BASE run_a run_b ...`), are extracted into a scratch dir in the stage root
//!    and moved into `<stage_root>/run_<id>/`. Then the task's end is decided:
//!
//! | what is known | status | `sched_state` |
//! |---|---|---|
//! | `xpr.exit` says 0, expected outputs present | succeeded | scheduler's (`succeeded`) |
//! | `xpr.exit` says 0, outputs missing | failed (reason names them) | `missing_outputs` |
//! | `xpr.exit` says N != 0 | failed (exit code, stderr tail) | `failed` |
//! | no `xpr.exit`, xpr cancelled it (ended, or in neither queue nor accounting) | failed | `cancelled` |
//! | no `xpr.exit`, scheduler final | failed | `timeout`, `cancelled`, `out_of_memory`, `node_fail`, ... |
//! | no `xpr.exit`, vanished | died | `vanished` |
//!
//! Only `xpr.exit` (written last, by rename) makes a job's outputs a result: a job that ended
//! without it has its partial outputs kept for inspection, never taken as succeeded.
//!
//! [`Session::follow`] runs one loop per system, concurrently, each polling at an adaptive,
//! polite interval: [`min_poll_interval`](crate::session::SessionOptions::min_poll_interval)
//! while things change (jobs start or finish), growing by half each quiet round (jobs wait in
//! the queue or run long) up to
//! [`max_poll_interval`](crate::session::SessionOptions::max_poll_interval). The interval is
//! counted from the start of one poll to the start of the next, with at least a quarter of it
//! free between the end of one poll and the start of the next.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::command::CommandSpec;
use crate::config::System;
use crate::db::{TaskRecord, TaskStatus, TaskSummary, TaskUpdate};
use crate::ids::{SchedulerJobId, SystemName, TaskId};
use crate::scheduler::{JobState, JobStatus};
use crate::session::protocol::{COLLECT_PROGRAM, tail_text};
use crate::session::{Session, SessionError, UNACCOUNTED_FILE, chunk_by_len, run_dir_names};
use crate::stage::{extract_tar, safe_relative_path};
use crate::task::{EXIT_FILE, STDERR_FILE};
use crate::transport::{Retry, Transport};

/// Statuses a poll follows in the scheduler.
const FOLLOWED: [TaskStatus; 2] = [TaskStatus::Submitted, TaskStatus::Started];

/// Statuses after which a task no longer changes by itself.
pub const FINISHED: [TaskStatus; 5] = [
    TaskStatus::Succeeded,
    TaskStatus::Failed,
    TaskStatus::Died,
    TaskStatus::Processed,
    TaskStatus::Cleaned,
];

/// What one poll changed.
#[derive(Clone, Debug, Default)]
pub struct PollReport {
    /// Tasks whose status changed, as they are now.
    pub changed: Vec<TaskRecord>,
    /// Tasks still ongoing on the polled system(s) after the poll.
    pub ongoing: usize,
}

/// A followed job whose end is known (or that vanished: `None`).
struct Ended {
    record: TaskRecord,
    job: Option<JobStatus>,
}

impl Session {
    /// One round for every system that has ongoing tasks, concurrently (the CLI's `status` /
    /// `sync`).
    pub async fn poll(&self) -> Result<PollReport, SessionError> {
        let mut systems: Vec<SystemName> = self
            .list(&crate::db::TaskFilter {
                statuses: TaskStatus::ONGOING.to_vec(),
                ..Default::default()
            })?
            .into_iter()
            .map(|r| r.system)
            .collect();
        systems.sort();
        systems.dedup();
        let mut set = tokio::task::JoinSet::new();
        for system in systems {
            let session = self.clone();
            set.spawn(async move { session.poll_system(system.as_str()).await });
        }
        let mut report = PollReport::default();
        let mut first_error = None;
        while let Some(joined) = set.join_next().await {
            match joined.expect("a poll task does not panic") {
                Ok(r) => {
                    report.changed.extend(r.changed);
                    report.ongoing += r.ongoing;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// One round for `system` (see the module docs).
    pub async fn poll_system(&self, system: &str) -> Result<PollReport, SessionError> {
        let system = self.system(system)?.clone();
        let mut report = PollReport::default();
        let before: HashMap<String, TaskStatus> = self
            .summaries_system(&system.name, &TaskStatus::ONGOING)?
            .into_iter()
            .map(|s| (s.id.as_str().to_owned(), s.status))
            .collect();
        if before.is_empty() {
            return Ok(report);
        }
        // Continue what a dead process left, unless a live one is at it right now.
        if let Some(_lock) = self.system_lock(&system.name, false).await? {
            self.advance_locked(&system).await?;
        }
        self.follow_jobs(&system).await?;
        // Index-only pass over the listing columns; full records only of the tasks that moved.
        let mut changed = Vec::new();
        self.db()
            .for_each_summary(&crate::db::TaskFilter::default(), |s| {
                if s.system != system.name.as_str() {
                    return;
                }
                if let Some(old) = before.get(s.id) {
                    if *old != s.status {
                        changed.push(TaskId::new(s.id));
                    }
                    if TaskStatus::ONGOING.contains(&s.status) {
                        report.ongoing += 1;
                    }
                }
            })?;
        for id in changed {
            report.changed.push(self.get(&id)?);
        }
        Ok(report)
    }

    async fn follow_jobs(&self, system: &System) -> Result<(), SessionError> {
        let followed: Vec<TaskSummary> = self
            .summaries_system(&system.name, &FOLLOWED)?
            .into_iter()
            .filter(|r| r.scheduler_job_id.is_some())
            .collect();
        if followed.is_empty() {
            return Ok(());
        }
        let transport = self.transport(system).await?;
        let scheduler = Self::scheduler(system);
        let job_ids: Vec<SchedulerJobId> = followed
            .iter()
            .filter_map(|r| r.scheduler_job_id.clone())
            .collect();

        let mut status: HashMap<SchedulerJobId, JobStatus> = HashMap::new();
        for chunk in chunk_by_len(&job_ids, |j| j.as_str().len()) {
            let cmd = scheduler.status(chunk);
            let out = transport.run(&cmd, Retry::Safe).await?;
            let parsed =
                scheduler
                    .parse_status(&out)
                    .map_err(|source| SessionError::Scheduler {
                        system: system.name.clone(),
                        source,
                    })?;
            status.extend(parsed.into_iter().map(|s| (s.id.clone(), s)));
        }

        let mut to_account = Vec::new();
        let mut final_in_queue = Vec::new();
        for task in &followed {
            let job = task.scheduler_job_id.as_ref().expect("filtered above");
            match status.get(job) {
                Some(s) if !s.state.is_final() => {
                    self.clear_unaccounted(&task.id);
                    self.mark_running(&task.id, task.status, s)?;
                }
                Some(s) => final_in_queue.push(Ended {
                    record: self.get(&task.id)?,
                    job: Some(s.clone()),
                }),
                None => to_account.push(self.get(&task.id)?),
            }
        }

        // The queue shows these final: their run dirs come back now, and those whose script
        // wrote its exit status are finished from it without asking accounting. The rest
        // (killed, timed out, cancelled: no exit status) wait for accounting's word.
        let mut fetched: HashSet<TaskId> = HashSet::new();
        if !final_in_queue.is_empty() {
            fetched = self
                .fetch(system, transport.as_ref(), &final_in_queue)
                .await?;
            for e in final_in_queue {
                if fetched.contains(&e.record.id)
                    && self.local_run_dir(&e.record.id).join(EXIT_FILE).is_file()
                {
                    self.finish(system, e, true)?;
                } else {
                    to_account.push(e.record);
                }
            }
        }
        if to_account.is_empty() {
            return Ok(());
        }

        let account_ids: Vec<SchedulerJobId> = to_account
            .iter()
            .filter_map(|r| r.scheduler_job_id.clone())
            .collect();
        let mut accounting: HashMap<SchedulerJobId, JobStatus> = HashMap::new();
        for chunk in chunk_by_len(&account_ids, |j| j.as_str().len()) {
            let cmd = scheduler.accounting(chunk);
            let out = transport.run(&cmd, Retry::Safe).await?;
            let parsed =
                scheduler
                    .parse_accounting(&out)
                    .map_err(|source| SessionError::Scheduler {
                        system: system.name.clone(),
                        source,
                    })?;
            accounting.extend(parsed.into_iter().map(|s| (s.id.clone(), s)));
        }

        let mut ended = Vec::new();
        for record in to_account {
            let job = record.scheduler_job_id.clone().expect("filtered above");
            let known = accounting
                .get(&job)
                .filter(|s| s.state.is_final())
                .or_else(|| status.get(&job).filter(|s| s.state.is_final()));
            if let Some(s) = known {
                ended.push(Ended {
                    job: Some(s.clone()),
                    record,
                });
                continue;
            }
            if let Some(s) = accounting.get(&job) {
                // Accounting still sees it live (e.g. the queue listing lagged).
                self.clear_unaccounted(&record.id);
                self.mark_running(&record.id, record.status, s)?;
                continue;
            }
            // A job xpr cancelled need not wait to be declared vanished: Grid Engine keeps no
            // record at all of a pending job deleted with `qdel`.
            if self.cancel_requested(&record.id)? {
                ended.push(Ended { job: None, record });
                continue;
            }
            let since = self.unaccounted_since(&record.id)?;
            if since.elapsed() >= self.options().vanish_timeout {
                ended.push(Ended { job: None, record });
            }
        }
        if !ended.is_empty() {
            self.collect(system, transport.as_ref(), ended, &fetched)
                .await?;
        }
        Ok(())
    }

    fn mark_running(
        &self,
        id: &TaskId,
        status: TaskStatus,
        job: &JobStatus,
    ) -> Result<(), SessionError> {
        if status == TaskStatus::Submitted && job.state == JobState::Running {
            self.transition(
                id,
                &[TaskStatus::Submitted],
                TaskStatus::Started,
                &TaskUpdate {
                    sched_state: Some("running".to_owned()),
                    node: job.node.clone(),
                    ..TaskUpdate::default()
                },
            )?;
        }
        Ok(())
    }

    fn clear_unaccounted(&self, id: &TaskId) {
        let _ = fs::remove_file(self.local_run_dir(id).join(UNACCOUNTED_FILE));
    }

    /// When the job of `id` was first seen in neither queue nor accounting (now, if never).
    /// The marker holds epoch milliseconds.
    fn unaccounted_since(&self, id: &TaskId) -> Result<Instant, SessionError> {
        let dir = self.local_run_dir(id);
        let path = dir.join(UNACCOUNTED_FILE);
        let now_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let since = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        let since = match since {
            Some(s) => s,
            None => {
                fs::create_dir_all(&dir).map_err(SessionError::io("creating", &dir))?;
                fs::write(&path, format!("{now_epoch}\n"))
                    .map_err(SessionError::io("writing", &path))?;
                now_epoch
            }
        };
        let age = Duration::from_millis(now_epoch.saturating_sub(since));
        Ok(Instant::now().checked_sub(age).unwrap_or_else(Instant::now))
    }

    /// Brings the run dirs of ended jobs back (one tar stream per remote base), except those
    /// of `fetched` (brought back earlier in this poll), and records how each task ended.
    async fn collect(
        &self,
        system: &System,
        transport: &dyn Transport,
        ended: Vec<Ended>,
        fetched: &HashSet<TaskId>,
    ) -> Result<(), SessionError> {
        let (earlier, now): (Vec<Ended>, Vec<Ended>) = ended
            .into_iter()
            .partition(|e| fetched.contains(&e.record.id));
        let came_back = self.fetch(system, transport, &now).await?;
        for e in earlier {
            self.finish(system, e, true)?;
        }
        for e in now {
            let back = came_back.contains(&e.record.id);
            self.finish(system, e, back)?;
        }
        Ok(())
    }

    /// Brings the run dirs of `jobs` back, one tar stream per remote base; returns the tasks
    /// whose run dir came back.
    async fn fetch(
        &self,
        system: &System,
        transport: &dyn Transport,
        jobs: &[Ended],
    ) -> Result<HashSet<TaskId>, SessionError> {
        let mut by_base: BTreeMap<String, Vec<TaskRecord>> = BTreeMap::new();
        for e in jobs {
            let base = self.stored(&e.record)?.remote_base;
            by_base.entry(base).or_default().push(e.record.clone());
        }
        let mut came_back = HashSet::new();
        for (base, records) in by_base {
            let names = run_dir_names(&records)?;
            let mut fetched: HashSet<String> = HashSet::new();
            for chunk in chunk_by_len(&names, String::len) {
                fetched.extend(self.fetch_run_dirs(system, transport, &base, chunk).await?);
            }
            came_back.extend(
                records
                    .into_iter()
                    .filter(|r| fetched.contains(&format!("run_{}", r.id)))
                    .map(|r| r.id),
            );
        }
        Ok(came_back)
    }

    /// Fetches `names` (run dirs under `base`) in one tar stream into the local run dirs;
    /// returns the names that came back.
    async fn fetch_run_dirs(
        &self,
        system: &System,
        transport: &dyn Transport,
        base: &str,
        names: &[String],
    ) -> Result<Vec<String>, SessionError> {
        let cmd = CommandSpec::new("sh")
            .args(["-c", COLLECT_PROGRAM, "xpr-collect", base])
            .args(names.iter().map(OsString::from));
        let tar_path = self.scratch_file("collect", "tar")?;
        let mut file = tokio::fs::File::create(&tar_path)
            .await
            .map_err(SessionError::io("creating", &tar_path))?;
        let result = transport.run_streaming(&cmd, None, Some(&mut file)).await;
        drop(file);
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let _ = fs::remove_file(&tar_path);
                return Err(e.into());
            }
        };
        if !out.succeeded() {
            let _ = fs::remove_file(&tar_path);
            return Err(SessionError::Remote {
                system: system.name.clone(),
                host: transport.host().to_owned(),
                message: format!(
                    "fetching run dirs failed (exit {:?}): {} (command: {cmd})",
                    out.code,
                    out.stderr_text().trim()
                ),
            });
        }
        let scratch = tar_path.with_extension("d");
        let extract_into = scratch.clone();
        let tar_file = tar_path.clone();
        let extracted = tokio::task::spawn_blocking(move || {
            let input =
                fs::File::open(&tar_file).map_err(SessionError::io("reading", &tar_file))?;
            extract_tar(std::io::BufReader::new(input), &extract_into).map_err(|source| {
                SessionError::Stage {
                    task: "-".to_owned(),
                    source,
                }
            })
        })
        .await
        .expect("the extraction thread does not panic");
        let _ = fs::remove_file(&tar_path);
        if let Err(e) = extracted {
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
            if target.exists() {
                fs::rename(&target, &old).map_err(SessionError::io("moving aside", &target))?;
            }
            fs::rename(&fresh, &target).map_err(SessionError::io("moving into place", &fresh))?;
            came_back.push(name.clone());
        }
        let _ = fs::remove_dir_all(&scratch);
        Ok(came_back)
    }

    /// Records how one task ended (see the table in the module docs).
    fn finish(&self, system: &System, ended: Ended, came_back: bool) -> Result<(), SessionError> {
        let Ended { record, job } = ended;
        let dir = self.local_run_dir(&record.id);
        let exit = fs::read_to_string(dir.join(EXIT_FILE))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|_| came_back);
        // Asked once: only an end without an exit status can be a cancellation.
        let cancelled = exit.is_none() && self.cancel_requested(&record.id)?;
        let job_word = |j: &JobStatus| state_word(&j.state).to_owned();
        let node = job.as_ref().and_then(|j| j.node.clone());
        let job_id = record
            .scheduler_job_id
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default();
        let (status, update) = match (exit, &job) {
            (Some(0), _) => {
                let stored = self.stored(&record)?;
                let missing = missing_outputs(&dir, &stored.spec.outputs);
                if missing.is_empty() {
                    (
                        TaskStatus::Succeeded,
                        TaskUpdate {
                            exit_code: Some(0),
                            sched_state: Some(
                                job.as_ref().map_or("succeeded".to_owned(), job_word),
                            ),
                            ..TaskUpdate::default()
                        },
                    )
                } else {
                    (
                        TaskStatus::Failed,
                        TaskUpdate {
                            exit_code: Some(0),
                            sched_state: Some("missing_outputs".to_owned()),
                            reason: Some(format!(
                                "expected outputs missing: {}",
                                missing.join(", ")
                            )),
                            ..TaskUpdate::default()
                        },
                    )
                }
            }
            (Some(code), _) => {
                let stderr = fs::read(dir.join(STDERR_FILE)).unwrap_or_default();
                let tail = tail_text(&stderr, 500);
                (
                    TaskStatus::Failed,
                    TaskUpdate {
                        exit_code: Some(code),
                        sched_state: Some("failed".to_owned()),
                        reason: Some(if tail.is_empty() {
                            format!("exit code {code}")
                        } else {
                            format!("exit code {code}; stderr ends: {tail}")
                        }),
                        ..TaskUpdate::default()
                    },
                )
            }
            (None, Some(j)) => {
                let word = match j.state {
                    // xpr asked for this job's end, and it ended without its exit status:
                    // whatever accounting calls it (Grid Engine reports a cancelled running
                    // job as a SIGKILL failure), it was cancelled.
                    _ if cancelled => "cancelled".to_owned(),
                    // Accounting says it ended well, but the script never wrote its exit
                    // status: the command did not run to its end.
                    JobState::Succeeded => "no_exit_status".to_owned(),
                    _ => job_word(j),
                };
                let mut reason = format!(
                    "job {job_id} ended as {} ({}) without writing {EXIT_FILE}",
                    word, j.raw_state
                );
                if let Some(r) = &j.reason {
                    reason.push_str(&format!(": {r}"));
                }
                (
                    TaskStatus::Failed,
                    TaskUpdate {
                        exit_code: j.exit_code,
                        sched_state: Some(word),
                        reason: Some(reason),
                        ..TaskUpdate::default()
                    },
                )
            }
            (None, None) if cancelled => (
                TaskStatus::Failed,
                TaskUpdate {
                    sched_state: Some("cancelled".to_owned()),
                    reason: Some(format!(
                        "job {job_id} was cancelled at xpr's request before it wrote \
                         {EXIT_FILE}; {} has no accounting record of it",
                        system.name
                    )),
                    ..TaskUpdate::default()
                },
            ),
            (None, None) => (
                TaskStatus::Died,
                TaskUpdate {
                    sched_state: Some("vanished".to_owned()),
                    reason: Some(format!(
                        "job {job_id} on {} left the queue and accounting has no record of it \
                         after {:?}; it wrote no {EXIT_FILE}",
                        system.name,
                        self.options().vanish_timeout
                    )),
                    ..TaskUpdate::default()
                },
            ),
        };
        let update = TaskUpdate {
            node,
            local_dir: Some(dir.to_string_lossy().into_owned()),
            ..update
        };
        self.transition(&record.id, &FOLLOWED, status, &update)?;
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
        // (id, system, status) of each task to follow, from the light listing columns.
        let tasks: Vec<(TaskId, SystemName, TaskStatus)> = match ids {
            // Each id given must exist: an unknown one is an error, not nothing to wait for.
            Some(ids) => ids
                .iter()
                .map(|id| self.get(id).map(|r| (r.id, r.system, r.status)))
                .collect::<Result<_, _>>()?,
            None => self
                .db()
                .list_summaries(&crate::db::TaskFilter {
                    statuses: TaskStatus::ONGOING.to_vec(),
                    ..Default::default()
                })?
                .into_iter()
                .map(|s| (s.id, s.system, s.status))
                .collect(),
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut systems: Vec<SystemName> = Vec::new();
        for (_, system, status) in &tasks {
            if !FINISHED.contains(status) && !systems.contains(system) {
                systems.push(system.clone());
            }
        }
        let ids: Vec<TaskId> = tasks.into_iter().map(|(id, _, _)| id).collect();
        let mut set = tokio::task::JoinSet::new();
        for system in systems {
            let session = self.clone();
            let ids = ids.clone();
            set.spawn(async move { session.follow_system(system, ids, deadline).await });
        }
        let mut first_error = None;
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined.expect("a follow loop does not panic") {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            let pending: Vec<TaskId> = ids
                .iter()
                .filter(|id| {
                    self.get(id)
                        .map(|r| !FINISHED.contains(&r.status))
                        .unwrap_or(false)
                })
                .cloned()
                .collect();
            return Err(match e {
                SessionError::Timeout { waited, .. } => SessionError::Timeout { waited, pending },
                e => e,
            });
        }
        ids.iter().map(|id| self.get(id)).collect()
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
        let options = self.options().clone();
        let ids: HashSet<TaskId> = ids.into_iter().collect();
        let unfinished: Vec<TaskStatus> = TaskStatus::ALL
            .into_iter()
            .filter(|s| !FINISHED.contains(s))
            .collect();
        let started = Instant::now();
        let mut interval = options.min_poll_interval;
        let mut errors = 0;
        loop {
            let poll_started = Instant::now();
            match self.poll_system(system.as_str()).await {
                Ok(report) => {
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
                .summaries_system(&system, &unfinished)?
                .iter()
                .any(|t| ids.contains(&t.id));
            if done {
                return Ok(());
            }
            // The interval runs from the start of one poll to the start of the next, so a
            // poll's own round trips (several over a slow link) do not stretch it; a quarter
            // of it always stays free, so a slow scheduler is never asked back to back.
            let interval = interval.max(options.min_poll_interval);
            let mut sleep = interval
                .saturating_sub(poll_started.elapsed())
                .max(interval / 4);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(SessionError::Timeout {
                        waited: started.elapsed(),
                        pending: Vec::new(),
                    });
                }
                sleep = sleep.min(left);
            }
            tokio::time::sleep(sleep).await;
        }
    }
}

/// xpr's word for a scheduler state (what `sched_state` holds).
pub fn state_word(state: &JobState) -> &str {
    match state {
        JobState::Queued => "queued",
        JobState::Held => "held",
        JobState::Running => "running",
        JobState::Succeeded => "succeeded",
        JobState::Failed { .. } => "failed",
        JobState::Timeout => "timeout",
        JobState::OutOfMemory => "out_of_memory",
        JobState::Cancelled => "cancelled",
        JobState::NodeFail => "node_fail",
        JobState::Preempted => "preempted",
        JobState::Unknown { raw } => raw,
    }
}

/// The expected outputs (files or globs, relative to `dir`) that match nothing.
fn missing_outputs(dir: &Path, outputs: &[String]) -> Vec<String> {
    outputs
        .iter()
        .filter(|pattern| {
            let Ok(rel) = safe_relative_path(Path::new(pattern.as_str()), "expected output") else {
                return true;
            };
            if pattern.contains(['*', '?', '[']) {
                let full = PathBuf::from(glob::Pattern::escape(&dir.to_string_lossy())).join(&rel);
                !glob::glob(&full.to_string_lossy())
                    .map(|mut m| m.any(|p| p.is_ok()))
                    .unwrap_or(false)
            } else {
                dir.join(&rel).symlink_metadata().is_err()
            }
        })
        .cloned()
        .collect()
}
