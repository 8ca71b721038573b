//! Systems, partitions and profiles, read from layered ExPyRe-format `config.json` files.
//!
//! Data flow: [`discover`] finds the `.expyre`/`_expyre` directories and their `config.json`
//! files for a [`ConfigSearch`] (current directory, `$HOME`, `$EXPYRE_ROOT`); the files are
//! read and merged shallowest first (`merge`: `"_DELETE_"` removes, objects merge recursively,
//! anything else replaces, key order is kept); the merged document is validated into a
//! [`Config`] (`validate`), every error naming the file(s), the JSON path and what is wrong
//! ([`ConfigError`]). [`LoadedConfig`] wraps the result with its provenance: the files read,
//! the places searched, which files defined each system, and the stage root.
//!
//! Invariants of a [`Config`]:
//! - it always has a system `local`: the built-in one ([`Config::builtin`]) unless a config
//!   defines its own; the built-in one comes first;
//! - systems, partitions and profiles are in config order (the node finder's tie-break
//!   depends on partition order);
//! - older key names are resolved: `queues` is read as `partitions`, `ncores` as `num_cores`;
//!   units are resolved: `max_time` in seconds, `max_mem` in kB;
//! - defaults are applied: `script_exec` `/bin/bash`, `rundir` `run_expyre` when `host` is set.
//!
//! [`SchedulerKind`] (a system's `scheduler` key) is defined here, below the node finder and
//! the scheduler adapters that use it; `xpr::scheduler::SchedulerKind` re-exports it. Units
//! are read with [`crate::units`]; nothing here imports a layer above the config.
//!
//! No config file at all is not an error: only the built-in `local` system then exists, and
//! asking [`LoadedConfig::system`] for any other is an error naming the places searched.
//!
//! Every problem of a config is reported at once (a [`ConfigError`] of several, see
//! [`ConfigError::errors`]). Work that needs no configured system (reading the jobs DB, the
//! built-in `local` system) loads with [`LoadedConfig::load_lenient`]: files with problems then
//! leave the built-in config and the usual stage root, the problems kept for a warning.

mod discover;
mod error;
mod error_rules;
mod merge;
mod retry_defaults;
mod scheduler_kind;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

pub use discover::{CONFIG_FILE_NAME, ConfigSearch, Discovery, discover};
pub use error::{ConfigError, ConfigErrorKind, JsonPath, edit_distance, suggest};
pub use error_rules::{
    DEFAULT_WHITELIST_THRESHOLD, ErrorRules, compile_pattern, pattern_error_text,
};
pub use merge::DELETE_MARKER;
pub use retry_defaults::RetryDefaults;
pub use scheduler_kind::SchedulerKind;
pub use validate::{
    DEFAULT_RUNDIR, DEFAULT_SCRIPT_EXEC, PARTITION_KEYS, PROFILE_KEYS, RESOURCE_KEYS, SYSTEM_KEYS,
    TOP_LEVEL_KEYS,
};

use crate::ids::SystemName;
use merge::Merged;

/// The name of the built-in system.
pub const BUILTIN_SYSTEM: &str = "local";

/// The merged configuration: every system by name, in config order.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The systems, in the order the merged config lists them (the built-in `local` first
    /// unless a config redefines it).
    pub systems: Vec<System>,
    /// Top-level `local_stage_dir`, if given (as written; [`LoadedConfig::stage_root`] is the
    /// resolved one).
    pub local_stage_dir: Option<PathBuf>,
    /// Top-level `remote_rundir_submit_hostname`, if given.
    pub remote_rundir_submit_hostname: Option<String>,
    /// Top-level `profiles` (xpr's addition), in config order.
    pub profiles: Vec<Profile>,
}

impl Config {
    /// The configuration with only the built-in `local` system: what xpr uses when no
    /// `config.json` exists.
    pub fn builtin() -> Self {
        Self {
            systems: vec![builtin_local_system()],
            local_stage_dir: None,
            remote_rundir_submit_hostname: None,
            profiles: Vec::new(),
        }
    }

    /// Parses and validates one config document, as if it were the only file found. `file`
    /// names it in errors.
    pub fn from_json_str(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let doc = parse_document(text, file)?;
        let mut merged = Merged::default();
        merged.merge(file.to_owned(), &doc);
        validate::validate(&merged.value, &merged.provenance)
    }

