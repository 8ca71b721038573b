//! Creating, staging and submitting tasks, and continuing what a killed process left.
//!
//! Everything here runs while the process holds the system's local lock file
//! (`<stage_root>/.xpr-locks/<system>.lock`), so tasks found `created`, `staged` or `submitting`
//! by a process that holds the lock were left by a process that died, and are continued:
//!
//! 1. `submitting`: looked up by name in the scheduler (`find_by_name` with the task ids),
//!    under the remote submit lock so no batch of the dead process is still in flight: found ->
//!    `submitted` with that job id; not found -> `staged`.
//! 2. `created`: the local run dir is (re)written (`xpr_job.sh`, `xpr_args.json`) and the run
//!    dirs of all such tasks of one remote base go up in ONE tar stream
//!    (`sh -c STAGE_PROGRAM xpr-stage BASE`), then -> `staged`.
//! 3. `staged`: all of them -> `submitting` first, then ONE remote batch
//!    ([`protocol::BATCH_PROGRAM`]) runs every submit command under the remote lock, and each
//!    reply makes its task `submitted` (job id), or `failed` when the scheduler refused it
//!    (its stderr kept as the reason). A reply that is missing or unreadable is never retried:
//!    that task goes through step 1 at once.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use super::driver::{SubmitJob, SubmitReply, SystemDriver};
use super::error::{SessionError, exit_words};
use super::group::{GROUP_SCRIPT, GroupKind, Unit};
use super::{Retries, SCRIPT_FILE, Session, StartRequest, Started, StoredTask, TaskRef};
use crate::config::System;
use crate::db::{
    DependencyKind, EndState, NewTask, TaskFilter, TaskRecord, TaskStatus, TaskUpdate,
};
use crate::ids::{SchedulerJobId, SystemName, TaskId};
use crate::resources::{Resources, find_nodes};
use crate::scheduler::JobStatus;
use crate::scheduler::script::{ScriptSpec, build_script};
use crate::stage::{StageDir, TarStream, plan_inputs, safe_relative_path};
use crate::task::{
    ARGS_FILE, EXIT_FILE, STARTED_FILE, STDERR_FILE, STDOUT_FILE, TaskSpec, body_lines,
    is_env_name, is_task_id, new_task_id, task_identity,
};

/// Names in a run dir that belong to xpr; inputs may not take them.
const RESERVED: &[&str] = &[
    SCRIPT_FILE,
    ARGS_FILE,
    STARTED_FILE,
    STDOUT_FILE,
    STDERR_FILE,
    EXIT_FILE,
];

impl Session {
    /// Starts one task: see [`Session::start_many`].
    pub async fn start(&self, request: StartRequest) -> Result<Started, SessionError> {
        let mut started = self.start_many(vec![request]).await?;
        Ok(started.remove(0))
    }

