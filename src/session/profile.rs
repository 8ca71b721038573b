//! Starting a task from a profile: the merge `xpr run --profile P` does, for every caller.
//!
//! A profile (`profiles` in `config.json`, see [`Profile`](crate::config::Profile)) gives the
//! defaults of a run: a system, resources, extra header lines and environment.
//! [`StartRequest::from_profile`] merges them with what the caller chose explicitly
//! ([`TaskOptions`]), and an explicit choice wins:
//!
//! | part | the request gets |
//! |---|---|
//! | system | the explicit one, else the profile's, else the built-in `local` |
//! | resources | the explicit ones, as a whole; else the profile's; else one core |
//! | header lines | the profile's, then the explicit ones (later header lines win in the schedulers' own rules) |
//! | environment | the profile's, then the spec's own, then the explicit ones; a later value of a name replaces the earlier one in its place |
//! | failure analysis ([`ErrorRules`](crate::config::ErrorRules)) | the profile's under the spec's own: patterns and whitelists of both, the spec's threshold and `error_lines_fail` where it sets them ([`ErrorRules::then`](crate::config::ErrorRules::then)); the system's apply under both when the task is judged |
//!
//! No I/O happens here: the system is checked, the inputs are read and the node finder runs
//! when the request is started ([`Session::start`](super::Session::start)).
//!
//! ```
//! # fn demo() -> Result<(), xpr::session::profile::ProfileError> {
//! use xpr::config::LoadedConfig;
//! use xpr::resources::Resources;
//! use xpr::session::StartRequest;
//! use xpr::session::profile::TaskOptions;
//! use xpr::task::TaskSpec;
//!
//! let config = LoadedConfig::from_files(&[], std::path::Path::new("/tmp")).unwrap();
//! let spec = TaskSpec::argv("hello", ["echo", "hello"]);
//! let options = TaskOptions::new()
//!     .resources(Resources::cores(2).with_partial_node(true))
//!     .env("OMP_NUM_THREADS", "2");
//! let request = StartRequest::from_profile(spec, &config, &options)?;
//! assert_eq!(request.system, "local");
//! assert_eq!(request.spec.env, [("OMP_NUM_THREADS".to_owned(), "2".to_owned())]);
//! # Ok(()) }
//! # demo().unwrap();
//! ```

use std::path::PathBuf;

use super::{Retries, StartRequest};

/// The environment variable naming the system of a request that names none (ExPyRe's).
pub const DEFAULT_SYSTEM_VAR: &str = "EXPYRE_SYS";
use crate::config::{BUILTIN_SYSTEM, ConfigError, LoadedConfig};
use crate::resources::{Resources, ResourcesError};
use crate::task::TaskSpec;

/// What a caller chooses for a run beyond the task itself: a profile to start from and
/// explicit choices that win over it. Every part is optional ([`TaskOptions::new`] chooses
/// nothing: `$EXPYRE_SYS` or the built-in `local` system, one core on a partial node for an
/// hour).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOptions {
    /// The profile whose defaults apply, by name.
    pub profile: Option<String>,
    /// The system, by name (wins over the profile's).
    pub system: Option<String>,
    /// The resources (win over the profile's, as a whole).
    pub resources: Option<Resources>,
    /// Environment variables for the command (win over the profile's and the spec's of the
    /// same name).
    pub env: Vec<(String, String)>,
    /// Extra header template lines, after the profile's.
    pub header: Vec<String>,
    /// The directory relative inputs are taken from; default the current directory.
    pub base_dir: Option<PathBuf>,
}

impl TaskOptions {
    /// No choices: the built-in `local` system and one core, unless a profile says otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from the profile `name`.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Runs on system `name`.
    pub fn system(mut self, name: impl Into<String>) -> Self {
        self.system = Some(name.into());
        self
    }

    /// Asks for `resources` instead of the profile's.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = Some(resources);
        self
    }

    /// Sets the environment variable `key` to `value` for the command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds extra header template lines.
    pub fn header<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.header.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Takes relative inputs from `dir`.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The config has no such profile (the error lists the known ones), or it was loaded
    /// leniently and has problems.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The profile's resources do not make a request.
    #[error(
        "profile {profile:?} has invalid resources{} (hint: fix `profiles.{profile}.resources`; \
         `xpr config check` shows the merged config)",
        in_files(files)
    )]
    Resources {
        /// The profile's name.
        profile: String,
        /// The config files read (the profile came from one of them).
        files: Vec<PathBuf>,
        /// What is wrong (boxed to keep `Result<_, ProfileError>` small).
        #[source]
        source: Box<ResourcesError>,
    },
    /// The profile's retry keys do not make retries.
    #[error("profile {profile:?}{}: {why}", in_files(files))]
    Retries {
        /// The profile's name.
        profile: String,
        /// The config files read.
        files: Vec<PathBuf>,
        /// What is wrong, naming the key.
        why: String,
    },
}

fn in_files(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    format!(" in {}", names.join(", "))
}

impl StartRequest {
    /// The request to run `spec` with `options` over the profile they name, if any, from
    /// `config`; see the module docs for how the parts merge.
    pub fn from_profile(
        mut spec: TaskSpec,
        config: &LoadedConfig,
        options: &TaskOptions,
    ) -> Result<StartRequest, ProfileError> {
        let profile = match &options.profile {
            Some(name) => Some(config.profile(name)?),
            None => None,
        };
        let system = options
            .system
            .clone()
            .or_else(|| profile.and_then(|p| p.system.as_ref().map(|s| s.to_string())))
            .or_else(|| {
                std::env::var(DEFAULT_SYSTEM_VAR)
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| BUILTIN_SYSTEM.to_owned());
        // Unknown here is not an error yet: starting the request names it, with the known ones.
        let known = config.config.system(&system);
        let resources = match (&options.resources, profile) {
            (Some(resources), _) => resources.clone(),
            (None, Some(p)) if !p.resources.is_empty() => Resources::from_json_map(&p.resources)
                .map_err(|source| ProfileError::Resources {
                    profile: p.name.clone(),
                    files: config.files.clone(),
                    source: Box::new(source),
                })?,
            (None, _) => Resources::first_run_default(known),
        };
        let resources = match known {
            Some(known) => resources.with_default_time(known),
            None => resources,
        };
        let mut env = profile.map(|p| p.env.clone()).unwrap_or_default();
        for (key, value) in spec.env.drain(..).chain(options.env.iter().cloned()) {
            match env.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => env.push((key, value)),
            }
        }
        spec.env = env;
        if let Some(p) = profile {
            spec.error_rules = p.error_rules.then(&spec.error_rules);
        }
        let header: Vec<String> = profile
            .map(|p| p.header.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(options.header.iter().cloned())
            .collect();
        let mut request = StartRequest::new(spec, system, resources).with_extra_header(header);
        if let Some(dir) = &options.base_dir {
            request = request.with_base_dir(dir.clone());
        }
        if let Some(p) = profile.filter(|p| !p.retries.is_empty()) {
            let retries = Retries::from_defaults(&p.retries, &format!("profiles.{}", p.name))
                .map_err(|why| ProfileError::Retries {
                    profile: p.name.clone(),
                    files: config.files.clone(),
                    why,
                })?;
            request = request.with_retries(retries);
        }
        Ok(request)
    }
}