    /// The system called `name`, if the config has one.
    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name.as_str() == name)
    }

    /// The system called `name`, or an error listing the known ones with a did-you-mean.
    pub fn require_system(&self, name: &str) -> Result<&System, ConfigError> {
        self.system(name).ok_or_else(|| {
            let known: Vec<String> = self.systems.iter().map(|s| s.name.to_string()).collect();
            ConfigError::new(ConfigErrorKind::UnknownSystem {
                name: name.to_owned(),
                suggestion: suggest(name, known.iter().map(String::as_str)),
                known,
            })
        })
    }

    /// The profile called `name`, or an error listing the known ones with a did-you-mean.
    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let known: Vec<String> = self.profiles.iter().map(|p| p.name.clone()).collect();
                ConfigError::new(ConfigErrorKind::UnknownProfile {
                    name: name.to_owned(),
                    suggestion: suggest(name, known.iter().map(String::as_str)),
                    known,
                })
            })
    }
}

/// A named set of defaults for a run (xpr's addition, top-level `profiles`): which system,
/// which resources, extra header lines and environment.
///
/// ```json
/// "profiles": {
///   "archer2-short": {
///     "description": "one node for up to an hour",
///     "system": "archer2",
///     "resources": {"max_time": "1h", "num_nodes": 1, "partitions": ["standard"],
///                   "account": "e89"},
///     "header": ["#SBATCH --qos=short"],
///     "env": {"OMP_NUM_THREADS": "1"},
///     "error_whitelist": ["Leap second table TAI_UTC seems out-of-date"]
///   }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The profile's name (its key under `profiles`).
    pub name: String,
    /// The system it runs on; `None` leaves the choice to the caller. When set, the system
    /// exists in the config (checked at load).
    pub system: Option<SystemName>,
    /// An ExPyRe resource dict (`max_time`, `num_nodes` / `num_cores`, `max_mem_tot` /
    /// `max_mem_per_core`, `partitions`, `exact_fit`, `partial_node`, the older `n`,
    /// `ncores_per_task`, `max_mem_per_task`, and xpr's `gpus` and `account`). Key names are
    /// checked at load; values are the resources module's to parse.
    pub resources: Map<String, Value>,
    /// Extra header template lines for jobs run with this profile.
    pub header: Vec<String>,
    /// Environment variables set in the job, in config order; names are valid shell names.
    pub env: Vec<(String, String)>,
    /// A one-line description, for listings.
    pub description: Option<String>,
    /// Failure analysis settings for tasks run with this profile (over the system's, under
    /// the task's own).
    pub error_rules: ErrorRules,
    /// Retry defaults for tasks run with this profile (over the system's; a task's own
    /// replace them).
    pub retries: RetryDefaults,
}