    /// Starts tasks: checks every request first (inputs exist, resources fit, the script
    /// renders) without changing anything; then per system, holding its lock: records each
    /// task (an identical task that can still produce results is reused and nothing is
    /// submitted for it), stages all new inputs in one tar stream per remote base, and submits
    /// them in one remote batch. Returns one [`Started`] per request, in order.
    pub async fn start_many(
        &self,
        requests: Vec<StartRequest>,
    ) -> Result<Vec<Started>, SessionError> {
        let phase = std::time::Instant::now();
        // Taken out one by one as they are recorded: a sweep's specs are held once.
        let mut prepared = Vec::with_capacity(requests.len());
        for request in &requests {
            prepared.push(Some(self.prepare(request)?));
        }
        tracing::debug!(tasks = requests.len(), took = ?phase.elapsed(), "requests prepared");
        let phase = std::time::Instant::now();
        let parents = self.resolve_parents(&requests).await?;
        let order = creation_order(&requests, &parents)?;
        let systems: std::collections::BTreeSet<SystemName> = prepared
            .iter()
            .flatten()
            .map(|t| t.system.clone())
            .collect();
        // Every system's lock, in name order (so two processes never wait on each other),
        // held while its tasks are recorded and advanced.
        let mut drivers = Vec::with_capacity(systems.len());
        let mut locks = Vec::with_capacity(systems.len());
        for system in &systems {
            drivers.push(self.driver(system).await?);
            locks.push(self.system_lock(system, true).await?);
        }
        let mut ids: Vec<Option<(TaskId, bool)>> = vec![None; prepared.len()];
        // Recorded in runs of one transaction each: a run ends before a request whose parent
        // in this batch is still in it (its id is known only once that one is recorded,
        // which may reuse an identical task). A sweep is one run.
        let mut run: Vec<(usize, NewTask, Parents)> = Vec::new();
        for i in order {
            if parents[i]
                .iter()
                .any(|(p, _)| matches!(p, Parent::Batch(j) if ids[*j].is_none()))
            {
                self.record_run(&mut run, &requests, &mut ids).await?;
            }
            let mut task = prepared[i].take().expect("each request is recorded once");
            let force = requests[i].force_rerun;
            let after: Vec<(TaskId, DependencyKind)> = parents[i]
                .iter()
                .map(|(parent, kind)| {
                    let id = match parent {
                        Parent::Task(id) => id.clone(),
                        Parent::Batch(j) => ids[*j].clone().expect("parents first").0,
                    };
                    (id, *kind)
                })
                .collect();
            if !requests[i].inputs_from.is_empty() {
                // Each parent of `inputs_from` is among `after` (as after_ok): its id is there.
                let mut stored: StoredTask =
                    serde_json::from_str(&task.spec).expect("a spec made here parses");
                stored.inputs_from = requests[i]
                    .inputs_from
                    .iter()
                    .map(|(parent, glob)| {
                        let k = requests[i]
                            .after
                            .iter()
                            .position(|d| &d.parent == parent)
                            .expect("inputs_from adds its parent to after");
                        (after[k].0.clone(), glob.clone())
                    })
                    .collect();
                task.spec = serde_json::to_string(&stored).expect("a task spec serialises");
            }
            if force != requests[run.first().map_or(i, |(j, _, _)| *j)].force_rerun {
                // One run reuses or not as a whole.
                self.record_run(&mut run, &requests, &mut ids).await?;
            }
            run.push((i, task, after));
        }
        self.record_run(&mut run, &requests, &mut ids).await?;
        tracing::debug!(tasks = requests.len(), took = ?phase.elapsed(), "tasks recorded");
        for driver in &drivers {
            self.advance_locked(driver).await?;
        }
        // Children whose parents have a job on the same scheduler go out now, held by the
        // scheduler on those jobs (a chain: one link per round); so do children of parents
        // that had ended already.
        let mut more = parents.iter().any(|p| !p.is_empty());
        while more {
            let mut released = 0;
            for driver in &drivers {
                let n = self.release_waiting(&driver.system().name).await?;
                if n > 0 {
                    self.advance_locked(driver).await?;
                }
                released += n;
            }
            more = released > 0;
        }
        drop(locks);
        let mut started = Vec::with_capacity(ids.len());
        for o in ids {
            let (id, reused) = o.expect("every request was recorded");
            started.push(Started {
                record: self.get_async(&id).await?,
                reused,
            });
        }
        Ok(started)
    }

    /// Records the tasks of `run` in one transaction (reusing identical tasks unless their
    /// requests force a rerun) and writes their ids into `ids`; empties `run`.
    async fn record_run(
        &self,
        run: &mut Vec<(usize, NewTask, Parents)>,
        requests: &[StartRequest],
        ids: &mut [Option<(TaskId, bool)>],
    ) -> Result<(), SessionError> {
        if run.is_empty() {
            return Ok(());
        }
        let reuse = !requests[run[0].0].force_rerun;
        let (indices, tasks): (Vec<usize>, Vec<(NewTask, Parents)>) = std::mem::take(run)
            .into_iter()
            .map(|(i, task, after)| (i, (task, after)))
            .unzip();
        let recorded = self
            .with_db(move |db| db.create_tasks(&tasks, reuse))
            .await?;
        for (i, (id, reused)) in indices.into_iter().zip(recorded) {
            if reused {
                tracing::info!(task = %id, "identical task reused; nothing submitted");
            }
            ids[i] = Some((id, reused));
        }
        Ok(())
    }

