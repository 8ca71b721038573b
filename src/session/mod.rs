//! A session: the library's entry point for a task's whole life (stage, submit, follow,
//! collect, clean), over every system of a config at once.
//!
//! A [`Session`] is opened from a [`LoadedConfig`]. It owns the jobs DB at
//! `<stage_root>/jobs.db`, one transport per system (made when first needed and shared by every
//! operation), and the local run dirs `<stage_root>/run_<task id>/`. It is cheap to clone
//! (clones share everything) and every method takes `&self`, so one process can follow tasks
//! on several systems at once. [`BlockingSession`] offers the same operations outside async
//! code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), xpr::session::SessionError> {
//! use std::time::Duration;
//! use xpr::config::LoadedConfig;
//! use xpr::resources::{CountRequest, Resources};
//! use xpr::session::{Session, StartRequest};
//! use xpr::task::TaskSpec;
//!
//! let session = Session::open(LoadedConfig::from_env()?)?;
//! let mut spec = TaskSpec::argv("sum", ["sh", "-c", "wc -l < data.txt > count.txt"]);
//! spec.inputs = vec!["data.txt".into()];
//! spec.outputs = vec!["count.txt".into()];
//! let resources = Resources::new(CountRequest::Cores(1)).with_partial_node(true);
//! let started = session.start(StartRequest::new(spec, "local", resources)).await?;
//! let done = session.wait(&[started.record.id.clone()], Duration::from_secs(600)).await?;
//! let results = session.results(&done[0].id)?;
//! println!("{:?} in {}", results.status, results.local_dir.display());
//! session.mark_processed(&done[0].id)?;
//! # Ok(()) }
//! ```
//!
//! # On disk
//!
//! ```text
//! <stage_root>/jobs.db                      the jobs DB (WAL)
//! <stage_root>/run_<id>/                    before submission: xpr_job.sh, xpr_args.json;
//!                                           once finished: the whole remote run dir
//! <stage_root>/.xpr-locks/<system>.lock     held while a process stages/submits on a system
//! <stage_root>/.xpr-scratch/                tar streams and extraction in progress
//! <remote base>/run_<id>/                   inputs, job script, xpr.* files, outputs
//! <remote base>/.xpr-submit.lock            remote flock held by each batch submission
//! ```
//!
//! The remote base is `<rundir>/<H>-<P>` ([`LoadedConfig::remote_rundir`]); a system without a
//! `rundir` (the built-in `local`) uses `<stage_root>/remote`.
//!
//! # A task's life
//!
//! `created -> staged -> submitting -> submitted -> started -> succeeded | failed | died`,
//! then `processed` and `cleaned` on request. Every transition is written before the action it
//! announces. Creation, staging and submission on one system happen while this process holds
//! the system's local lock file, so another process that finds a task `created`, `staged` or
//! `submitting` *and* gets the lock knows its owner died, and continues it (`submitting` tasks
//! are first looked up by name in the scheduler, under the remote lock, see [`protocol`]). See
//! the `submit` and [`crate::monitor`] modules for the steps.

mod blocking;
pub mod deliver;
pub mod profile;
pub mod protocol;
mod submit;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use blocking::BlockingSession;

use crate::command::CommandSpec;
use crate::config::{ConfigError, LoadedConfig, System};
use crate::db::{Db, DbError, TaskFilter, TaskRecord, TaskStatus, TaskSummary, TaskUpdate};
use crate::ids::{SchedulerJobId, SystemName, TaskId};
use crate::resources::{NodeFinderError, Resources};
use crate::scheduler::script::ScriptError;
use crate::scheduler::{ParseError, Scheduler, scheduler_for};
use crate::stage::{StageEntry, StageError};
use crate::task::{STDERR_FILE, STDOUT_FILE, TaskSpec, is_task_id};
use crate::transport::{Retry, Transport, TransportError, check_success, transport_for_system};

/// The job script's file name in each run dir.
pub const SCRIPT_FILE: &str = "xpr_job.sh";
/// The jobs DB's file name in the stage root.
pub const DB_FILE: &str = "jobs.db";
/// The remote lock file's name in each remote base.
pub const SUBMIT_LOCK_FILE: &str = ".xpr-submit.lock";
/// The history note [`Session::cancel`] writes before asking the scheduler to cancel a job.
pub(crate) const CANCEL_REQUESTED: &str = "cancel requested";
/// Marker file in a local run dir: since when (epoch milliseconds) the job is in neither the queue
/// nor accounting.
pub(crate) const UNACCOUNTED_FILE: &str = ".xpr-unaccounted-since";