/// One named system: where it is, which scheduler it runs, and its partitions.
#[derive(Clone, Debug, PartialEq)]
pub struct System {
    /// The system's name (its key under `systems`).
    pub name: SystemName,
    /// `user@host` to reach over SSH, or `None` for this machine.
    pub host: Option<String>,
    /// The batch system.
    pub scheduler: SchedulerKind,
    /// Partitions (or queues) in config order; the node finder's tie-break depends on it.
    pub partitions: Vec<Partition>,
    /// The system's header template lines.
    pub header: Vec<String>,
    /// When true, the scheduler's default header lines are left out.
    pub no_default_header: bool,
    /// The interpreter of job scripts (`#!` line); default `/bin/bash`.
    pub script_exec: String,
    /// Shell lines run (remotely) before each submission.
    pub pre_submit_cmds: Vec<String>,
    /// Lines every job script runs after `cd` to its directory (module loads etc.).
    pub commands: Vec<String>,
    /// The remote run directory (relative = under `$HOME`); `None` when not set.
    pub rundir: Option<String>,
    /// The remote shell command, when set in the config.
    pub remsh_cmd: Option<String>,
    /// xpr's addition (`"resource_lines": true`): write the request's memory, GPUs and
    /// account into the header in the scheduler's own syntax
    /// ([`crate::scheduler::Scheduler::resource_header`]). Default false, as ExPyRe has no
    /// such lines: an ExPyRe config renders as it always did.
    pub resource_lines: bool,
    /// xpr's addition (`"max_queued": N`): at most this many of xpr's jobs in the system's
    /// queue at once (queued or running); the rest wait in xpr, staged, and go as slots
    /// free (sites that cap jobs per user). `None`: no cap.
    pub max_queued: Option<u32>,
    /// xpr's addition (`"max_array_size": N`): at most this many elements in one job array
    /// xpr submits here, where the scheduler does not tell the site's own limit (Slurm's
    /// `MaxArraySize` is read from the site). `None`: the site's, else the scheduler's
    /// default.
    pub max_array_size: Option<u32>,
    /// xpr's addition (`"poll_interval": "2m"`): never ask this system's scheduler about
    /// its jobs more often than this (sites that allow one `squeue` per few minutes); the
    /// session's own back-off applies above it. `None`: the session's.
    pub poll_interval: Option<Duration>,
    /// xpr's addition (`"vanish_timeout": "10m"`): how long a job may be missing from both
    /// the queue and accounting before xpr calls it vanished. `None`: the session's.
    pub vanish_timeout: Option<Duration>,
    /// xpr's addition (`"default_max_time": "4h"`): the run time, in seconds, of a task on
    /// this system whose resources name none. `None`: one hour
    /// ([`crate::resources::FALLBACK_MAX_TIME`]).
    pub default_max_time: Option<u64>,
    /// xpr's addition (`"directives_skip": ["--mem", "-l walltime"]`, py-cluster-api's
    /// name): xpr's own header lines (the scheduler's defaults and resource lines) holding
    /// one of these substrings are left out, for sites that refuse a directive. Never the
    /// job name line.
    pub directives_skip: Vec<String>,
    /// xpr's addition (`"job_name_prefix": "proj-"`, py-cluster-api's name): put before each
    /// job's name in the scheduler (`{job_name}` in header templates; xpr's default lines use
    /// it), for sites or users that sort jobs by name. `None`: the task id alone.
    pub job_name_prefix: Option<String>,
    /// Retry defaults for tasks on this system that say nothing of retries.
    pub retries: RetryDefaults,
    /// Failure analysis settings for every task on this system (under a profile's and a
    /// task's own).
    pub error_rules: ErrorRules,
}

/// One partition (or queue, or node type) of a system.
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    /// The key in the config; what partition regexps match (may name several real ones,
    /// e.g. `"node16_old,node16_new"`).
    pub name: String,
    /// Cores per node.
    pub num_cores: u32,
    /// Longest run time allowed, in seconds; `None` = unlimited.
    pub max_time: Option<u64>,
    /// Memory per node in kB; `None` = not checked.
    pub max_mem: Option<u64>,
    /// Header template lines added for this partition.
    pub header: Vec<String>,
    /// The scheduler's own name for it, used as `{partition}`; defaults to `name`.
    pub partition: Option<String>,
}

impl Partition {
    /// The name the scheduler knows: `partition` if given, else the key.
    pub fn scheduler_name(&self) -> &str {
        self.partition.as_deref().unwrap_or(&self.name)
    }
}

/// The built-in system `local`: this machine, no batch system, one partition `local` with this
/// machine's cores and memory and no time limit.
pub fn builtin_local_system() -> System {
    let num_cores = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    System {
        name: SystemName::new(BUILTIN_SYSTEM),
        host: None,
        scheduler: SchedulerKind::Local,
        partitions: vec![Partition {
            name: BUILTIN_SYSTEM.to_owned(),
            num_cores,
            max_time: None,
            max_mem: local_mem_total_kb(),
            header: Vec::new(),
            partition: None,
        }],
        header: Vec::new(),
        no_default_header: false,
        script_exec: DEFAULT_SCRIPT_EXEC.to_owned(),
        pre_submit_cmds: Vec::new(),
        commands: Vec::new(),
        rundir: None,
        remsh_cmd: None,
        // No ExPyRe config to stay compatible with: `--gpus` reaches the local queue, which
        // refuses what the machine does not have.
        resource_lines: true,
        max_queued: None,
        max_array_size: None,
        poll_interval: None,
        vanish_timeout: None,
        default_max_time: None,
        directives_skip: Vec::new(),
        job_name_prefix: None,
        retries: RetryDefaults::default(),
        error_rules: ErrorRules::default(),
    }
}

/// This machine's memory in kB (`MemTotal` of `/proc/meminfo`); `None` where that cannot be
/// read (not Linux), which leaves memory unchecked.
fn local_mem_total_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&text)
}