    /// Each request's parents: a task of the jobs DB (by id, or the newest of that name), or
    /// another request of this batch (by name).
    async fn resolve_parents(
        &self,
        requests: &[StartRequest],
    ) -> Result<Vec<Vec<(Parent, DependencyKind)>>, SessionError> {
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            let mut parents = Vec::with_capacity(request.after.len());
            for dep in &request.after {
                let unknown = |what: String| SessionError::InvalidTask {
                    name: request.spec.name.clone(),
                    why: format!(
                        "its parent {what} is neither in the jobs DB nor in this batch \
                         (hint: `xpr ls` lists the tasks)"
                    ),
                };
                let parent = match &dep.parent {
                    TaskRef::Id(id) => {
                        let wanted = id.clone();
                        match self.with_db(move |db| db.get(&wanted)).await? {
                            Some(_) => Parent::Task(id.clone()),
                            None => return Err(unknown(format!("task {id}"))),
                        }
                    }
                    TaskRef::Name(name) => {
                        let in_batch: Vec<usize> = requests
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| &r.spec.name == name)
                            .map(|(j, _)| j)
                            .collect();
                        match in_batch[..] {
                            [j] => Parent::Batch(j),
                            [] => {
                                let filter = TaskFilter::from_patterns(
                                    &[],
                                    &[regex::escape(name)],
                                    Vec::new(),
                                    &[],
                                )
                                .expect("an escaped name is a valid regexp");
                                let found = self.summaries(filter).await?;
                                let as_id = TaskId::new(name.as_str());
                                match found.last() {
                                    Some(task) => Parent::Task(task.id.clone()),
                                    None if is_task_id(name)
                                        && self
                                            .with_db(move |db| db.get(&as_id))
                                            .await?
                                            .is_some() =>
                                    {
                                        Parent::Task(TaskId::new(name.as_str()))
                                    }
                                    None => return Err(unknown(format!("{name:?}"))),
                                }
                            }
                            _ => {
                                return Err(SessionError::InvalidTask {
                                    name: request.spec.name.clone(),
                                    why: format!(
                                        "its parent {name:?} names {} tasks of this batch \
                                         (hint: give them distinct names)",
                                        in_batch.len()
                                    ),
                                });
                            }
                        }
                    }
                };
                parents.push((parent, dep.kind));
            }
            out.push(parents);
        }
        Ok(out)
    }

    /// Everything about a request that needs no lock and changes nothing: the new task row.
    pub(super) fn prepare(&self, request: &StartRequest) -> Result<NewTask, SessionError> {
        let spec = &request.spec;
        let invalid = |why: String| SessionError::InvalidTask {
            name: spec.name.clone(),
            why,
        };
        if let Some((key, _)) = spec.env.iter().find(|(k, _)| !is_env_name(k)) {
            return Err(invalid(format!(
                "environment variable name {key:?} is not a shell name"
            )));
        }
        for output in &spec.outputs {
            safe_relative_path(Path::new(output), "expected output")
                .map_err(|e| invalid(e.to_string()))?;
        }
        let base = match &request.base_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(SessionError::io(
                "reading the current directory",
                Path::new("."),
            ))?,
        };
        let base = if base.is_absolute() {
            base
        } else {
            std::env::current_dir()
                .map_err(SessionError::io(
                    "reading the current directory",
                    Path::new("."),
                ))?
                .join(base)
        };
        let entries = plan_inputs(&base, &spec.inputs).map_err(|source| SessionError::Stage {
            task: Some(spec.name.clone()),
            source,
        })?;
        for entry in &entries {
            if let Some(Component::Normal(first)) = entry.dest.components().next()
                && RESERVED.iter().any(|r| first == *r)
            {
                return Err(invalid(format!(
                    "input {:?} would be staged as {:?}, a name xpr uses itself (hint: rename it)",
                    entry.source, entry.dest
                )));
            }
        }
        let identity = task_identity(spec, &entries).map_err(|source| SessionError::Stage {
            task: Some(spec.name.clone()),
            source,
        })?;
        let system = self.system(&request.system)?;
        // A bad error pattern of the task's is refused now, not when its job has ended (the
        // built-in patterns need no check: compiling them for each of 10,000 tasks costs).
        let rules = system.error_rules.then(&spec.error_rules);
        if !rules.error_patterns.is_empty() || rules.whitelist_threshold.is_some() {
            crate::analysis::ErrorScanner::new(&rules).map_err(|e| invalid(e.to_string()))?;
        }
        let id = new_task_id(&spec.name, &identity);
        let remote_base = self.remote_base(system);
        let job_dir = format!("{}/run_{id}", remote_base.trim_end_matches('/'));
        let script = self.render_script(
            system,
            &request.resources,
            spec,
            &id,
            &job_dir,
            &request.extra_header,
        )?;
        let stored = StoredTask {
            spec: spec.clone(),
            inputs: entries.into_iter().map(|e| (e.source, e.dest)).collect(),
            script,
            remote_base,
            resources: Some(request.resources.clone()),
            extra_header: request.extra_header.clone(),
            retries: match &request.retries {
                Some(retries) => retries.clone(),
                None => {
                    Retries::from_defaults(&system.retries, &format!("systems.{}", system.name))
                        .map_err(invalid)?
                }
            },
            // Set once the parents' ids are known (see `start_many`).
            inputs_from: Vec::new(),
            submission: request.submission,
            pack_restarts: 0,
        };
        Ok(NewTask {
            id: id.clone(),
            name: spec.name.clone(),
            system: system.name.clone(),
            identity,
            spec: serde_json::to_string(&stored).expect("a task spec serialises"),
            remote_dir: Some(job_dir),
            local_dir: Some(self.local_run_dir(&id).to_string_lossy().into_owned()),
            sweep: request.sweep.clone(),
        })
    }

    /// The job script of task `id` in `job_dir`: the node finder's allocation for `resources`
    /// on `system`, its header templates and the task's body.
    pub(crate) fn render_script(
        &self,
        system: &System,
        resources: &Resources,
        spec: &TaskSpec,
        id: &TaskId,
        job_dir: &str,
        extra_header: &[String],
    ) -> Result<String, SessionError> {
        self.render_script_with(
            system,
            resources,
            spec,
            id,
            job_dir,
            extra_header,
            Vec::new(),
        )
    }

    /// [`Session::render_script`] with `prologue` lines run in the run dir before the task's
    /// body (copying a native parent's outputs).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render_script_with(
        &self,
        system: &System,
        resources: &Resources,
        spec: &TaskSpec,
        id: &TaskId,
        job_dir: &str,
        extra_header: &[String],
        mut prologue: Vec<String>,
    ) -> Result<String, SessionError> {
        prologue.extend(body_lines(spec));
        self.render_job_script(
            system,
            resources,
            id.as_str(),
            job_dir,
            extra_header,
            prologue,
            false,
            &spec.script_directives,
        )
    }

    /// A job script named `name` (the header's `{id}`) running `body` in `job_dir`: the node
    /// finder's allocation for `resources` on `system` and its header templates (those of an
    /// array when `array`), then an adopted batch script's `script_directives`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render_job_script(
        &self,
        system: &System,
        resources: &Resources,
        name: &str,
        job_dir: &str,
        extra_header: &[String],
        body: Vec<String>,
        array: bool,
        script_directives: &[String],
    ) -> Result<String, SessionError> {
        let alloc = find_nodes(system, resources)?;
        let mut script_spec = ScriptSpec::new(name, job_dir)
            .with_extra_header(extra_header.iter().cloned())
            .with_script_directives(script_directives.to_vec())
            .with_body(body);
        script_spec.array = array;
        if let Some(extra) = &self.options().header_extra_env {
            script_spec = script_spec.with_header_extra_env(extra.clone());
        }
        let scheduler = crate::scheduler::scheduler_for(system.scheduler);
        Ok(build_script(
            system,
            &alloc,
            scheduler.as_ref(),
            &script_spec,
        )?)
    }

    /// Takes the local lock of `system`: waiting for it, or (`wait` false) only if free.
    pub(crate) async fn system_lock(
        &self,
        system: &SystemName,
        wait: bool,
    ) -> Result<Option<File>, SessionError> {
        let dir = self.stage_root().join(".xpr-locks");
        fs::create_dir_all(&dir).map_err(SessionError::io("creating", &dir))?;
        // Hex keeps any system name a safe, distinct file name.
        let hex: String = system
            .as_str()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = dir.join(format!("{hex}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(SessionError::io("opening lock file", &path))?;
        if wait {
            let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                .await
                .expect("the lock thread does not panic");
            return locked.map(Some).map_err(SessionError::io("locking", &path));
        }
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(SessionError::io("locking", &path)(e)),
        }
    }

    /// Carries every `created`, `staged` and `submitting` task of the driver's system to
    /// `submitted` (or `failed`); one whose cancellation was asked for ends `cancelled`
    /// instead of being submitted. With the system's `max_queued`, and under a cap the site
    /// sets on the user's jobs (Slurm's `MaxSubmitJobs`), only as many are submitted as the
    /// queue has slots for; the others stay `staged`. The caller holds the system's lock.
    pub(crate) async fn advance_locked(&self, driver: &SystemDriver) -> Result<(), SessionError> {
        let pending = self
            .records(TaskFilter::system_in(
                &driver.system().name,
                &[
                    TaskStatus::Created,
                    TaskStatus::Staged,
                    TaskStatus::Submitting,
                ],
            ))
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        let mut by_base: BTreeMap<String, Vec<TaskId>> = BTreeMap::new();
        for record in &pending {
            if record.cancel_requested() && record.status != TaskStatus::Submitting {
                self.cancel_unsubmitted(&record.id).await?;
                continue;
            }
            let stored = self.stored(record)?;
            by_base
                .entry(stored.remote_base)
                .or_default()
                .push(record.id.clone());
        }
        // Each step below reads the records it needs: these need not be held meanwhile.
        drop(pending);
        // A system's `max_queued`: how many more jobs its queue may take now.
        let mut slots = match driver.system().max_queued {
            None => None,
            Some(max) => {
                let in_flight = self
                    .summaries(TaskFilter::system_in(
                        &driver.system().name,
                        &[
                            TaskStatus::Submitting,
                            TaskStatus::Submitted,
                            TaskStatus::Started,
                        ],
                    ))
                    .await?
                    .len();
                Some((max as usize).saturating_sub(in_flight))
            }
        };
        // Every base's run dirs are staged while the site's cap on the user's jobs is read
        // (once per driver: on Slurm a `sacctmgr` call as slow as the staging of a thousand).
        let staging = async {
            for (base, ids) in &by_base {
                let submitting = self
                    .records_in(&driver.system().name, ids, TaskStatus::Submitting)
                    .await?;
                if !submitting.is_empty() {
                    self.recover(driver, base, &submitting).await?;
                }
                let created = self
                    .records_in(&driver.system().name, ids, TaskStatus::Created)
                    .await?;
                if !created.is_empty() {
                    self.stage(driver, base, &created).await?;
                }
            }
            Ok::<(), SessionError>(())
        };
        let (staged, site_limit) = tokio::join!(staging, driver.site_job_limit());
        staged?;
        // The site's own cap on the user's jobs (all of them, xpr's or not), where the
        // scheduler tells it: no config needed.
        if let Some(limit) = site_limit
            && let Some(queued) = driver.user_queue_len().await?
        {
            let free = (limit as usize).saturating_sub(queued);
            slots = Some(slots.map_or(free, |s| s.min(free)));
        }
        for (base, ids) in by_base {
            let staged = self
                .records_in(&driver.system().name, &ids, TaskStatus::Staged)
                .await?;
            let (cancelled, staged): (Vec<TaskRecord>, Vec<TaskRecord>) =
                staged.into_iter().partition(|r| r.cancel_requested());
            for record in cancelled {
                self.cancel_unsubmitted(&record.id).await?;
            }
            if !staged.is_empty() {
                // The oldest first; the rest stay staged until jobs leave the queue.
                let taken = self.submit_batch(driver, &base, staged, slots).await?;
                if let Some(free) = slots.as_mut() {
                    *free = free.saturating_sub(taken);
                }
            }
        }
        Ok(())
    }

    /// Those of `ids` (tasks of `system`) that are in `status` now, oldest first: one query.
    async fn records_in(
        &self,
        system: &SystemName,
        ids: &[TaskId],
        status: TaskStatus,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        let wanted: std::collections::HashSet<&TaskId> = ids.iter().collect();
        Ok(self
            .records(TaskFilter::system_in(system, &[status]))
            .await?
            .into_iter()
            .filter(|r| wanted.contains(&r.id))
            .collect())
    }

    /// Stages the run dirs of `created` tasks under `base` in one tar stream, packed as it
    /// is sent: the job script and arguments from memory (nothing is written on this
    /// machine; the run dir here is made when outputs come back), the inputs from where
    /// they are.
    async fn stage(
        &self,
        driver: &SystemDriver,
        base: &str,
        records: &[TaskRecord],
    ) -> Result<(), SessionError> {
        let phase = std::time::Instant::now();
        let mut dirs = Vec::with_capacity(records.len());
        for record in records {
            let stored = self.stored(record)?;
            let written = self
                .own_files(driver, record, &stored)
                .await?
                .into_iter()
                .map(|(name, bytes)| (PathBuf::from(name), bytes))
                .collect();
            dirs.push(StageDir {
                name: PathBuf::from(format!("run_{}", record.id)),
                written,
                inputs: stored.entries(),
            });
        }
        // A task staged again (a retry, a reset) starts from an empty remote run dir: the
        // last attempt's `xpr.exit` must never be read as this one's.
        let ids: Vec<TaskId> = records.iter().map(|r| r.id.clone()).collect();
        let again = self.with_db(move |db| db.with_attempts(&ids)).await?;
        if !again.is_empty() {
            let again: Vec<TaskRecord> = records
                .iter()
                .filter(|r| again.contains(&r.id))
                .cloned()
                .collect();
            driver
                .remove_run_dirs(base, &super::run_dir_names(&again)?)
                .await?;
        }
        let mut stream =
            TarStream::spawn(dirs).map_err(|source| SessionError::Stage { task: None, source })?;
        let sent = driver.stage(base, stream.reader()).await;
        // A packing error (an input gone or unreadable) fails the staging even when the
        // remote `tar -x` took the stream cut short as complete.
        let packed = stream.finish().await;
        sent?;
        packed.map_err(|source| SessionError::Stage { task: None, source })?;
        tracing::debug!(tasks = records.len(), took = ?phase.elapsed(), "run dirs staged");
        let detail = format!("staged on {} in {base}", driver.system().name);
        let moves = records
            .iter()
            .map(|r| {
                let update = TaskUpdate {
                    detail: Some(detail.clone()),
                    ..TaskUpdate::default()
                };
                (r.id.clone(), update)
            })
            .collect();
        self.transition_many(moves, &[TaskStatus::Created], TaskStatus::Staged)
            .await?;
        Ok(())
    }

    /// The files xpr writes into a run dir of `record` (`stored` is its spec), with their
    /// bytes: the job script as this attempt runs it (held by the scheduler on its parents'
    /// jobs, it says so) and the JSON arguments, when it has some.
    pub(crate) async fn own_files(
        &self,
        driver: &SystemDriver,
        record: &TaskRecord,
        stored: &StoredTask,
    ) -> Result<Vec<(&'static str, Vec<u8>)>, SessionError> {
        let script = match self.native_script(driver, record, stored).await? {
            Some(native) => native,
            None => stored.script.clone(),
        };
        let mut files = vec![(SCRIPT_FILE, script.into_bytes())];
        if let Some(args) = &stored.spec.args {
            let text = serde_json::to_string_pretty(args).expect("JSON values serialise");
            files.push((ARGS_FILE, text.into_bytes()));
        }
        Ok(files)
    }

    /// A fresh file name in `<stage_root>/.xpr-scratch/`.
    pub(crate) fn scratch_file(&self, what: &str, ext: &str) -> Result<PathBuf, SessionError> {
        let dir = self.stage_root().join(".xpr-scratch");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(SessionError::io("creating", &dir))?;
        let name = new_task_id(what, &std::process::id().to_string());
        Ok(dir.join(format!("{name}.{ext}")))
    }

    /// Submits `staged` tasks under `base` in one remote batch: each as a job of its own, or
    /// as members of array chunks and packs (see the `group` module), taking at most `slots`
    /// queue slots when set. Returns how many slots it took.
    async fn submit_batch(
        &self,
        driver: &SystemDriver,
        base: &str,
        staged: Vec<TaskRecord>,
        slots: Option<usize>,
    ) -> Result<usize, SessionError> {
        let arrays = driver.scheduler().arrays();
        let mut array_limit = 1;
        if arrays.is_some() {
            for record in &staged {
                if self.stored(record)?.submission == super::Submission::Array {
                    array_limit = driver.array_limit().await;
                    break;
                }
            }
        }
        let phase = std::time::Instant::now();
        let units = self.form_units(driver.system(), arrays, array_limit, base, staged, slots)?;
        tracing::debug!(units = units.len(), took = ?phase.elapsed(), "jobs formed");
        let total = units.len();
        // Each unit's members that went `submitting`, with their index in it.
        let mut moves = Vec::new();
        for unit in &units {
            let detail = match &unit.group {
                None => format!("batch of {total}"),
                Some(g) => format!(
                    "{} of {} tasks {}, batch of {total}",
                    match g.kind {
                        GroupKind::Array(_) => "array",
                        GroupKind::Pack => "pack",
                    },
                    unit.members.len(),
                    g.id
                ),
            };
            for (i, record) in unit.members.iter().enumerate() {
                let update = TaskUpdate {
                    detail: Some(detail.clone()),
                    group: unit.member(i),
                    ..TaskUpdate::default()
                };
                moves.push((record.id.clone(), update));
            }
        }
        let mut moved_all = self
            .transition_many(moves, &[TaskStatus::Staged], TaskStatus::Submitting)
            .await?
            .into_iter();
        // Each unit's members that went `submitting`: their index in it and their id (ids, not
        // records: a batch of 10,000 would hold every spec twice).
        let mut batch: Vec<(Unit, Vec<(u32, TaskId)>)> = Vec::new();
        let mut taken = 0;
        for unit in units {
            let moved: Vec<(u32, TaskId)> = unit
                .members
                .iter()
                .enumerate()
                .zip(moved_all.by_ref())
                .filter(|(_, moved)| *moved)
                .map(|((i, r), _)| (i as u32, r.id.clone()))
                .collect();
            if !moved.is_empty() {
                taken += unit.cost();
                batch.push((unit, moved));
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let jobs: Vec<SubmitJob<'_>> = batch
            .iter()
            .map(|(unit, _)| match &unit.group {
                None => SubmitJob {
                    job_dir: unit.members[0].remote_dir.as_deref().unwrap_or_default(),
                    script: SCRIPT_FILE,
                    text: None,
                    array: None,
                },
                Some(g) => SubmitJob {
                    job_dir: &g.dir,
                    script: GROUP_SCRIPT,
                    text: Some(&g.script),
                    array: match g.kind {
                        GroupKind::Array(_) => Some((g.id.as_str(), unit.members.len() as u32)),
                        GroupKind::Pack => None,
                    },
                },
            })
            .collect();
        let all: Vec<TaskId> = batch
            .iter()
            .flat_map(|(_, moved)| moved.iter().map(|(_, id)| id.clone()))
            .collect();
        let replies = match driver.submit(base, &jobs).await {
            Ok(replies) => replies,
            Err(e @ SessionError::Remote { .. }) => {
                // The program stops before running anything unless it holds the lock.
                for id in &all {
                    self.transition(
                        id,
                        &[TaskStatus::Submitting],
                        TaskStatus::Staged,
                        TaskUpdate {
                            detail: Some("batch did not run: no remote lock".to_owned()),
                            ..TaskUpdate::default()
                        },
                    )
                    .await?;
                }
                return Err(e);
            }
            Err(e) => {
                // The batch may have run in part: find out by name (a group's members by the
                // group's, recorded as they went `submitting`), never submit blindly.
                let all = self.current(&all).await?;
                if let Err(again) = self.recover(driver, base, &all).await {
                    tracing::warn!(error = %again, "lookup after a failed batch failed too; the next poll retries it");
                }
                return Err(e);
            }
        };
        let mut unsure = Vec::new();
        let mut submitted = Vec::new();
        for ((unit, moved), reply) in batch.iter().zip(replies) {
            match reply {
                SubmitReply::Submitted(job) => {
                    for (index, record) in moved {
                        let job = match unit.group.as_ref().map(|g| g.kind) {
                            Some(GroupKind::Array(syntax)) => driver
                                .scheduler()
                                .element_id(&job, syntax.first_index + index)
                                .expect("a scheduler with arrays names their elements"),
                            _ => job.clone(),
                        };
                        let update = TaskUpdate {
                            scheduler_job_id: Some(job),
                            ..TaskUpdate::default()
                        };
                        submitted.push((record.clone(), update));
                    }
                }
                SubmitReply::Refused { code, message } => {
                    for (_, record) in moved {
                        self.transition(
                            record,
                            &[TaskStatus::Submitting],
                            TaskStatus::Failed,
                            TaskUpdate {
                                end_state: Some(EndState::SubmitFailed),
                                reason: Some(format!(
                                    "the scheduler refused the job ({}): {message}",
                                    exit_words(code)
                                )),
                                ..TaskUpdate::default()
                            },
                        )
                        .await?;
                    }
                }
                SubmitReply::Unsure => unsure.extend(moved.iter().map(|(_, r)| r.clone())),
            }
        }
        self.transition_many(submitted, &[TaskStatus::Submitting], TaskStatus::Submitted)
            .await?;
        if !unsure.is_empty() {
            let unsure = self.current(&unsure).await?;
            self.recover(driver, base, &unsure).await?;
        }
        Ok(taken)
    }

    /// The tasks `ids` as the DB holds them now.
    async fn current(&self, ids: &[TaskId]) -> Result<Vec<TaskRecord>, SessionError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_async(id).await?);
        }
        Ok(out)
    }

    /// The scheduler job of `record` given the job found under its job name: an array
    /// member's element of that array, else the job itself.
    fn member_job(
        &self,
        driver: &SystemDriver,
        record: &TaskRecord,
        job: SchedulerJobId,
    ) -> Result<SchedulerJobId, SessionError> {
        let (Some(member), Some(syntax)) = (&record.group, driver.scheduler().arrays()) else {
            return Ok(job);
        };
        if self.stored(record)?.submission != super::Submission::Array {
            return Ok(job);
        }
        let array = driver.scheduler().array_of(&job);
        Ok(driver
            .scheduler()
            .element_id(&array, syntax.first_index + member.index)
            .expect("a scheduler with arrays names their elements"))
    }

    /// Looks `submitting` tasks up by name under the remote lock: found -> `submitted`,
    /// not found -> `staged` (to be submitted again).
    async fn recover(
        &self,
        driver: &SystemDriver,
        base: &str,
        records: &[TaskRecord],
    ) -> Result<(), SessionError> {
        // A member of an array chunk or a pack is found under its group's name.
        let job_name = |r: &TaskRecord| match &r.group {
            Some(member) => member.group.to_string(),
            None => r.id.to_string(),
        };
        let mut names: Vec<String> = records.iter().map(job_name).collect();
        names.sort();
        names.dedup();
        let found: HashMap<String, Vec<JobStatus>> = driver.find_by_name(base, &names).await?;
        for record in records {
            // An array's elements all carry its name: several jobs are expected there.
            let one_expected = record.group.is_none();
            let job = match found
                .get(&job_name(record))
                .and_then(|jobs| pick_job(jobs, one_expected))
            {
                Some(job) => Some(self.member_job(driver, record, job)?),
                None => None,
            };
            let (to, update) = match job {
                Some(job) => (
                    TaskStatus::Submitted,
                    TaskUpdate {
                        scheduler_job_id: Some(job),
                        detail: Some(
                            "found by name in the scheduler after an interrupted submission"
                                .to_owned(),
                        ),
                        ..TaskUpdate::default()
                    },
                ),
                None => (
                    TaskStatus::Staged,
                    TaskUpdate {
                        detail: Some(
                            "not known to the scheduler by name: to be submitted again".to_owned(),
                        ),
                        ..TaskUpdate::default()
                    },
                ),
            };
            self.transition(&record.id, &[TaskStatus::Submitting], to, update)
                .await?;
        }
        Ok(())
    }
}

