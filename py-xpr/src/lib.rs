//! `xpr._xpr`: the xpr library for Python, the layer the package's pure-Python API
//! (`python/xpr/`) is built on. No second implementation: every call goes to the library's
//! [`Session`], as the `xpr` command's do.
//!
//! Values cross as JSON text (requests in, records out): the Python side turns them into its
//! own objects, and a record has one shape whether it comes from here or from `xpr ls --json`.
//! Calls that wait on the network or a scheduler release the GIL and look for signals every
//! tenth of a second, so Ctrl-C stops them (raising `KeyboardInterrupt`) and other Python
//! threads run meanwhile; what the library writes is atomic, so an interrupted call leaves
//! nothing half-written. Library errors become [`XprError`] (or [`ConfigError`],
//! [`WaitTimeout`]) with the library's message, cause chain and hint.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use xpr::config::LoadedConfig;
use xpr::db::{DependencyKind, EndState, TaskFilter, TaskStatus};
use xpr::ids::TaskId;
use xpr::resources::Resources;
use xpr::session::profile::TaskOptions;
use xpr::session::{
    PackSize, Retries, Session, SessionError, StartRequest, Submission, TaskRef, TaskResults,
};
use xpr::task::TaskSpec;

create_exception!(
    _xpr,
    XprError,
    PyException,
    "An error of the xpr library: the message says what failed and, after `hint:`, what to do."
);
create_exception!(
    _xpr,
    ConfigError,
    XprError,
    "A config.json is missing, malformed or invalid, or names an unknown system."
);
create_exception!(
    _xpr,
    WaitTimeout,
    XprError,
    "A wait ended at its timeout with tasks not finished."
);

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The error's message with its causes, each said once (as the `xpr` command prints them).
fn message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

/// A library error as the Python exception of its kind.
fn to_py(err: SessionError) -> PyErr {
    let text = message(&err);
    match err {
        SessionError::Config(_) => ConfigError::new_err(text),
        SessionError::Timeout { .. } => WaitTimeout::new_err(text),
        _ => XprError::new_err(text),
    }
}

/// Any other error (bad request JSON, a bad pattern) as an [`XprError`].
fn invalid(what: &str, err: impl std::fmt::Display) -> PyErr {
    XprError::new_err(format!("{what}: {err}"))
}

/// `value` as JSON text.
fn to_json(value: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| invalid("encoding a reply", e))
}

/// One task to start, as the Python API sends it (see `python/xpr/_session.py`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    /// The task's name.
    name: String,
    /// A program and its arguments ...
    #[serde(default)]
    argv: Option<Vec<String>>,
    /// ... or a shell line.
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    inputs: Vec<String>,
    #[serde(default)]
    outputs: Vec<String>,
    #[serde(default)]
    env: Vec<(String, String)>,
    #[serde(default)]
    pre_commands: Vec<String>,
    #[serde(default)]
    post_commands: Vec<String>,
    #[serde(default)]
    args: Option<Value>,
    /// The system's name in the config; none: the profile's, else `$EXPYRE_SYS`, else `local`.
    #[serde(default)]
    system: Option<String>,
    /// A profile of the config whose defaults apply (explicit fields win).
    #[serde(default)]
    profile: Option<String>,
    /// ExPyRe's resource dict (`max_time`, `num_cores` | `num_nodes`, ...).
    #[serde(default)]
    resources: Option<Value>,
    #[serde(default)]
    base_dir: Option<PathBuf>,
    #[serde(default)]
    extra_header: Vec<String>,
    #[serde(default)]
    force_rerun: bool,
    #[serde(default)]
    max_retries: Option<u32>,
    #[serde(default)]
    retry_on: Option<Vec<EndState>>,
    #[serde(default)]
    after_ok: Vec<String>,
    #[serde(default)]
    after_fail: Vec<String>,
    #[serde(default)]
    after_any: Vec<String>,
    /// `individual` (default) or `array`; or `pack` / `jobs` for packing.
    #[serde(default)]
    submission: Option<String>,
    #[serde(default)]
    pack: Option<u32>,
    #[serde(default)]
    jobs: Option<u32>,
    #[serde(default)]
    sweep: Option<String>,
    /// The caller's own identity of the task (see `TaskSpec::identity_key`).
    #[serde(default)]
    identity_key: Option<String>,
}