/// The `MemTotal:  16318504 kB` line's number.
fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let number: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(number),
        Some(_) => None,
    }
}

/// Reads one JSON document whose top level must be an object.
fn parse_document(text: &str, file: &Path) -> Result<Map<String, Value>, ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ConfigError::in_file(
            file,
            ConfigErrorKind::Syntax {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            },
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ConfigError::at(
            vec![file.to_owned()],
            JsonPath::root(),
            ConfigErrorKind::WrongType {
                expected: "an object with a \"systems\" key",
                found: match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "a list",
                    Value::Object(_) => "an object",
                },
            },
        )),
    }
}

fn read_document(file: &Path) -> Result<Map<String, Value>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| {
        ConfigError::in_file(
            file,
            ConfigErrorKind::Io {
                path: file.to_owned(),
                source,
            },
        )
    })?;
    parse_document(&text, file)
}

/// Reads and merges `files` in order; the files that cannot be read or parsed are left out,
/// their errors returned alongside.
fn merge_files(files: &[PathBuf]) -> (Merged, Vec<ConfigError>) {
    let mut merged = Merged::default();
    let mut errors = Vec::new();
    for file in files {
        match read_document(file) {
            Ok(doc) => merged.merge(file.clone(), &doc),
            Err(e) => errors.push(e),
        }
    }
    (merged, errors)
}

/// The stage root: `local_stage_dir` if set (relative to `cwd`, as upstream), else the
/// default found by discovery.
fn stage_root(
    local_stage_dir: Option<&Path>,
    merged: &Merged,
    cwd: &Path,
    default_root: PathBuf,
    default_origin: StageRootOrigin,
) -> (PathBuf, StageRootOrigin) {
    match local_stage_dir {
        Some(dir) => {
            let key = ["local_stage_dir".to_owned()];
            let file = merged
                .provenance
                .value_files(&key)
                .pop()
                .unwrap_or_default();
            (cwd.join(dir), StageRootOrigin::LocalStageDir { file })
        }
        None => (default_root, default_origin),
    }
}

/// Where the stage root (jobs DB and local stage directories) came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StageRootOrigin {
    /// The top-level `local_stage_dir` set in this file (resolved against the current
    /// directory when relative, as upstream).
    LocalStageDir {
        /// The file that set it last.
        file: PathBuf,
    },
    /// The `EXPYRE_ROOT` directory.
    ExpyreRoot,
    /// The deepest `.expyre`/`_expyre` directory found.
    DeepestConfigDir,
    /// No config directory was found: `$HOME/.expyre` (or `<cwd>/_expyre` without a home),
    /// which the caller creates when it first needs it.
    Default,
}

/// A loaded configuration with its provenance: what `xpr config check` reports.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The validated configuration (only the built-in one when loaded leniently from a config
    /// with problems, see [`LoadedConfig::problems`]).
    pub config: Config,
    /// The merged document as read (before validation), for `xpr config show`.
    pub merged: Map<String, Value>,
    /// The `config.json` files read, in merge order (shallowest first); empty when none was
    /// found and only the built-in config applies.
    pub files: Vec<PathBuf>,
    /// The directories searched, in search order (for messages).
    pub searched: Vec<PathBuf>,
    /// For each system of the config, in config order: the files that defined or changed it,
    /// in merge order (empty for the built-in `local`).
    pub system_sources: Vec<(SystemName, Vec<PathBuf>)>,
    /// The stage root: where the jobs DB and local stage directories live.
    pub stage_root: PathBuf,
    /// Why the stage root is what it is.
    pub stage_root_origin: StageRootOrigin,
    /// Set only by the lenient loaders ([`LoadedConfig::load_lenient`]) when the config files
    /// have problems: what they are. [`LoadedConfig::config`] is then the built-in one, and
    /// asking for any other system or for a profile is an error pointing here.
    pub problems: Option<Arc<ConfigError>>,
}

impl LoadedConfig {
    /// Finds, merges and validates the config for `search` (see [`discover`]).
    pub fn load(search: &ConfigSearch) -> Result<Self, ConfigError> {
        let (found, default_root, default_origin) = Self::find(search)?;
        Self::build(
            &found.files,
            found.searched,
            &search.cwd,
            default_root,
            default_origin,
        )
    }

