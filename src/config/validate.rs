//! Turning a merged config document into typed [`Config`] values, checking every key.
//!
//! The walk is by hand rather than through serde derive so that every error knows its JSON
//! path and, through [`Provenance`], the file the value came from; unknown keys get a
//! did-you-mean from the keys accepted at that place. Every problem is reported, not only the
//! first: the walk records one and goes on to the next value (a misspelt required key is one
//! problem, reported as the unknown key with its did-you-mean, not also as a missing key).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::SchedulerKind;
use super::error::{ConfigError, ConfigErrorKind, JsonPath, suggest};
use super::merge::Provenance;
use super::{BUILTIN_SYSTEM, Config, ErrorRules, Partition, Profile, RetryDefaults, System};
use crate::ids::SystemName;
use crate::units::{parse_mem, parse_time};

/// Keys accepted at the top level.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "systems",
    "local_stage_dir",
    "remote_rundir_submit_hostname",
    "profiles",
];
/// Keys accepted in a system.
pub const SYSTEM_KEYS: &[&str] = &[
    "host",
    "scheduler",
    "partitions",
    "queues",
    "header",
    "no_default_header",
    "script_exec",
    "pre_submit_cmds",
    "commands",
    "rundir",
    "remsh_cmd",
    "resource_lines",
    "max_queued",
    "max_array_size",
    "poll_interval",
    "vanish_timeout",
    "default_max_time",
    "directives_skip",
    "job_name_prefix",
    "max_retries",
    "retry_on",
    "retry_time_factor",
    "retry_mem_factor",
    "error_patterns",
    "error_whitelist",
    "whitelist_threshold",
    "error_lines_fail",
];
/// Keys accepted in a partition.
pub const PARTITION_KEYS: &[&str] = &[
    "num_cores",
    "ncores",
    "max_time",
    "max_mem",
    "header",
    "partition",
];
/// Keys accepted in a profile (xpr's addition).
pub const PROFILE_KEYS: &[&str] = &[
    "system",
    "resources",
    "header",
    "env",
    "description",
    "max_retries",
    "retry_on",
    "retry_time_factor",
    "retry_mem_factor",
    "error_patterns",
    "error_whitelist",
    "whitelist_threshold",
    "error_lines_fail",
];
/// Keys accepted in a profile's `resources` (ExPyRe's resource dict, current and older names,
/// and xpr's `gpus` and `account`).
/// Only the names are checked here; the resources module checks the values.
pub const RESOURCE_KEYS: &[&str] = &[
    "max_time",
    "num_nodes",
    "num_cores",
    "max_mem_tot",
    "max_mem_per_core",
    "partitions",
    "exact_fit",
    "partial_node",
    "n",
    "ncores_per_task",
    "max_mem_per_task",
    "gpus",
    "account",
];

/// The default `rundir` of a system with a `host`.
pub const DEFAULT_RUNDIR: &str = "run_expyre";
/// The default `script_exec`.
pub const DEFAULT_SCRIPT_EXEC: &str = "/bin/bash";

/// Validates a merged document, reporting every problem found at once: the error of a config
/// with several problems holds one error per problem ([`ConfigError::errors`]), in document
/// order.
pub(crate) fn validate(doc: &Map<String, Value>, prov: &Provenance) -> Result<Config, ConfigError> {
    let mut validator = Validator {
        prov,
        errors: Vec::new(),
    };
    let config = validator.config(doc);
    match ConfigError::from_errors(validator.errors) {
        Some(err) => Err(err),
        None => Ok(config),
    }
}

/// The walk over a merged document. Each value is checked on its own: a problem is recorded
/// and the walk goes on to the next value, so that one run of `xpr config check` lists every
/// problem. A system, partition or profile with a problem is left out of the result, which is
/// then discarded anyway.
struct Validator<'a> {
    prov: &'a Provenance,
    /// The problems found so far, in document order.
    errors: Vec<ConfigError>,
}