impl Request {
    /// The library's request for it.
    fn into_start(self, config: &LoadedConfig) -> PyResult<StartRequest> {
        let mut spec = match (self.argv, self.shell) {
            (Some(argv), None) if !argv.is_empty() => TaskSpec::argv(self.name, argv),
            (None, Some(line)) => TaskSpec::shell(self.name, line),
            _ => {
                return Err(XprError::new_err(
                    "a task needs a command: a non-empty list of words, or one shell line",
                ));
            }
        };
        spec.inputs = self.inputs;
        spec.outputs = self.outputs;
        spec.env = self.env;
        spec.pre_commands = self.pre_commands;
        spec.post_commands = self.post_commands;
        spec.args = self.args;
        spec.identity_key = self.identity_key;
        // The library's merge, as `xpr run` gets it: explicit choices over the profile's,
        // and with nothing asked one core on a partial node for the system's default time.
        let mut options = TaskOptions::new().header(self.extra_header);
        if let Some(profile) = &self.profile {
            options = options.profile(profile);
        }
        if let Some(system) = &self.system {
            options = options.system(system);
        }
        if let Some(value) = &self.resources {
            options = options
                .resources(Resources::from_json(value).map_err(|e| invalid("resources", e))?);
        }
        let mut request = StartRequest::from_profile(spec, config, &options)
            .map_err(|e| ConfigError::new_err(message(&e)))?
            .with_force_rerun(self.force_rerun);
        if let Some(dir) = self.base_dir {
            request = request.with_base_dir(dir);
        }
        if self.max_retries.is_some() || self.retry_on.is_some() {
            let mut retries = Retries::default();
            if let Some(n) = self.max_retries {
                retries.max_retries = n;
            }
            if let Some(on) = self.retry_on {
                retries.on = on;
            }
            request = request.with_retries(retries);
        }
        for (kind, parents) in [
            (DependencyKind::AfterOk, self.after_ok),
            (DependencyKind::AfterFail, self.after_fail),
            (DependencyKind::AfterAny, self.after_any),
        ] {
            for parent in parents {
                request = request.after(kind, TaskRef::parse(&parent));
            }
        }
        let submission = match (self.submission.as_deref(), self.pack, self.jobs) {
            (None | Some("individual"), None, None) => Submission::Individual,
            (Some("array"), None, None) => Submission::Array,
            (None | Some("packed"), Some(k), None) => Submission::Packed(PackSize::PerJob(k)),
            (None | Some("packed"), None, Some(j)) => Submission::Packed(PackSize::Jobs(j)),
            (mode, pack, jobs) => {
                return Err(XprError::new_err(format!(
                    "submission {mode:?} with pack={pack:?}, jobs={jobs:?}: give mode \
                     \"individual\" or \"array\", or \"packed\" with pack=K (tasks per job) or \
                     jobs=J (jobs in all)"
                )));
            }
        };
        request = request.with_submission(submission);
        if let Some(sweep) = self.sweep {
            request = request.in_sweep(sweep);
        }
        Ok(request)
    }
}

/// What a listing is filtered by, as the Python API sends it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    statuses: Vec<String>,
    #[serde(default)]
    systems: Vec<String>,
    #[serde(default)]
    sweep: Option<String>,
}

impl Filter {
    fn into_filter(self) -> PyResult<TaskFilter> {
        let mut statuses = Vec::new();
        for word in &self.statuses {
            statuses.extend(
                TaskStatus::parse_group(word)
                    .ok_or_else(|| invalid("status", format!("unknown status {word:?}")))?,
            );
        }
        let mut filter = TaskFilter::from_patterns(&self.ids, &self.names, statuses, &self.systems)
            .map_err(|e| invalid("pattern", e))?;
        filter.sweep = self.sweep;
        Ok(filter)
    }
}

/// A task's results as a JSON object.
fn results_json(results: &TaskResults) -> Value {
    json!({
        "id": results.id,
        "status": results.status,
        "end_state": results.end_state,
        "scheduler_job_id": results.scheduler_job_id,
        "attempts": results.attempts,
        "exit_code": results.exit_code,
        "reason": results.reason,
        "local_dir": results.local_dir,
        "stdout_tail": results.stdout_tail,
        "stderr_tail": results.stderr_tail,
    })
}

/// A session of the xpr library: the systems of the config, the jobs DB and the connections.
#[pyclass(module = "xpr._xpr", frozen)]
struct NativeSession {
    session: Session,
    runtime: tokio::runtime::Runtime,
}

impl NativeSession {
    /// Runs `work` on the session's runtime with the GIL released, looking for signals
    /// meanwhile: on Ctrl-C the work is dropped and `KeyboardInterrupt` raised.
    fn run<T, F>(&self, py: Python<'_>, work: F) -> PyResult<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, SessionError>> + Send + 'static,
    {
        let mut handle = self.runtime.spawn(work);
        loop {
            let runtime = &self.runtime;
            let step = py.detach(|| {
                runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut handle).await })
            });
            match step {
                Ok(joined) => {
                    return joined
                        .map_err(|e| invalid("the call failed", e))?
                        .map_err(to_py);
                }
                Err(_) => {
                    if let Err(interrupted) = py.check_signals() {
                        handle.abort();
                        return Err(interrupted);
                    }
                }
            }
        }
    }

    fn ids(ids: Vec<String>) -> Vec<TaskId> {
        ids.into_iter().map(TaskId::new).collect()
    }
}