    /// [`LoadedConfig::load`] for this process's current directory, `$HOME` and `$EXPYRE_ROOT`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(&ConfigSearch::from_env()?)
    }

    /// [`LoadedConfig::load`] for work that needs no configured system (listing the jobs DB,
    /// a task's results, the built-in `local` system): config files with problems do not stop
    /// it. Their problems are kept in [`LoadedConfig::problems`] (for a warning), the config is
    /// the built-in one, and the stage root is found as usual: from the directories found, or
    /// a `local_stage_dir` that the files which do parse set. Errors of discovery itself (an
    /// `EXPYRE_ROOT` that is not a directory, `.expyre` next to `_expyre`) are still errors:
    /// without them the stage root is unknown.
    pub fn load_lenient(search: &ConfigSearch) -> Result<Self, ConfigError> {
        let (found, default_root, default_origin) = Self::find(search)?;
        match Self::build(
            &found.files,
            found.searched.clone(),
            &search.cwd,
            default_root.clone(),
            default_origin.clone(),
        ) {
            Ok(loaded) => Ok(loaded),
            Err(problems) => {
                let (merged, _) = merge_files(&found.files);
                let local_stage_dir = match merged.value.get("local_stage_dir") {
                    Some(Value::String(dir)) => Some(PathBuf::from(dir)),
                    _ => None,
                };
                let (stage_root, stage_root_origin) = stage_root(
                    local_stage_dir.as_deref(),
                    &merged,
                    &search.cwd,
                    default_root,
                    default_origin,
                );
                let config = Config::builtin();
                Ok(Self {
                    system_sources: vec![(config.systems[0].name.clone(), Vec::new())],
                    config,
                    merged: merged.value,
                    files: found.files,
                    searched: found.searched,
                    stage_root,
                    stage_root_origin,
                    problems: Some(Arc::new(problems)),
                })
            }
        }
    }

    /// [`LoadedConfig::load_lenient`] for this process's current directory, `$HOME` and
    /// `$EXPYRE_ROOT`.
    pub fn from_env_lenient() -> Result<Self, ConfigError> {
        Self::load_lenient(&ConfigSearch::from_env()?)
    }

    /// Discovery, and the stage root to use when no `local_stage_dir` is set.
    fn find(search: &ConfigSearch) -> Result<(Discovery, PathBuf, StageRootOrigin), ConfigError> {
        let found = discover(search)?;
        let (default_root, default_origin) = match found.dirs.last() {
            Some(deepest) if found.from_expyre_root => {
                (deepest.clone(), StageRootOrigin::ExpyreRoot)
            }
            Some(deepest) => (deepest.clone(), StageRootOrigin::DeepestConfigDir),
            None => {
                let root = match &search.home {
                    Some(home) => home.join(".expyre"),
                    None => search.cwd.join("_expyre"),
                };
                (root, StageRootOrigin::Default)
            }
        };
        Ok((found, default_root, default_origin))
    }

    /// Merges exactly `files`, in the order given (shallowest first), without any search.
    /// The stage root is `local_stage_dir` if set (relative to `cwd`), else the last file's
    /// directory.
    pub fn from_files(files: &[PathBuf], cwd: &Path) -> Result<Self, ConfigError> {
        let default_root = files
            .last()
            .and_then(|f| f.parent())
            .map(|d| cwd.join(d))
            .unwrap_or_else(|| cwd.to_owned());
        Self::build(
            files,
            Vec::new(),
            cwd,
            default_root,
            StageRootOrigin::DeepestConfigDir,
        )
    }

    fn build(
        files: &[PathBuf],
        searched: Vec<PathBuf>,
        cwd: &Path,
        default_root: PathBuf,
        default_origin: StageRootOrigin,
    ) -> Result<Self, ConfigError> {
        let (merged, unreadable) = merge_files(files);
        // A file that cannot be read leaves the merge incomplete: validating the rest would
        // report problems that are not there (a profile naming a system of the missing file).
        if let Some(err) = ConfigError::from_errors(unreadable) {
            return Err(err);
        }
        let config = if files.is_empty() {
            Config::builtin()
        } else {
            validate::validate(&merged.value, &merged.provenance)?
        };
        let system_sources = config
            .systems
            .iter()
            .map(|s| {
                let path = ["systems".to_owned(), s.name.to_string()];
                let sources = if merged
                    .value
                    .get("systems")
                    .and_then(|v| v.get(s.name.as_str()))
                    .is_some()
                {
                    merged.provenance.object_files(&path)
                } else {
                    Vec::new()
                };
                (s.name.clone(), sources)
            })
            .collect();
        let (stage_root, stage_root_origin) = stage_root(
            config.local_stage_dir.as_deref(),
            &merged,
            cwd,
            default_root,
            default_origin,
        );
        Ok(Self {
            config,
            merged: merged.value,
            files: files.to_vec(),
            searched,
            system_sources,
            stage_root,
            stage_root_origin,
            problems: None,
        })
    }

    /// The error for asking for `what` `name` of a config loaded leniently with problems.
    fn unusable(&self, what: &'static str, name: &str) -> Option<ConfigError> {
        let problems = self.problems.as_ref()?;
        let mut err = ConfigError::new(ConfigErrorKind::Unusable {
            what,
            name: name.to_owned(),
            problems: Arc::clone(problems),
        });
        err.files = self.files.clone();
        Some(err)
    }

    /// The profile called `name`, or an error listing the known ones with a did-you-mean (or,
    /// for a config loaded leniently with problems, pointing to them).
    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        if let Some(err) = self.unusable("profile", name) {
            return Err(err);
        }
        self.config.profile(name).map_err(|mut e| {
            e.files = self.files.clone();
            e
        })
    }

    /// The system called `name`. When it does not exist, the error names the places searched
    /// if no config file was found at all, else lists the known systems with a did-you-mean.
    /// For a config loaded leniently with problems, any system but the built-in `local` is an
    /// error pointing to them.
    pub fn system(&self, name: &str) -> Result<&System, ConfigError> {
        if let Some(system) = self.config.system(name) {
            return Ok(system);
        }
        if let Some(err) = self.unusable("system", name) {
            return Err(err);
        }
        if self.files.is_empty() {
            return Err(ConfigError::new(ConfigErrorKind::NoConfig {
                searched: self.searched.clone(),
            }));
        }
        self.config.require_system(name).map_err(|mut e| {
            e.files = self.files.clone();
            e
        })
    }

    /// The files that defined or changed system `name`, in merge order (empty for the
    /// built-in `local` or an unknown name).
    pub fn system_sources(&self, name: &str) -> &[PathBuf] {
        self.system_sources
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, files)| files.as_slice())
            .unwrap_or(&[])
    }

    /// The remote run directory of `system` for this config's stage root (see
    /// [`remote_rundir`]); `None` when the system has no `rundir` (it runs in the stage
    /// directory). `hostname` is this machine's name (`$HOSTNAME`), if known.
    pub fn remote_rundir(&self, system: &System, hostname: Option<&str>) -> Option<String> {
        let rundir = system.rundir.as_deref()?;
        Some(remote_rundir(
            rundir,
            &self.stage_root,
            self.config.remote_rundir_submit_hostname.as_deref(),
            hostname,
        ))
    }
}