/// Something a session could not do. Each variant names the system, host, task or path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The config is wrong or names an unknown system.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The jobs DB failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Running a command or moving bytes failed (names host and command).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Packing inputs or unpacking outputs failed.
    #[error("task {task}: {source}")]
    Stage {
        /// The task (or `-` for a whole stream).
        task: String,
        /// What failed.
        #[source]
        source: StageError,
    },
    /// The job script cannot be written.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The resources fit no partition.
    #[error(transparent)]
    Resources(#[from] NodeFinderError),
    /// A scheduler reply that does not parse.
    #[error("system {system}: {source}")]
    Scheduler {
        /// The system.
        system: SystemName,
        /// The parser's error.
        #[source]
        source: ParseError,
    },
    /// A remote helper (tar, batch submission) failed or replied nonsense.
    #[error("system {system} (host {host}): {message}")]
    Remote {
        /// The system.
        system: SystemName,
        /// The host.
        host: String,
        /// What happened, with the command's stderr.
        message: String,
    },
    /// A task spec that cannot run.
    #[error("invalid task {name:?}: {why}")]
    InvalidTask {
        /// The task's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A task in a state where the operation makes no sense.
    #[error("task {id} is {status}: cannot {action}{}", hint_suffix(.hint))]
    WrongState {
        /// The task.
        id: TaskId,
        /// Its status.
        status: TaskStatus,
        /// What was asked.
        action: &'static str,
        /// What the user can do.
        hint: Option<&'static str>,
    },
    /// Local file system trouble.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting ran out of time.
    #[error(
        "timed out after {waited:?} with {} task(s) unfinished: {} (hint: they keep running; wait again or `xpr ls`)",
        .pending.len(),
        .pending.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    )]
    Timeout {
        /// How long was waited.
        waited: Duration,
        /// The tasks not finished.
        pending: Vec<TaskId>,
    },
}

fn hint_suffix(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" (hint: {h})")).unwrap_or_default()
}

impl SessionError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| SessionError::Io {
            action,
            path,
            source,
        }
    }
}

/// Tunables of a session; [`SessionOptions::default`] suits interactive use.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Shortest time from the start of one poll of a system to the start of the next, used
    /// while things change (the polite floor: at most one status query per system per this
    /// interval). At least a quarter of it passes between the end of a poll and the next.
    /// Default 1 s.
    pub min_poll_interval: Duration,
    /// Longest time between the starts of two polls of a system (the back-off limit, reached
    /// while jobs wait or run long without news). Default 30 s.
    pub max_poll_interval: Duration,
    /// How long a job may be in neither the queue nor accounting before it is declared
    /// `died`. Default 5 minutes (Grid Engine writes accounting up to ~15 s late, slurmdbd
    /// can lag more under load).
    pub vanish_timeout: Duration,
    /// This machine's name, for the remote run dir (`<rundir>/<H>-<P>`); default `$HOSTNAME`
    /// or the kernel's host name.
    pub hostname: Option<String>,
    /// `EXPYRE_HEADER_EXTRA` (a JSON list of header lines); default read from the environment.
    pub header_extra_env: Option<String>,
    /// How many bytes of stdout/stderr [`TaskResults`] keeps. Default 4 KiB.
    pub tail_bytes: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        let hostname = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            });
        Self {
            min_poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(30),
            vanish_timeout: Duration::from_secs(300),
            hostname,
            header_extra_env: std::env::var(crate::scheduler::script::EXPYRE_HEADER_EXTRA).ok(),
            tail_bytes: 4096,
        }
    }
}

/// One task to start: what, where, with which resources.
#[derive(Clone, Debug)]
pub struct StartRequest {
    /// The task.
    pub spec: TaskSpec,
    /// The system's name in the config.
    pub system: String,
    /// The resources asked for (the node finder picks partition and node counts).
    pub resources: Resources,
    /// The directory relative inputs are taken from; default the current directory.
    pub base_dir: Option<PathBuf>,
    /// Extra header template lines (e.g. from a profile), after the system's and partition's.
    pub extra_header: Vec<String>,
}

impl StartRequest {
    /// A request to run `spec` on `system` with `resources`.
    pub fn new(spec: TaskSpec, system: impl Into<String>, resources: Resources) -> Self {
        Self {
            spec,
            system: system.into(),
            resources,
            base_dir: None,
            extra_header: Vec::new(),
        }
    }

