//! A session: the library's entry point for a task's whole life (stage, submit, follow,
//! collect, clean), over every system of a config at once.
//!
//! A [`Session`] is opened from a [`LoadedConfig`]. It owns the jobs DB at
//! `<stage_root>/jobs.db`, one [`SystemDriver`] per system (made when first needed, each on its
//! own, so a slow login to one system holds up no other; shared by every operation), and the
//! local run dirs `<stage_root>/run_<task id>/`. It is cheap to clone (clones share everything)
//! and every method takes `&self`, so one process can follow tasks on several systems at once.
//! [`BlockingSession`] offers the same operations outside async code.
//!
//! # Inside
//!
//! | module | owns |
//! |---|---|
//! | `driver` | [`SystemDriver`]: the only code that talks to a system's remote side, one round trip for many tasks, typed results |
//! | `decide` | [`decide_end`]: what a job's end means, pure |
//! | `submit` | start: prepare, record, stage, batch submit, recover interrupted submissions |
//! | `follow` | poll and follow: status, accounting, vanished jobs, collection |
//! | `manage` | cancel, clean, remove, mark processed, reset |
//! | `dry_run` | [`DryRun`]: what a start would do (id, run dir, job script, remote commands), done by nothing |
//! | `orphans` | [`Orphans`]: run dirs no task owns, here and on each system, and their removal |
//! | `logs` | [`LogRead`]: a running task's stdout and stderr past what was read, from its run dir |
//! | `events` | [`TaskEvent`]s read from the jobs DB's history (every process's changes, in order), handed to an [`EventObserver`] or [`Callbacks`] while following |
//! | `native` | dependencies the scheduler holds (a child submitted at once, held on its parents' jobs), and settling them when a parent is retried or fails |
//! | [`export`] | the whole jobs DB as one JSON document, read in one snapshot ([`Export`]), written whole or not at all |
//! | [`deliver`] | bringing a task's outputs to a destination without destroying a user's file |
//! | [`profile`] | a profile's defaults under the caller's explicit choices: a [`StartRequest`] |
//! | `protocol` | the remote `sh` programs and their reply framing |
//! | `clock` | the engine's [`Clock`] (tests move a [`ManualClock`]) |
//!
//! The orchestrators (`submit`, `follow`, `manage`, `native`) decide and write DB transitions; they run
//! DB calls on blocking threads (a DB call may wait out another process's write lock, which must
//! not hold up the runtime).
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
//! then `processed` and `cleaned` on request; a task that ended has an
//! [`EndState`] saying how. Each submission is an attempt (the DB keeps
//! them all; a reset by hand makes the next submission a new one). Every transition is written
//! before the action it announces. Creation, staging and submission on one system happen while
//! this process holds the system's local lock file, so another process that finds a task
//! `created`, `staged` or `submitting` *and* gets the lock knows its owner died, and continues
//! it (`submitting` tasks are first looked up by name in the scheduler, under the remote lock,
//! see [`protocol`]). A task whose cancellation was asked for is never submitted. See the
//! `submit`, `follow` and `manage` modules for the steps.

mod blocking;
mod clock;
mod decide;
pub mod deliver;
mod driver;
mod dry_run;
mod error;
mod events;
pub mod export;
mod follow;
mod group;
mod logs;
mod manage;
mod native;
mod orphans;
pub mod profile;
pub mod protocol;
mod report;
mod retry;
mod submit;
mod sweep;
mod unchanged;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use blocking::BlockingSession;
pub use clock::{Clock, ManualClock, SystemClock};
pub use decide::{EndContext, EndDecision, EndFacts, decide_end, end_state_of};
pub use driver::{MAX_ARG_BYTES, SUBMIT_LOCK_FILE, SubmitReply, SystemDriver};
pub use dry_run::{DryRun, PlannedCommand};
pub use error::SessionError;
pub use events::{Callback, Callbacks, EventKind, EventObserver, EventsFrom, TaskEvent, event_of};
pub use export::{Export, ExportError, ExportedDependency, ExportedTask, IfExists};
pub use follow::PollReport;
pub use group::{PackSize, Submission};
pub use logs::{LOG_CHUNK, LogRead};
pub use orphans::{Orphan, Orphans};
pub use report::{FailureReport, FigureSource, log_names};
pub use retry::{InvalidRetries, NextAttempt, Retries};
pub use sweep::{SweepRequest, SweepStarted};

use crate::config::{LoadedConfig, System};
use crate::db::{
    Attempt, Db, DbError, DependencyKind, EndState, TaskFilter, TaskRecord, TaskStatus,
    TaskSummary, TaskUpdate,
};
use crate::ids::{SystemName, TaskId};
use crate::resources::Resources;
use crate::scheduler::{Scheduler, scheduler_for};
use crate::stage::StageEntry;
use crate::task::{STDERR_FILE, STDOUT_FILE, TaskSpec, is_task_id};
use crate::transport::{Transport, transport_for_system};