/// The per-project remote run directory `<rundir>/<H>-<P>`, as ExPyRe names it so that several
/// machines and projects can share one remote account.
///
/// - `rundir`: the system's `rundir`, trailing `/` removed.
/// - H: `submit_hostname` (top-level `remote_rundir_submit_hostname`), else `hostname`, else
///   `unknown_host`; empty strings count as absent.
/// - P: the stage root's path with `/` turned into `_`. As upstream does, when the stage root's
///   last component is `.expyre` or `_expyre` its parent is used: `/home/u/proj/_expyre` gives
///   `_home_u_proj`.
pub fn remote_rundir(
    rundir: &str,
    stage_root: &Path,
    submit_hostname: Option<&str>,
    hostname: Option<&str>,
) -> String {
    let host = submit_hostname
        .filter(|h| !h.is_empty())
        .or(hostname.filter(|h| !h.is_empty()))
        .unwrap_or("unknown_host");
    let project = match stage_root.file_name().and_then(|n| n.to_str()) {
        Some(".expyre" | "_expyre") => stage_root.parent().unwrap_or(stage_root),
        _ => stage_root,
    };
    let project = project.to_string_lossy().replace('/', "_");
    let base = rundir.trim_end_matches('/');
    format!("{base}/{host}-{project}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_is_read_in_kb() {
        let text = "MemTotal:       16318504 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(16318504));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }
}