/// A new task's parents in the jobs DB, with what it waits for in each.
type Parents = Vec<(TaskId, DependencyKind)>;

/// A parent of a request being started.
#[derive(Clone, Debug)]
enum Parent {
    /// A task already in the jobs DB.
    Task(TaskId),
    /// Request `i` of the same batch.
    Batch(usize),
}

/// The order in which to record the requests: parents of the batch before their children.
/// Fails naming the tasks when their dependencies form a cycle.
fn creation_order(
    requests: &[StartRequest],
    parents: &[Vec<(Parent, DependencyKind)>],
) -> Result<Vec<usize>, SessionError> {
    let mut waiting: Vec<usize> = parents
        .iter()
        .map(|p| {
            p.iter()
                .filter(|(p, _)| matches!(p, Parent::Batch(_)))
                .count()
        })
        .collect();
    let mut ready: Vec<usize> = (0..requests.len()).filter(|&i| waiting[i] == 0).collect();
    ready.reverse();
    let mut order = Vec::with_capacity(requests.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for (child, deps) in parents.iter().enumerate() {
            for (parent, _) in deps {
                if matches!(parent, Parent::Batch(j) if *j == i) {
                    waiting[child] -= 1;
                    if waiting[child] == 0 {
                        ready.push(child);
                    }
                }
            }
        }
    }
    if order.len() < requests.len() {
        let cycle: Vec<&str> = (0..requests.len())
            .filter(|i| !order.contains(i))
            .map(|i| requests[i].spec.name.as_str())
            .collect();
        return Err(SessionError::InvalidTask {
            name: cycle[0].to_owned(),
            why: format!(
                "the dependencies of {} form a cycle (hint: a task cannot wait for itself, \
                 directly or through others)",
                cycle.join(", ")
            ),
        });
    }
    Ok(order)
}

/// The job to adopt among those carrying a task's name: the first submitted (lowest number),
/// so the job the DB follows is stable whatever order the reply lists them in. Several jobs
/// where `one_expected` is logged.
fn pick_job(jobs: &[JobStatus], one_expected: bool) -> Option<SchedulerJobId> {
    if one_expected && jobs.len() > 1 {
        tracing::warn!(
            jobs = ?jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            "several jobs carry one task's name; following the first"
        );
    }
    jobs.iter()
        .min_by_key(|j| {
            let digits: String =
                j.id.as_str()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
            (
                digits.parse::<u64>().unwrap_or(u64::MAX),
                j.id.as_str().to_owned(),
            )
        })
        .map(|j| j.id.clone())
}