#[pymethods]
impl NativeSession {
    /// Opens a session: the config found as the `xpr` command finds it (`EXPYRE_ROOT`, else
    /// `.expyre`/`_expyre` dirs up from the current directory, and `~/.expyre`; config files
    /// with problems leave the built-in `local` system usable), or exactly `config_files`
    /// (shallowest first; the stage root is the last one's dir unless `local_stage_dir`).
    #[new]
    #[pyo3(signature = (config_files=None))]
    fn new(config_files: Option<Vec<PathBuf>>) -> PyResult<Self> {
        let loaded = match config_files {
            Some(files) => {
                let cwd = std::env::current_dir().map_err(|e| invalid("current dir", e))?;
                LoadedConfig::from_files(&files, &cwd)
            }
            None => LoadedConfig::from_env_lenient(),
        }
        .map_err(|e| ConfigError::new_err(message(&e)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| invalid("starting the runtime", e))?;
        let session = {
            let _entered = runtime.enter();
            Session::open(loaded).map_err(to_py)?
        };
        Ok(Self { session, runtime })
    }

    /// The stage root: the jobs DB and the local run dirs are under it.
    #[getter]
    fn stage_root(&self) -> PathBuf {
        self.session.stage_root().to_path_buf()
    }

    /// The config's problems (one per line), when it had some and only `local` is usable.
    #[getter]
    fn config_problems(&self) -> Option<String> {
        self.session
            .config()
            .problems
            .as_ref()
            .map(|p| message(p.as_ref()))
    }

    /// The names of the configured systems (with the built-in `local`).
    fn system_names(&self) -> Vec<String> {
        self.session
            .config()
            .config
            .systems
            .iter()
            .map(|s| s.name.to_string())
            .collect()
    }

    /// The configuration as JSON: `merged` (the config files merged, as read) and `systems`
    /// (as validated, the built-in `local` included: name, scheduler, host, partitions with
    /// their cores per node, `max_time` in seconds and `max_mem` in kB).
    fn config_json(&self) -> PyResult<String> {
        let loaded = self.session.config();
        let systems: Vec<Value> = loaded
            .config
            .systems
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "scheduler": s.scheduler,
                    "host": s.host,
                    "partitions": s.partitions.iter().map(|p| json!({
                        "name": p.name,
                        "num_cores": p.num_cores,
                        "max_time": p.max_time,
                        "max_mem": p.max_mem,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        to_json(&json!({"merged": loaded.merged, "systems": systems}))
    }

    /// Starts the tasks of `requests` (a JSON list) in one batch: recorded in one DB
    /// transaction, staged and submitted together. Returns a JSON list of
    /// `{"id", "reused", "record"}`, in order.
    fn start_many(&self, py: Python<'_>, requests: &str) -> PyResult<String> {
        let parsed: Vec<Request> =
            serde_json::from_str(requests).map_err(|e| invalid("task request", e))?;
        let requests = parsed
            .into_iter()
            .map(|r| r.into_start(self.session.config()))
            .collect::<PyResult<Vec<_>>>()?;
        let session = self.session.clone();
        let started = self.run(py, async move { session.start_many(requests).await })?;
        let out: Vec<Value> = started
            .iter()
            .map(|s| json!({"id": s.record.id, "reused": s.reused, "record": s.record}))
            .collect();
        to_json(&out)
    }

    /// Checks the tasks of `requests` (a JSON list, as `start_many` takes) as starting them
    /// would (the system, the inputs, the node finder, the job script), starting nothing:
    /// raises the error a start would raise first.
    fn check(&self, requests: &str) -> PyResult<()> {
        let parsed: Vec<Request> =
            serde_json::from_str(requests).map_err(|e| invalid("task request", e))?;
        for request in parsed {
            let request = request.into_start(self.session.config())?;
            self.session.dry_run(&request).map_err(to_py)?;
        }
        Ok(())
    }

    /// The task `id` as the DB holds it (a JSON record).
    fn get(&self, id: &str) -> PyResult<String> {
        to_json(&self.session.get(&TaskId::new(id)).map_err(to_py)?)
    }

    /// The tasks `filter` (JSON: ids, names, statuses, systems, sweep) selects, oldest first.
    #[pyo3(signature = (filter="{}"))]
    fn list(&self, filter: &str) -> PyResult<String> {
        let filter: Filter = serde_json::from_str(filter).map_err(|e| invalid("filter", e))?;
        to_json(&self.session.list(&filter.into_filter()?).map_err(to_py)?)
    }

    /// Follows `ids` until all have finished (JSON records, in order), or raises
    /// [`WaitTimeout`] after `timeout` seconds (`None`: a year).
    #[pyo3(signature = (ids, timeout=None))]
    fn wait(&self, py: Python<'_>, ids: Vec<String>, timeout: Option<f64>) -> PyResult<String> {
        let ids = Self::ids(ids);
        let timeout = Duration::from_secs_f64(timeout.unwrap_or(365.0 * 86400.0).max(0.0));
        let session = self.session.clone();
        let done = self.run(py, async move { session.wait(&ids, timeout).await })?;
        to_json(&done)
    }

    /// One round of following for every system with tasks in flight.
    fn poll(&self, py: Python<'_>) -> PyResult<()> {
        let session = self.session.clone();
        let report = self.run(py, async move { session.poll().await })?;
        match report.failed.into_iter().next() {
            Some((system, err)) => Err(XprError::new_err(format!(
                "following the tasks on {system}: {}",
                message(&err)
            ))),
            None => Ok(()),
        }
    }

    /// The task's results (JSON): status, end state, exit code, reason, attempts, local run
    /// dir, the tails of its stdout and stderr.
    fn results(&self, id: &str) -> PyResult<String> {
        let results = self.session.results(&TaskId::new(id)).map_err(to_py)?;
        to_json(&results_json(&results))
    }

    /// Cancels `ids`; returns those it asked the scheduler to cancel.
    fn cancel(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<String>> {
        let ids = Self::ids(ids);
        let session = self.session.clone();
        let cancelled = self.run(py, async move { session.cancel(&ids).await })?;
        Ok(cancelled.into_iter().map(|id| id.to_string()).collect())
    }

    /// Removes the remote run dirs of `ids` (finished tasks).
    fn clean(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<()> {
        let ids = Self::ids(ids);
        let session = self.session.clone();
        self.run(py, async move { session.clean(&ids).await })
    }

    /// Makes a new attempt of each of `ids` by hand; returns those retried.
    fn retry(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<Vec<String>> {
        let ids = Self::ids(ids);
        let session = self.session.clone();
        let retried = self.run(py, async move { session.retry(&ids).await })?;
        Ok(retried.into_iter().map(|id| id.to_string()).collect())
    }

    /// Marks `id` processed: its results were used, an identical task runs anew.
    fn mark_processed(&self, id: &str) -> PyResult<String> {
        to_json(
            &self
                .session
                .mark_processed(&TaskId::new(id))
                .map_err(to_py)?,
        )
    }

    /// Sets `id`'s status by hand (ExPyRe's `reset_status`).
    fn reset_status(&self, id: &str, status: &str) -> PyResult<String> {
        let to = TaskStatus::from_name(status)
            .ok_or_else(|| invalid("status", format!("unknown status {status:?}")))?;
        to_json(
            &self
                .session
                .reset_status(&TaskId::new(id), to)
                .map_err(to_py)?,
        )
    }

    /// Removes `ids` from the DB (with `cancel_and_clean`, cancels and cleans them first).
    #[pyo3(signature = (ids, cancel_and_clean=false))]
    fn remove(&self, py: Python<'_>, ids: Vec<String>, cancel_and_clean: bool) -> PyResult<()> {
        let ids = Self::ids(ids);
        let session = self.session.clone();
        self.run(
            py,
            async move { session.remove(&ids, cancel_and_clean).await },
        )
    }

    /// The local run dir of `id` (its outputs and logs once finished).
    fn local_run_dir(&self, id: &str) -> PathBuf {
        self.session.local_run_dir(&TaskId::new(id))
    }

    /// The local dir of attempt `number` of `id` (the current one's is the run dir).
    fn attempt_dir(&self, id: &str, number: u32) -> PathBuf {
        self.session.attempt_dir(&TaskId::new(id), number)
    }

    /// Closes the session's connections.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let session = self.session.clone();
        self.run(py, async move { session.close().await })
    }
}

/// Runs the `xpr` command line `argv` (program name first) in this process and returns its
/// exit code: the Python package's `xpr` command.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| xpr_cli::main_with_args(argv))
}

/// The `xpr._xpr` module.
#[pymodule]
fn _xpr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeSession>()?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add("XprError", m.py().get_type::<XprError>())?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("WaitTimeout", m.py().get_type::<WaitTimeout>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