/// The job script's file name in each run dir.
pub const SCRIPT_FILE: &str = "xpr_job.sh";
/// The jobs DB's file name in the stage root.
pub const DB_FILE: &str = "jobs.db";
/// Marker file in a local run dir: since when (epoch milliseconds) the job is in neither the queue
/// nor accounting.
pub(crate) const UNACCOUNTED_FILE: &str = ".xpr-unaccounted-since";

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
    /// What "now" is when measuring how long a job has been missing (tests move a
    /// [`ManualClock`]). Default the system clock.
    pub clock: Arc<dyn Clock>,
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
            clock: Arc::new(SystemClock),
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
    /// Run it even if an identical task can still produce results (ExPyRe's `force_rerun`).
    pub force_rerun: bool,
    /// How it retries; `None`: as its system's retry defaults say (`max_retries`,
    /// `retry_on` ... in the config; none there: not at all). A profile's defaults are
    /// filled in here by [`StartRequest::from_profile`].
    pub retries: Option<Retries>,
    /// What it waits for: it is submitted once each parent's end meets its condition, and
    /// ends `never_ran` when one no longer can.
    pub after: Vec<Dependency>,
    /// Inputs taken from parents' outputs once they succeeded: (parent, glob in its run dir).
    /// Each parent named here is waited for (`after_ok`) too.
    pub inputs_from: Vec<(TaskRef, String)>,
    /// How it reaches the scheduler: its own job (the default), an element of an array, or
    /// packed with others into few jobs. Not part of its identity: it changes how, not what.
    pub submission: Submission,
    /// The sweep it belongs to (`xpr ls --sweep NAME`), if any.
    pub sweep: Option<String>,
}

/// A task a request names: by id, or by name (the request of that name in the same batch,
/// else the newest task of that name in the jobs DB, else the task with that id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskRef {
    /// A task id.
    Id(TaskId),
    /// A task name (or, failing that, an id).
    Name(String),
}

impl TaskRef {
    /// What a user typed: a name, or failing that an id.
    pub fn parse(text: &str) -> Self {
        Self::Name(text.to_owned())
    }
}