type Obj = Map<String, Value>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Validator<'_> {
    /// An error about the value at `path`.
    fn err(&self, path: &JsonPath, kind: ConfigErrorKind) -> ConfigError {
        ConfigError::at(self.prov.value_files(path.keys()), path.clone(), kind)
    }

    /// An error about the object at `path` as a whole (e.g. a key missing from it).
    fn obj_err(&self, path: &JsonPath, kind: ConfigErrorKind) -> ConfigError {
        ConfigError::at(self.prov.object_files(path.keys()), path.clone(), kind)
    }

    fn wrong_type(&self, path: &JsonPath, expected: &'static str, v: &Value) -> ConfigError {
        self.err(
            path,
            ConfigErrorKind::WrongType {
                expected,
                found: type_name(v),
            },
        )
    }

    fn invalid(&self, path: &JsonPath, v: &Value, why: impl Into<String>) -> ConfigError {
        self.err(
            path,
            ConfigErrorKind::InvalidValue {
                value: v.to_string(),
                why: why.into(),
            },
        )
    }

    /// Records the error of `result`, if any: the walk goes on either way.
    fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.errors.push(err);
                None
            }
        }
    }

    fn object<'v>(&self, v: &'v Value, path: &JsonPath) -> Result<&'v Obj, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.wrong_type(path, "an object", v))
    }

    /// Records every key of `map` that is not in `accepted`.
    fn check_keys(&mut self, map: &Obj, path: &JsonPath, accepted: &[&'static str]) {
        for key in map.keys() {
            if !accepted.contains(&key.as_str()) {
                let err = self.err(
                    &path.join(key),
                    ConfigErrorKind::UnknownKey {
                        key: key.clone(),
                        suggestion: suggest(key, accepted.iter().copied()),
                        accepted: accepted.to_vec(),
                    },
                );
                self.errors.push(err);
            }
        }
    }

    /// Records that `key` is missing from the object at `path`, unless the object has a key
    /// whose did-you-mean is `key`: that misspelling is already reported, and one mistake gets
    /// one message.
    fn missing(
        &mut self,
        map: &Obj,
        path: &JsonPath,
        key: &'static str,
        accepted: &[&'static str],
        hint: Option<&'static str>,
    ) {
        let misspelt = map.keys().any(|k| {
            !accepted.contains(&k.as_str())
                && suggest(k, accepted.iter().copied()).as_deref() == Some(key)
        });
        if !misspelt {
            let err = self.obj_err(path, ConfigErrorKind::MissingKey { key, hint });
            self.errors.push(err);
        }
    }

    /// The value of a required key; `None` (recorded) when it is absent.
    fn required<'v>(
        &mut self,
        map: &'v Obj,
        key: &'static str,
        path: &JsonPath,
        accepted: &[&'static str],
        hint: Option<&'static str>,
    ) -> Option<&'v Value> {
        let value = map.get(key);
        if value.is_none() {
            self.missing(map, path, key, accepted, hint);
        }
        value
    }

    /// An optional string: absent or `null` is `None`.
    fn opt_string(
        &self,
        map: &Obj,
        key: &str,
        path: &JsonPath,
    ) -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong_type(&path.join(key), "a string or null", v)),
        }
    }

    /// A list of strings: absent is empty.
    fn string_list(
        &self,
        map: &Obj,
        key: &str,
        path: &JsonPath,
    ) -> Result<Vec<String>, ConfigError> {
        let Some(v) = map.get(key) else {
            return Ok(Vec::new());
        };
        let path = path.join(key);
        let items = v
            .as_array()
            .ok_or_else(|| self.wrong_type(&path, "a list of strings", v))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong_type(&path.join(&i.to_string()), "a string", item))
            })
            .collect()
    }

    fn config(&mut self, doc: &Obj) -> Config {
        let root = JsonPath::root();
        self.check_keys(doc, &root, TOP_LEVEL_KEYS);
        let mut systems = Vec::new();
        // Every system the document names, valid or not: a profile naming a system that has
        // problems of its own is not reported a second time.
        let mut system_names: Vec<String> = Vec::new();
        let systems_v = self.required(
            doc,
            "systems",
            &root,
            TOP_LEVEL_KEYS,
            Some("a config needs `\"systems\": {\"name\": {...}}`"),
        );
        if let Some(systems_v) = systems_v {
            let systems_path = root.join("systems");
            if let Some(systems_map) = self.keep(self.object(systems_v, &systems_path)) {
                for (name, v) in systems_map {
                    system_names.push(name.clone());
                    if let Some(system) = self.system(name, v, &systems_path.join(name)) {
                        systems.push(system);
                    }
                }
            }
        }
        // The built-in `local` comes first unless the config defines its own.
        if !system_names.iter().any(|n| n == BUILTIN_SYSTEM) {
            systems.insert(0, super::builtin_local_system());
            system_names.insert(0, BUILTIN_SYSTEM.to_owned());
        }

        let local_stage_dir = self
            .keep(self.opt_string(doc, "local_stage_dir", &root))
            .flatten()
            .map(PathBuf::from);
        let remote_rundir_submit_hostname = self
            .keep(self.opt_string(doc, "remote_rundir_submit_hostname", &root))
            .flatten();
        let mut profiles = Vec::new();
        if let Some(v) = doc.get("profiles") {
            let path = root.join("profiles");
            if let Some(map) = self.keep(self.object(v, &path)) {
                for (name, pv) in map {
                    if let Some(profile) = self.profile(name, pv, &path.join(name), &system_names) {
                        profiles.push(profile);
                    }
                }
            }
        }
        Config {
            systems,
            local_stage_dir,
            remote_rundir_submit_hostname,
            profiles,
        }
    }

    fn system(&mut self, name: &str, v: &Value, path: &JsonPath) -> Option<System> {
        let before = self.errors.len();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            let err = self.invalid(
                path,
                &Value::String(name.to_owned()),
                "a system name must be non-empty, without whitespace or `/`",
            );
            self.errors.push(err);
        }
        let map = self.keep(self.object(v, path))?;
        self.check_keys(map, path, SYSTEM_KEYS);

        let host = match self.required(
            map,
            "host",
            path,
            SYSTEM_KEYS,
            Some("write `\"host\": null` for this machine, or `\"host\": \"user@login.example.org\"`"),
        ) {
            Some(v) => self.keep(self.host(v, &path.join("host"))),
            None => None,
        };
        let scheduler = match self.required(
            map,
            "scheduler",
            path,
            SYSTEM_KEYS,
            Some("one of slurm, pbs, sge, lsf, local"),
        ) {
            Some(v) => self.keep(self.scheduler(v, &path.join("scheduler"))),
            None => None,
        };
        let partitions = self.partitions(map, path);
        let no_default_header = self.keep(self.flag(map, "no_default_header", path));
        let resource_lines = self.keep(self.flag(map, "resource_lines", path));
        let max_queued = self.keep(self.opt_positive(map, "max_queued", path));
        let max_array_size = self.keep(self.opt_positive(map, "max_array_size", path));
        let poll_interval = self.keep(self.opt_interval(map, "poll_interval", path));
        let vanish_timeout = self.keep(self.opt_interval(map, "vanish_timeout", path));
        let default_max_time = self.keep(self.opt_interval(map, "default_max_time", path));
        let script_exec = self.keep(self.opt_string(map, "script_exec", path));
        let rundir = self.keep(self.opt_string(map, "rundir", path));
        if let Some(Some(empty)) = &rundir
            && empty.is_empty()
        {
            let err = self.invalid(
                &path.join("rundir"),
                &Value::String(String::new()),
                "an empty rundir (hint: leave it out for the default `run_expyre`)",
            );
            self.errors.push(err);
        }
        let header = self.keep(self.string_list(map, "header", path));
        let pre_submit_cmds = self.keep(self.string_list(map, "pre_submit_cmds", path));
        let commands = self.keep(self.string_list(map, "commands", path));
        let directives_skip = self.keep(self.string_list(map, "directives_skip", path));
        let job_name_prefix = self.keep(self.opt_string(map, "job_name_prefix", path));
        if let Some(Some(prefix)) = &job_name_prefix
            && !is_job_name_prefix(prefix)
        {
            let err = self.invalid(
                &path.join("job_name_prefix"),
                &map["job_name_prefix"],
                "expected 1 to 32 letters, digits, `_`, `-` or `.`, starting with a letter \
                 (every scheduler takes such a job name)",
            );
            self.errors.push(err);
        }
        if let Some(skips) = &directives_skip
            && skips.iter().any(String::is_empty)
        {
            let err = self.invalid(
                &path.join("directives_skip"),
                &map["directives_skip"],
                "an empty string would drop every line (hint: leave it out)",
            );
            self.errors.push(err);
        }
        let remsh_cmd = self.keep(self.opt_string(map, "remsh_cmd", path));
        if let (Some(true), Some(SchedulerKind::Pbs), Some(header), Some(partitions)) =
            (resource_lines, scheduler, &header, &partitions)
        {
            let key = if map.contains_key("queues") {
                "queues"
            } else {
                "partitions"
            };
            self.own_pbs_select(header, partitions, &path.join(key), &path.join("header"));
        }
        let error_rules = self.error_rules(map, path);
        let retries = self.retry_defaults(map, path);

        if self.errors.len() > before {
            return None;
        }
        let host = host?;
        let rundir = rundir?.or_else(|| host.as_ref().map(|_| DEFAULT_RUNDIR.to_owned()));
        Some(System {
            name: SystemName::new(name),
            host,
            scheduler: scheduler?,
            partitions: partitions?,
            header: header?,
            no_default_header: no_default_header?,
            script_exec: script_exec?.unwrap_or_else(|| DEFAULT_SCRIPT_EXEC.to_owned()),
            pre_submit_cmds: pre_submit_cmds?,
            commands: commands?,
            rundir,
            remsh_cmd: remsh_cmd?,
            resource_lines: resource_lines?,
            max_queued: max_queued?,
            max_array_size: max_array_size?,
            poll_interval: poll_interval?,
            vanish_timeout: vanish_timeout?,
            default_max_time: default_max_time?.map(|t| t.as_secs()),
            directives_skip: directives_skip?,
            job_name_prefix: job_name_prefix?,
            error_rules: error_rules?,
            retries: retries?,
        })
    }

    /// The retry keys of a system or profile (see [`RetryDefaults`]): a whole number of
    /// retries, a list of class names (the session checks the names), factors above 1.
    fn retry_defaults(&mut self, map: &Obj, path: &JsonPath) -> Option<RetryDefaults> {
        let max_retries = match map.get("max_retries") {
            None | Some(Value::Null) => Some(None),
            Some(v) => {
                let checked = v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        self.wrong_type(&path.join("max_retries"), "a whole number >= 0", v)
                    });
                self.keep(checked)
            }
        };
        let retry_on = self.keep(self.string_list(map, "retry_on", path));
        let mut factor = |key: &str| match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => {
                let checked = match v.as_f64() {
                    Some(f) if f > 1.0 && f.is_finite() => Ok(Some(f)),
                    _ => Err(self.invalid(
                        &path.join(key),
                        v,
                        "expected a number above 1 (hint: 2 doubles it)",
                    )),
                };
                self.keep(checked)
            }
        };
        let time_factor = factor("retry_time_factor");
        let mem_factor = factor("retry_mem_factor");
        Some(RetryDefaults {
            max_retries: max_retries?,
            retry_on: retry_on?,
            time_factor: time_factor?,
            mem_factor: mem_factor?,
        })
    }

    /// The failure analysis keys of a system or profile (see [`ErrorRules`]): patterns that
    /// compile, a threshold of at least 1.
    fn error_rules(&mut self, map: &Obj, path: &JsonPath) -> Option<ErrorRules> {
        let error_patterns = self.keep(self.string_list(map, "error_patterns", path));
        let error_whitelist = self.keep(self.string_list(map, "error_whitelist", path));
        let whitelist_threshold = match map.get("whitelist_threshold") {
            None | Some(Value::Null) => Some(None),
            Some(v) => {
                let tpath = path.join("whitelist_threshold");
                let checked = match v.as_u64() {
                    Some(n) if n >= 1 => u32::try_from(n)
                        .map(Some)
                        .map_err(|_| self.invalid(&tpath, v, "too large a threshold")),
                    Some(_) => Err(self.invalid(
                        &tpath,
                        v,
                        "a threshold of 0 would whitelist every line (hint: 1 or more; 3 is \
                         housekeeper's default)",
                    )),
                    None => Err(self.wrong_type(&tpath, "a positive integer", v)),
                };
                self.keep(checked)
            }
        };
        let error_lines_fail = match map.get("error_lines_fail") {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(v) => {
                let err = self.wrong_type(&path.join("error_lines_fail"), "a boolean", v);
                self.keep(Err(err))
            }
        };
        let mut bad_pattern = false;
        for (i, pattern) in error_patterns.iter().flatten().enumerate() {
            if let Err(e) = super::compile_pattern(pattern) {
                let ppath = path.join("error_patterns").join(&i.to_string());
                let err = self.invalid(
                    &ppath,
                    &Value::String(pattern.clone()),
                    format!(
                        "not a regular expression: {}",
                        super::pattern_error_text(&e)
                    ),
                );
                self.errors.push(err);
                bad_pattern = true;
            }
        }
        if bad_pattern {
            return None;
        }
        Some(ErrorRules {
            error_patterns: error_patterns?,
            error_whitelist: error_whitelist?,
            whitelist_threshold: whitelist_threshold?,
            error_lines_fail: error_lines_fail?,
        })
    }

    /// Records a `#PBS ... select=` line of the system's or a partition's header on a PBS
    /// system with `resource_lines`: its resource line is the job's `select=` (PBS takes one),
    /// so a second one would either be refused or silently replace it.
    fn own_pbs_select(
        &mut self,
        header: &[String],
        partitions: &[Partition],
        partitions_path: &JsonPath,
        header_path: &JsonPath,
    ) {
        let is_select = |line: &String| line.starts_with("#PBS") && line.contains("select=");
        let mut found = header
            .iter()
            .position(is_select)
            .map(|i| (header_path.join(&i.to_string()), &header[i]));
        for p in partitions {
            if found.is_some() {
                break;
            }
            found = p.header.iter().position(is_select).map(|i| {
                let at = partitions_path.join(&p.name).join("header");
                (at.join(&i.to_string()), &p.header[i])
            });
        }
        if let Some((at, line)) = found {
            let err = self.invalid(
                &at,
                &Value::String(line.clone()),
                "with `\"resource_lines\": true` xpr writes the job's `#PBS -l select=` line \
                 itself (nodes, ncpus, mpiprocs, and mem / ngpus when asked), and PBS takes one \
                 select (hint: remove this line, or set resource_lines to false and use \
                 {mem_per_node} / {gpus} in your own)",
            );
            self.errors.push(err);
        }
    }

    /// An optional whole number of at least 1: absent is `None`.
    fn opt_positive(
        &self,
        map: &Obj,
        key: &str,
        path: &JsonPath,
    ) -> Result<Option<u32>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if n >= 1 => Ok(Some(n)),
                _ => Err(self.invalid(
                    &path.join(key),
                    v,
                    "expected a whole number of at least 1 (hint: leave it out for no limit)",
                )),
            },
        }
    }

    /// An optional interval of at least a second: seconds, or a time like `"2m"`.
    fn opt_interval(
        &self,
        map: &Obj,
        key: &str,
        path: &JsonPath,
    ) -> Result<Option<Duration>, ConfigError> {
        let path = path.join(key);
        match self.max_time(map.get(key), &path)? {
            None => Ok(None),
            Some(0) => Err(self.invalid(
                &path,
                &map[key],
                "expected at least one second (hint: leave it out for xpr's default)",
            )),
            Some(secs) => Ok(Some(Duration::from_secs(secs))),
        }
    }

    /// An optional boolean: absent is false.
    fn flag(&self, map: &Obj, key: &str, path: &JsonPath) -> Result<bool, ConfigError> {
        match map.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.wrong_type(&path.join(key), "a boolean", v)),
        }
    }

    fn host(&self, v: &Value, path: &JsonPath) -> Result<Option<String>, ConfigError> {
        match v {
            Value::Null => Ok(None),
            Value::String(h) => {
                // The host goes on an ssh command line: a leading `-` would be read as an option.
                if h.is_empty() || h.starts_with('-') || h.chars().any(char::is_whitespace) {
                    return Err(self.invalid(
                        path,
                        v,
                        "a host is `[user@]hostname`: non-empty, no whitespace, not starting \
                         with `-` (hint: use null for this machine)",
                    ));
                }
                Ok(Some(h.clone()))
            }
            other => Err(self.wrong_type(path, "a string or null", other)),
        }
    }

    fn scheduler(&self, v: &Value, path: &JsonPath) -> Result<SchedulerKind, ConfigError> {
        let name = v
            .as_str()
            .ok_or_else(|| self.wrong_type(path, "a string", v))?;
        SchedulerKind::from_name(name).ok_or_else(|| {
            let accepted: Vec<&'static str> =
                SchedulerKind::ALL.iter().map(|k| k.as_str()).collect();
            self.err(
                path,
                ConfigErrorKind::UnknownScheduler {
                    value: name.to_owned(),
                    suggestion: suggest(name, accepted.iter().copied()),
                    accepted,
                },
            )
        })
    }

    /// The system's `partitions` (or `queues`), each partition checked on its own.
    fn partitions(&mut self, map: &Obj, path: &JsonPath) -> Option<Vec<Partition>> {
        let (part_key, part_v) = match (map.get("partitions"), map.get("queues")) {
            (Some(_), Some(_)) => {
                let err = self.obj_err(
                    path,
                    ConfigErrorKind::BothSynonyms {
                        first: "partitions",
                        second: "queues",
                    },
                );
                return self.keep(Err(err));
            }
            (Some(v), None) => ("partitions", v),
            (None, Some(v)) => ("queues", v),
            (None, None) => {
                self.missing(
                    map,
                    path,
                    "partitions",
                    SYSTEM_KEYS,
                    Some(
                        "list the partitions (or `queues`) as `{\"name\": {\"num_cores\": N, \
                         \"max_time\": ..., \"max_mem\": ...}}`, or null",
                    ),
                );
                return None;
            }
        };
        let part_path = path.join(part_key);
        match part_v {
            Value::Null => Some(Vec::new()),
            Value::Object(parts) => Some(
                parts
                    .iter()
                    .filter_map(|(pname, pv)| self.partition(pname, pv, &part_path.join(pname)))
                    .collect(),
            ),
            other => {
                let err = self.wrong_type(&part_path, "an object or null", other);
                self.keep(Err(err))
            }
        }
    }

    fn partition(&mut self, name: &str, v: &Value, path: &JsonPath) -> Option<Partition> {
        let before = self.errors.len();
        let map = self.keep(self.object(v, path))?;
        self.check_keys(map, path, PARTITION_KEYS);

        let num_cores = match (map.get("num_cores"), map.get("ncores")) {
            (Some(_), Some(_)) => {
                let err = self.obj_err(
                    path,
                    ConfigErrorKind::BothSynonyms {
                        first: "num_cores",
                        second: "ncores",
                    },
                );
                self.keep(Err(err))
            }
            (Some(v), None) => self.keep(self.num_cores(v, &path.join("num_cores"))),
            (None, Some(v)) => self.keep(self.num_cores(v, &path.join("ncores"))),
            (None, None) => {
                self.missing(
                    map,
                    path,
                    "num_cores",
                    PARTITION_KEYS,
                    Some("cores per node, e.g. `\"num_cores\": 128`"),
                );
                None
            }
        };
        let max_time = self.keep(self.max_time(map.get("max_time"), &path.join("max_time")));
        let max_mem = self.keep(self.max_mem(map.get("max_mem"), &path.join("max_mem")));
        let partition =
            self.keep(self.scheduler_name(map.get("partition"), &path.join("partition")));
        let header = self.keep(self.string_list(map, "header", path));
        if self.errors.len() > before {
            return None;
        }
        Some(Partition {
            name: name.to_owned(),
            num_cores: num_cores?,
            max_time: max_time?,
            max_mem: max_mem?,
            header: header?,
            partition: partition?,
        })
    }

    fn num_cores(&self, v: &Value, path: &JsonPath) -> Result<u32, ConfigError> {
        match v.as_u64() {
            Some(n) if n > 0 => {
                u32::try_from(n).map_err(|_| self.invalid(path, v, "too many cores per node"))
            }
            Some(_) => Err(self.invalid(path, v, "cores per node must be at least 1")),
            None => Err(self.wrong_type(path, "a positive integer", v)),
        }
    }

    fn max_time(&self, v: Option<&Value>, path: &JsonPath) -> Result<Option<u64>, ConfigError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(_)) => {
                Ok(Some(v.as_u64().ok_or_else(|| {
                    self.invalid(path, v, "seconds must be a whole number >= 0")
                })?))
            }
            Some(Value::String(s)) => {
                parse_time(s).map_err(|source| self.err(path, ConfigErrorKind::BadUnit { source }))
            }
            Some(v) => Err(self.wrong_type(
                path,
                "null, integer seconds or a string like \"48h\" or \"2-00:00:00\"",
                v,
            )),
        }
    }

    fn max_mem(&self, v: Option<&Value>, path: &JsonPath) -> Result<Option<u64>, ConfigError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(_)) => {
                Ok(Some(v.as_u64().ok_or_else(|| {
                    self.invalid(path, v, "kB must be a whole number >= 0")
                })?))
            }
            Some(Value::String(s)) => parse_mem(s)
                .map(Some)
                .map_err(|source| self.err(path, ConfigErrorKind::BadUnit { source })),
            Some(v) => Err(self.wrong_type(path, "null, integer kB or a string like \"256GB\"", v)),
        }
    }

    /// A partition's `partition` key: the scheduler's own name for it.
    fn scheduler_name(
        &self,
        v: Option<&Value>,
        path: &JsonPath,
    ) -> Result<Option<String>, ConfigError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(v @ Value::String(_)) => Err(self.invalid(path, v, "an empty partition name")),
            Some(v) => Err(self.wrong_type(path, "a string", v)),
        }
    }

    fn profile(
        &mut self,
        name: &str,
        v: &Value,
        path: &JsonPath,
        system_names: &[String],
    ) -> Option<Profile> {
        let before = self.errors.len();
        let map = self.keep(self.object(v, path))?;
        self.check_keys(map, path, PROFILE_KEYS);
        let system =
            self.keep(self.profile_system(map.get("system"), &path.join("system"), system_names));
        let resources = match map.get("resources") {
            None => Some(Map::new()),
            Some(v) => {
                let rpath = path.join("resources");
                let r = self.keep(self.object(v, &rpath));
                if let Some(r) = r {
                    self.check_keys(r, &rpath, RESOURCE_KEYS);
                }
                r.cloned()
            }
        };
        let mut env = Vec::new();
        if let Some(v) = map.get("env") {
            let epath = path.join("env");
            if let Some(vars) = self.keep(self.object(v, &epath)) {
                for (key, value) in vars {
                    if let Some(value) = self.keep(self.env_var(key, value, &epath.join(key))) {
                        env.push((key.clone(), value));
                    }
                }
            }
        }
        let header = self.keep(self.string_list(map, "header", path));
        let description = self.keep(self.opt_string(map, "description", path));
        let error_rules = self.error_rules(map, path);
        let retries = self.retry_defaults(map, path);
        if self.errors.len() > before {
            return None;
        }
        Some(Profile {
            name: name.to_owned(),
            system: system?,
            resources: resources?,
            header: header?,
            env,
            description: description?,
            error_rules: error_rules?,
            retries: retries?,
        })
    }

    /// A profile's `system`: one the document defines.
    fn profile_system(
        &self,
        v: Option<&Value>,
        path: &JsonPath,
        system_names: &[String],
    ) -> Result<Option<SystemName>, ConfigError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if !system_names.iter().any(|n| n == s) {
                    return Err(self.err(
                        path,
                        ConfigErrorKind::UnknownSystem {
                            name: s.clone(),
                            suggestion: suggest(s, system_names.iter().map(String::as_str)),
                            known: system_names.to_vec(),
                        },
                    ));
                }
                Ok(Some(SystemName::new(s.as_str())))
            }
            Some(v) => Err(self.wrong_type(path, "a string", v)),
        }
    }

    /// One entry of a profile's `env`: a valid shell name with a string value.
    fn env_var(&self, key: &str, value: &Value, path: &JsonPath) -> Result<String, ConfigError> {
        let valid_name = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(self.invalid(
                path,
                &Value::String(key.to_owned()),
                "an environment variable name is letters, digits and `_`, not starting with a \
                 digit",
            ));
        }
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong_type(path, "a string", value))
    }
}

/// A `job_name_prefix` every scheduler takes in a job name (PBS wants a letter first).
fn is_job_name_prefix(prefix: &str) -> bool {
    (1..=32).contains(&prefix.len())
        && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