    /// Takes relative inputs from `dir` instead of the current directory.
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Adds extra header template lines.
    pub fn with_extra_header<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_header = lines.into_iter().map(Into::into).collect();
        self
    }
}

/// What [`Session::start`] did with one request.
#[derive(Clone, Debug)]
pub struct Started {
    /// The task as the DB holds it after the call (submitted, or already further along).
    pub record: TaskRecord,
    /// True when an identical task that can still produce results was reused: nothing was
    /// submitted for this request.
    pub reused: bool,
}

/// What a task left behind, for [`Session::results`].
#[derive(Clone, Debug)]
pub struct TaskResults {
    /// The task's id.
    pub id: TaskId,
    /// Its status.
    pub status: TaskStatus,
    /// The scheduler's finer state (`timeout`, `cancelled`, `missing_outputs` ...).
    pub sched_state: Option<String>,
    /// The command's exit code, when known.
    pub exit_code: Option<i32>,
    /// Why it ended as it did, when known.
    pub reason: Option<String>,
    /// The local run dir: after the task finished, a copy of the remote run dir (outputs,
    /// `xpr.stdout`, `xpr.stderr`, `xpr.exit`).
    pub local_dir: PathBuf,
    /// The last [`SessionOptions::tail_bytes`] of the command's stdout.
    pub stdout_tail: String,
    /// The last [`SessionOptions::tail_bytes`] of the command's stderr.
    pub stderr_tail: String,
}

/// What the DB stores of a task (as JSON, in its `spec` column) so that any process can
/// continue it: the spec, where its inputs are, and its job script.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredTask {
    /// The task as given.
    pub spec: TaskSpec,
    /// Inputs resolved at start: (local source, name in the run dir).
    pub inputs: Vec<(PathBuf, PathBuf)>,
    /// The job script's text.
    pub script: String,
    /// The remote base dir the run dir is in.
    pub remote_base: String,
}

impl StoredTask {
    pub(crate) fn entries(&self) -> Vec<StageEntry> {
        self.inputs
            .iter()
            .map(|(source, dest)| StageEntry {
                source: source.clone(),
                dest: dest.clone(),
            })
            .collect()
    }
}

pub(crate) struct Inner {
    pub config: LoadedConfig,
    pub options: SessionOptions,
    pub db: Mutex<Db>,
    pub transports: tokio::sync::Mutex<HashMap<SystemName, Arc<dyn Transport>>>,
}