impl std::fmt::Display for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// A parent a task waits for, and for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// What the child waits for.
    pub kind: DependencyKind,
    /// The parent.
    pub parent: TaskRef,
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
            force_rerun: false,
            retries: None,
            after: Vec::new(),
            inputs_from: Vec::new(),
            submission: Submission::Individual,
            sweep: None,
        }
    }

    /// Submits it as `submission` says (see [`Submission`]).
    pub fn with_submission(mut self, submission: Submission) -> Self {
        self.submission = submission;
        self
    }

    /// Makes it part of the sweep `name`.
    pub fn in_sweep(mut self, name: impl Into<String>) -> Self {
        self.sweep = Some(name.into());
        self
    }

    /// Takes relative inputs from `dir` instead of the current directory.
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Waits for `parent` to end as `kind` says before it is submitted.
    pub fn after(mut self, kind: DependencyKind, parent: TaskRef) -> Self {
        self.after.push(Dependency { kind, parent });
        self
    }

    /// Takes the outputs of `parent` matching `glob` (relative to its run dir) as inputs, and
    /// waits for it to succeed. The files go parent's system -> here -> this task's system.
    pub fn inputs_from(mut self, parent: TaskRef, glob: impl Into<String>) -> Self {
        if !self
            .after
            .iter()
            .any(|d| d.parent == parent && d.kind == DependencyKind::AfterOk)
        {
            self.after.push(Dependency {
                kind: DependencyKind::AfterOk,
                parent: parent.clone(),
            });
        }
        self.inputs_from.push((parent, glob.into()));
        self
    }

    /// Retries the task as `retries` says (instead of its profile's or system's defaults).
    pub fn with_retries(mut self, retries: Retries) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Runs the task even if an identical one can still produce results.
    pub fn with_force_rerun(mut self, force: bool) -> Self {
        self.force_rerun = force;
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
    /// How it ended (`timeout`, `cancelled`, `missing_outputs` ...), once it has.
    pub end_state: Option<EndState>,
    /// The scheduler's job id of the current attempt.
    pub scheduler_job_id: Option<crate::ids::SchedulerJobId>,
    /// Every attempt, first first (the current one last).
    pub attempts: Vec<Attempt>,
    /// The command's exit code, when known.
    pub exit_code: Option<i32>,
    /// Why it ended as it did, when known.
    pub reason: Option<String>,
    /// The local run dir: after the task finished, a copy of the remote run dir (outputs,
    /// `xpr.stdout`, `xpr.stderr`, `xpr.exit`), without the inputs that came back unchanged.
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
    /// The resources asked for (a retry with more time or memory re-runs the node finder);
    /// absent in tasks recorded before retries existed.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// Extra header lines the request had (to render the script again).
    #[serde(default)]
    pub extra_header: Vec<String>,
    /// How it retries.
    #[serde(default)]
    pub retries: Retries,
    /// Inputs to take from parents' outputs when it is released: (parent, glob).
    #[serde(default)]
    pub inputs_from: Vec<(TaskId, String)>,
    /// How it reaches the scheduler.
    #[serde(default)]
    pub submission: Submission,
    /// How many times a pack it ran in ended before it did (its attempt goes again once).
    #[serde(default)]
    pub pack_restarts: u32,
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

/// A system's driver, made once when first needed (a slow SSH login to one system holds up
/// only the callers that need that system).
type DriverCell = Arc<tokio::sync::OnceCell<Arc<SystemDriver>>>;

pub(crate) struct Inner {
    pub config: LoadedConfig,
    pub options: SessionOptions,
    pub db: Mutex<Db>,
    pub drivers: Mutex<HashMap<SystemName, DriverCell>>,
}

impl Inner {
    fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock leaves the DB itself consistent (SQLite
        // transactions), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An open session (see the module docs). Clones share the DB, drivers and options.
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
                drivers: Mutex::new(HashMap::new()),
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

    /// Where attempt `number` of task `id` keeps its files once a later attempt began:
    /// `<stage_root>/run_<id>.attempt-<number>/`.
    pub fn kept_attempt_dir(&self, id: &TaskId, number: u32) -> PathBuf {
        self.stage_root().join(format!("run_{id}.attempt-{number}"))
    }

    /// The local dir holding attempt `number`'s files (logs, outputs): the kept dir of an
    /// earlier attempt, else the task's run dir.
    pub fn attempt_dir(&self, id: &TaskId, number: u32) -> PathBuf {
        let kept = self.kept_attempt_dir(id, number);
        if kept.is_dir() {
            kept
        } else {
            self.local_run_dir(id)
        }
    }

    /// Keeps the local run dir of task `id`'s attempt `number` aside (see
    /// [`kept_attempt_dir`](Session::kept_attempt_dir)) before another attempt reuses the run
    /// dir. Kept once: a replay after a crash leaves the first copy.
    pub(crate) fn keep_attempt_dir(&self, id: &TaskId, number: u32) -> Result<(), SessionError> {
        let dir = self.local_run_dir(id);
        let kept = self.kept_attempt_dir(id, number);
        if number == 0 || !dir.is_dir() || kept.exists() {
            return Ok(());
        }
        fs::rename(&dir, &kept).map_err(SessionError::io("keeping an attempt's run dir", &dir))
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

    /// Uses `transport` for `system` instead of the one its config names, with the system's
    /// own scheduler adapter.
    pub async fn set_transport(&self, system: &str, transport: Arc<dyn Transport>) {
        if let Ok(sys) = self.system(system) {
            let scheduler: Arc<dyn Scheduler> = Arc::from(scheduler_for(sys.scheduler));
            self.set_backend(system, transport, scheduler);
        }
    }

    /// Drives `system` through `transport` and `scheduler` instead of what its config names
    /// (tests use fakes of both). Does nothing for a system the config does not have.
    pub fn set_backend(
        &self,
        system: &str,
        transport: Arc<dyn Transport>,
        scheduler: Arc<dyn Scheduler>,
    ) {
        let Ok(sys) = self.system(system) else {
            return;
        };
        let driver = Arc::new(SystemDriver::new(sys.clone(), transport, scheduler));
        let cell = tokio::sync::OnceCell::new_with(Some(driver));
        self.drivers().insert(sys.name.clone(), Arc::new(cell));
    }

    /// How many remote commands this session has run on `system` so far (0 before it first
    /// reached it): see [`SystemDriver::round_trips`].
    pub fn round_trips(&self, system: &str) -> u64 {
        self.drivers()
            .get(&SystemName::new(system))
            .and_then(|cell| cell.get().map(|d| d.round_trips()))
            .unwrap_or(0)
    }

    fn drivers(&self) -> MutexGuard<'_, HashMap<SystemName, DriverCell>> {
        self.inner.drivers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver of `system`: connected on first use, then shared.
    pub async fn driver(&self, system: &SystemName) -> Result<Arc<SystemDriver>, SessionError> {
        let sys = self.system(system.as_str())?.clone();
        let cell = self.drivers().entry(sys.name.clone()).or_default().clone();
        let driver = cell
            .get_or_try_init(|| async {
                let transport = transport_for_system(&sys).await?;
                let scheduler: Arc<dyn Scheduler> = Arc::from(scheduler_for(sys.scheduler));
                Ok::<_, SessionError>(Arc::new(SystemDriver::new(sys, transport, scheduler)))
            })
            .await?;
        Ok(driver.clone())
    }

    /// The transport of `system`, connected on first use and then shared.
    pub async fn transport(&self, system: &System) -> Result<Arc<dyn Transport>, SessionError> {
        Ok(self.driver(&system.name).await?.transport().clone())
    }

    /// The system called `name`.
    pub fn system(&self, name: &str) -> Result<&System, SessionError> {
        Ok(self.inner.config.system(name)?)
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        self.inner.db()
    }

    /// Runs `f` on the jobs DB on a blocking thread: a DB call may wait up to the busy timeout
    /// for another process's write lock, and must not hold up the runtime's workers meanwhile.
    pub(crate) async fn with_db<T, F>(&self, f: F) -> Result<T, SessionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.db()))
            .await
            .expect("a DB call does not panic")
            .map_err(SessionError::from)
    }

    /// Moves a task, treating "another process moved it first" as nothing to do (`None`).
    pub(crate) async fn transition(
        &self,
        id: &TaskId,
        from: &[TaskStatus],
        to: TaskStatus,
        update: TaskUpdate,
    ) -> Result<Option<TaskRecord>, SessionError> {
        let task = id.clone();
        let from = from.to_vec();
        let moved = self
            .with_db(move |db| match db.transition(&task, &from, to, &update) {
                Ok(r) => Ok(Some(r)),
                Err(DbError::WrongState { actual, .. }) => {
                    tracing::info!(task = %task, %actual, to = %to, "task moved by someone else");
                    Ok(None)
                }
                Err(e) => Err(e),
            })
            .await?;
        Ok(moved)
    }

    /// [`Session::transition`] for many tasks in one DB transaction; `false` for each that
    /// someone else moved first.
    pub(crate) async fn transition_many(
        &self,
        moves: Vec<(TaskId, TaskUpdate)>,
        from: &[TaskStatus],
        to: TaskStatus,
    ) -> Result<Vec<bool>, SessionError> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let from = from.to_vec();
        let (phase, tasks) = (std::time::Instant::now(), moves.len());
        let moved = self
            .with_db(move |db| db.transition_many(&moves, &from, to))
            .await;
        tracing::debug!(tasks, to = %to, took = ?phase.elapsed(), "tasks moved");
        moved
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

    fn no_such_task(&self, id: &TaskId) -> SessionError {
        SessionError::Db(DbError::NoSuchTask {
            path: self.stage_root().join(DB_FILE),
            id: id.clone(),
        })
    }

    /// The task `id`.
    pub fn get(&self, id: &TaskId) -> Result<TaskRecord, SessionError> {
        self.db().get(id)?.ok_or_else(|| self.no_such_task(id))
    }

    /// The task `id`, read off the runtime's workers.
    pub(crate) async fn get_async(&self, id: &TaskId) -> Result<TaskRecord, SessionError> {
        let task = id.clone();
        self.with_db(move |db| db.get(&task))
            .await?
            .ok_or_else(|| self.no_such_task(id))
    }

    /// Tasks matching `filter` (ExPyRe's `-i -n -s -S`), oldest first.
    pub fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, SessionError> {
        Ok(self.db().list(filter)?)
    }

    /// Tasks matching `filter` without their spec (read from the listing index): what the
    /// follow loop reads every round, light even for 10,000s of tasks. Full records are read
    /// only for the few tasks an action needs.
    pub(crate) async fn summaries(
        &self,
        filter: TaskFilter,
    ) -> Result<Vec<TaskSummary>, SessionError> {
        self.with_db(move |db| db.list_summaries(&filter)).await
    }

    /// Full records of tasks matching `filter`, read off the runtime's workers.
    pub(crate) async fn records(
        &self,
        filter: TaskFilter,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        self.with_db(move |db| db.list(&filter)).await
    }

    /// What task `id` left behind: status, end state, attempts, local run dir and output
    /// tails.
    pub fn results(&self, id: &TaskId) -> Result<TaskResults, SessionError> {
        let record = self.get(id)?;
        let attempts = self.db().attempts(id)?;
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
            end_state: record.end_state,
            scheduler_job_id: record.scheduler_job_id.clone(),
            attempts,
            exit_code: record.exit_code,
            reason: record.reason.clone(),
            stdout_tail: tail(STDOUT_FILE),
            stderr_tail: tail(STDERR_FILE),
            local_dir,
        })
    }

    /// Closes every transport this session opened (SSH masters it started).
    pub async fn close(&self) -> Result<(), SessionError> {
        let cells: Vec<DriverCell> = self.drivers().drain().map(|(_, c)| c).collect();
        for cell in cells {
            if let Some(driver) = cell.get() {
                driver.transport().close().await?;
            }
        }
        Ok(())
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