/// An open session (see the module docs). Clones share the DB, transports and options.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stage_root", &self.stage_root())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a session with default options: creates the stage root if needed and opens (or
    /// creates) its jobs DB.
    pub fn open(config: LoadedConfig) -> Result<Session, SessionError> {
        Self::open_with(config, SessionOptions::default())
    }

    /// Opens a session with `options`.
    pub fn open_with(
        config: LoadedConfig,
        options: SessionOptions,
    ) -> Result<Session, SessionError> {
        let root = config.stage_root.clone();
        fs::create_dir_all(&root).map_err(SessionError::io("creating stage root", &root))?;
        let db = Db::open(root.join(DB_FILE))?;
        Ok(Session {
            inner: Arc::new(Inner {
                config,
                options,
                db: Mutex::new(db),
                transports: tokio::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The config the session was opened with.
    pub fn config(&self) -> &LoadedConfig {
        &self.inner.config
    }

    /// The session's options.
    pub fn options(&self) -> &SessionOptions {
        &self.inner.options
    }

    /// The stage root: jobs DB and local run dirs.
    pub fn stage_root(&self) -> &Path {
        &self.inner.config.stage_root
    }

    /// The local run dir of task `id`: `<stage_root>/run_<id>`.
    pub fn local_run_dir(&self, id: &TaskId) -> PathBuf {
        self.stage_root().join(format!("run_{id}"))
    }

    /// The remote base dir of `system`: `<rundir>/<H>-<P>`, or `<stage_root>/remote` for a
    /// system without `rundir`. For a system on this machine a relative `rundir` is taken
    /// under `$HOME`, as it would be over SSH.
    pub fn remote_base(&self, system: &System) -> String {
        let options = &self.inner.options;
        match self
            .inner
            .config
            .remote_rundir(system, options.hostname.as_deref())
        {
            Some(dir) if system.host.is_none() && !dir.starts_with('/') => {
                let home = std::env::var("HOME").unwrap_or_else(|_| "/".to_owned());
                let rel = dir.strip_prefix("~/").unwrap_or(&dir);
                format!("{}/{rel}", home.trim_end_matches('/'))
            }
            Some(dir) => dir,
            None => self
                .stage_root()
                .join("remote")
                .to_string_lossy()
                .into_owned(),
        }
    }

    /// Uses `transport` for `system` instead of the one its config names (tests use fakes).
    pub async fn set_transport(&self, system: &str, transport: Arc<dyn Transport>) {
        self.inner
            .transports
            .lock()
            .await
            .insert(SystemName::new(system), transport);
    }

    /// The transport of `system`, connected on first use and then shared.
    pub async fn transport(&self, system: &System) -> Result<Arc<dyn Transport>, SessionError> {
        let mut map = self.inner.transports.lock().await;
        if let Some(t) = map.get(&system.name) {
            return Ok(t.clone());
        }
        let t = transport_for_system(system).await?;
        map.insert(system.name.clone(), t.clone());
        Ok(t)
    }

    /// The system called `name`.
    pub fn system(&self, name: &str) -> Result<&System, SessionError> {
        Ok(self.inner.config.system(name)?)
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock leaves the DB itself consistent (SQLite
        // transactions), so a poisoned lock is still usable.
        self.inner.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a task, treating "another process moved it first" as nothing to do (`None`).
    pub(crate) fn transition(
        &self,
        id: &TaskId,
        from: &[TaskStatus],
        to: TaskStatus,
        update: &TaskUpdate,
    ) -> Result<Option<TaskRecord>, SessionError> {
        match self.db().transition(id, from, to, update) {
            Ok(r) => Ok(Some(r)),
            Err(DbError::WrongState { actual, .. }) => {
                tracing::info!(task = %id, %actual, to = %to, "task moved by someone else");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn stored(&self, record: &TaskRecord) -> Result<StoredTask, SessionError> {
        serde_json::from_str(&record.spec).map_err(|e| {
            SessionError::Db(DbError::Corrupt {
                path: self.stage_root().join(DB_FILE),
                id: record.id.to_string(),
                column: "spec",
                value: e.to_string(),
            })
        })
    }

    /// The task `id`.
    pub fn get(&self, id: &TaskId) -> Result<TaskRecord, SessionError> {
        self.db().get(id)?.ok_or_else(|| {
            SessionError::Db(DbError::NoSuchTask {
                path: self.stage_root().join(DB_FILE),
                id: id.clone(),
            })
        })
    }

    /// Tasks matching `filter` (ExPyRe's `-i -n -s -S`), oldest first.
    pub fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, SessionError> {
        Ok(self.db().list(filter)?)
    }

    /// Tasks of system `system` in one of `statuses`.
    pub(crate) fn list_system(
        &self,
        system: &SystemName,
        statuses: &[TaskStatus],
    ) -> Result<Vec<TaskRecord>, SessionError> {
        let filter = TaskFilter {
            statuses: statuses.to_vec(),
            ..TaskFilter::default()
        };
        Ok(self
            .db()
            .list(&filter)?
            .into_iter()
            .filter(|r| &r.system == system)
            .collect())
    }

    /// Tasks of system `system` in one of `statuses`, without their spec (read from the
    /// listing index): what the follow loop reads every round, light even for 10,000s of
    /// tasks. Full records are read only for the few tasks an action needs.
    pub(crate) fn summaries_system(
        &self,
        system: &SystemName,
        statuses: &[TaskStatus],
    ) -> Result<Vec<TaskSummary>, SessionError> {
        let filter = TaskFilter {
            statuses: statuses.to_vec(),
            ..TaskFilter::default()
        };
        let mut out = Vec::new();
        self.db().for_each_summary(&filter, |s| {
            if s.system == system.as_str() {
                out.push(s.to_summary());
            }
        })?;
        Ok(out)
    }

    /// What task `id` left behind: status, exit code, local run dir and output tails.
    pub fn results(&self, id: &TaskId) -> Result<TaskResults, SessionError> {
        let record = self.get(id)?;
        let local_dir = self.local_run_dir(id);
        let tail = |file: &str| -> String {
            let path = local_dir.join(file);
            let Ok(bytes) = fs::read(&path) else {
                return String::new();
            };
            protocol::tail_text(&bytes, self.inner.options.tail_bytes)
        };
        Ok(TaskResults {
            id: record.id.clone(),
            status: record.status,
            sched_state: record.sched_state.clone(),
            exit_code: record.exit_code,
            reason: record.reason.clone(),
            stdout_tail: tail(STDOUT_FILE),
            stderr_tail: tail(STDERR_FILE),
            local_dir,
        })
    }

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
    /// again: the next poll stages and submits it.
    pub fn reset_status(&self, id: &TaskId, to: TaskStatus) -> Result<TaskRecord, SessionError> {
        if to == TaskStatus::Created {
            let _ = fs::remove_file(self.local_run_dir(id).join(UNACCOUNTED_FILE));
        }
        Ok(self.db().transition(
            id,
            &[],
            to,
            &TaskUpdate {
                detail: Some("reset by hand".to_owned()),
                ..TaskUpdate::default()
            },
        )?)
    }

    /// Asks the scheduler to cancel tasks; their final state then comes from the follow loop
    /// (accounting). Tasks not yet submitted are marked failed (`cancelled`) at once.
    /// Returns the tasks acted on.
    pub async fn cancel(&self, ids: &[TaskId]) -> Result<Vec<TaskId>, SessionError> {
        let mut by_system: HashMap<SystemName, Vec<(TaskId, SchedulerJobId)>> = HashMap::new();
        let mut done = Vec::new();
        for id in ids {
            let record = self.get(id)?;
            match (record.status, &record.scheduler_job_id) {
                (TaskStatus::Submitted | TaskStatus::Started, Some(job)) => {
                    self.note_cancel_request(id)?;
                    by_system
                        .entry(record.system.clone())
                        .or_default()
                        .push((id.clone(), job.clone()))
                }
                (TaskStatus::Created | TaskStatus::Staged, _) => {
                    let update = TaskUpdate {
                        sched_state: Some("cancelled".to_owned()),
                        reason: Some("cancelled before submission".to_owned()),
                        ..TaskUpdate::default()
                    };
                    if self
                        .transition(
                            id,
                            &[TaskStatus::Created, TaskStatus::Staged],
                            TaskStatus::Failed,
                            &update,
                        )?
                        .is_some()
                    {
                        done.push(id.clone());
                    }
                }
                _ => {}
            }
        }
        for (system_name, jobs) in by_system {
            let system = self.system(system_name.as_str())?.clone();
            let transport = self.transport(&system).await?;
            let scheduler = scheduler_for(system.scheduler);
            let job_ids: Vec<SchedulerJobId> = jobs.iter().map(|(_, j)| j.clone()).collect();
            for chunk in chunk_by_len(&job_ids, |j| j.as_str().len()) {
                let cmd = scheduler.cancel(chunk);
                // A cancel of a job that just ended fails harmlessly; the follow loop reads
                // the final state either way, so the reply is only logged.
                let out = transport.run(&cmd, Retry::Never).await?;
                if !out.succeeded() {
                    tracing::warn!(system = %system.name, command = %cmd, stderr = %out.stderr_text(), "cancel reported an error");
                }
            }
            done.extend(jobs.into_iter().map(|(t, _)| t));
        }
        Ok(done)
    }

    /// Writes down (in the task's history) that its cancellation was asked for, before the
    /// scheduler is asked: some schedulers' accounting cannot tell a cancelled running job from
    /// one killed otherwise (Grid Engine: `failed 100`, exit 137 for both), and the follow loop
    /// reads this note to call such an end `cancelled`. The status is left as it is; a task
    /// moved meanwhile by another process is re-read (a few times at most).
    fn note_cancel_request(&self, id: &TaskId) -> Result<(), SessionError> {
        let update = TaskUpdate {
            detail: Some(CANCEL_REQUESTED.to_owned()),
            ..TaskUpdate::default()
        };
        for _ in 0..3 {
            let status = self.get(id)?.status;
            if !matches!(status, TaskStatus::Submitted | TaskStatus::Started) {
                return Ok(());
            }
            if self.transition(id, &[status], status, &update)?.is_some() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// True when the history of task `id` says its cancellation was asked for.
    pub(crate) fn cancel_requested(&self, id: &TaskId) -> Result<bool, SessionError> {
        Ok(self
            .db()
            .history(id)?
            .iter()
            .any(|h| h.detail.as_deref() == Some(CANCEL_REQUESTED)))
    }

    /// Removes the remote and local run dirs of finished tasks and marks them `cleaned`.
    /// Only `run_<id>` dirs xpr made are removed; the user's own input files are never
    /// touched (the run dirs hold copies).
    pub async fn clean(&self, ids: &[TaskId]) -> Result<(), SessionError> {
        let mut groups: HashMap<(SystemName, String), Vec<TaskRecord>> = HashMap::new();
        for id in ids {
            let record = self.get(id)?;
            if TaskStatus::ONGOING.contains(&record.status) {
                return Err(SessionError::WrongState {
                    id: id.clone(),
                    status: record.status,
                    action: "clean it while it may still run",
                    hint: Some("cancel it and wait for it to end first"),
                });
            }
            let stored = self.stored(&record)?;
            groups
                .entry((record.system.clone(), stored.remote_base))
                .or_default()
                .push(record);
        }
        for ((system_name, base), records) in groups {
            let system = self.system(system_name.as_str())?.clone();
            self.remove_remote_dirs(&system, &base, &records).await?;
            for record in records {
                let local = self.local_run_dir(&record.id);
                if local.exists() {
                    fs::remove_dir_all(&local).map_err(SessionError::io("removing", &local))?;
                }
                if record.status != TaskStatus::Cleaned {
                    self.transition(&record.id, &[], TaskStatus::Cleaned, &TaskUpdate::default())?;
                }
            }
        }
        Ok(())
    }

    async fn remove_remote_dirs(
        &self,
        system: &System,
        base: &str,
        records: &[TaskRecord],
    ) -> Result<(), SessionError> {
        let transport = self.transport(system).await?;
        let names = run_dir_names(records)?;
        for chunk in chunk_by_len(&names, String::len) {
            let cmd = CommandSpec::new("sh")
                .args(["-c", protocol::CLEAN_PROGRAM, "xpr-clean", base])
                .args(chunk.iter().map(OsString::from));
            let out = transport.run(&cmd, Retry::Safe).await?;
            check_success(transport.host(), &cmd, out)?;
        }
        Ok(())
    }

    /// Deletes tasks from the DB (`xpr rm`); with `cancel_and_clean`, first cancels the ones
    /// still running and removes their run dirs.
    pub async fn remove(&self, ids: &[TaskId], cancel_and_clean: bool) -> Result<(), SessionError> {
        if cancel_and_clean {
            self.cancel(ids).await?;
            let mut groups: HashMap<(SystemName, String), Vec<TaskRecord>> = HashMap::new();
            for id in ids {
                let record = self.get(id)?;
                let stored = self.stored(&record)?;
                groups
                    .entry((record.system.clone(), stored.remote_base))
                    .or_default()
                    .push(record);
            }
            for ((system_name, base), records) in groups {
                let system = self.system(system_name.as_str())?.clone();
                self.remove_remote_dirs(&system, &base, &records).await?;
            }
        }
        for id in ids {
            let local = self.local_run_dir(id);
            if cancel_and_clean && local.exists() {
                fs::remove_dir_all(&local).map_err(SessionError::io("removing", &local))?;
            }
            self.db().remove(id)?;
        }
        Ok(())
    }

    /// Closes every transport this session opened (SSH masters it started).
    pub async fn close(&self) -> Result<(), SessionError> {
        let transports: Vec<_> = self.inner.transports.lock().await.drain().collect();
        for (_, t) in transports {
            t.close().await?;
        }
        Ok(())
    }

    pub(crate) fn scheduler(system: &System) -> Box<dyn Scheduler> {
        scheduler_for(system.scheduler)
    }
}

/// `run_<id>` for each record, refusing ids that are not xpr's shape (a DB edited by hand
/// must not turn into `rm -rf` of something else).
pub(crate) fn run_dir_names(records: &[TaskRecord]) -> Result<Vec<String>, SessionError> {
    records
        .iter()
        .map(|r| {
            if is_task_id(r.id.as_str()) {
                Ok(format!("run_{}", r.id))
            } else {
                Err(SessionError::InvalidTask {
                    name: r.name.clone(),
                    why: format!("its id {:?} is not one xpr makes", r.id.as_str()),
                })
            }
        })
        .collect()
}

/// Most bytes of ids/names put in one command (well below `ARG_MAX` and sshd's limits).
pub const MAX_ARG_BYTES: usize = 64 * 1024;

/// Splits `items` into chunks whose lengths (plus one separator each) stay under
/// [`MAX_ARG_BYTES`].
pub(crate) fn chunk_by_len<T>(items: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, item) in items.iter().enumerate() {
        let l = len(item) + 1;
        if i > start && size + l > MAX_ARG_BYTES {
            chunks.push(&items[start..i]);
            start = i;
            size = 0;
        }
        size += l;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}
