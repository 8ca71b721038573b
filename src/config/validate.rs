//! Turning a merged config document into typed [`Config`] values, checking every key.
//!
//! The walk is by hand rather than through serde derive so that every error knows its JSON
//! path and, through [`Provenance`], the file the value came from; unknown keys get a
//! did-you-mean from the keys accepted at that place.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::SchedulerKind;
use super::error::{ConfigError, ConfigErrorKind, JsonPath, suggest};
use super::merge::Provenance;
use super::{BUILTIN_SYSTEM, Config, Partition, Profile, System};
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
pub const PROFILE_KEYS: &[&str] = &["system", "resources", "header", "env", "description"];
/// Keys accepted in a profile's `resources` (ExPyRe's resource dict, current and older names).
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
];

/// The default `rundir` of a system with a `host`.
pub const DEFAULT_RUNDIR: &str = "run_expyre";
/// The default `script_exec`.
pub const DEFAULT_SCRIPT_EXEC: &str = "/bin/bash";

/// Validates a merged document.
pub(crate) fn validate(doc: &Map<String, Value>, prov: &Provenance) -> Result<Config, ConfigError> {
    Validator { prov }.config(doc)
}

struct Validator<'a> {
    prov: &'a Provenance,
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

    fn object<'v>(&self, v: &'v Value, path: &JsonPath) -> Result<&'v Obj, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.wrong_type(path, "an object", v))
    }

    fn check_keys(
        &self,
        map: &Obj,
        path: &JsonPath,
        accepted: &[&'static str],
    ) -> Result<(), ConfigError> {
        for key in map.keys() {
            if !accepted.contains(&key.as_str()) {
                return Err(self.err(
                    &path.join(key),
                    ConfigErrorKind::UnknownKey {
                        key: key.clone(),
                        suggestion: suggest(key, accepted.iter().copied()),
                        accepted: accepted.to_vec(),
                    },
                ));
            }
        }
        Ok(())
    }

    fn required<'v>(
        &self,
        map: &'v Obj,
        key: &'static str,
        path: &JsonPath,
        hint: Option<&'static str>,
    ) -> Result<&'v Value, ConfigError> {
        map.get(key)
            .ok_or_else(|| self.obj_err(path, ConfigErrorKind::MissingKey { key, hint }))
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

    fn config(&self, doc: &Obj) -> Result<Config, ConfigError> {
        let root = JsonPath::root();
        self.check_keys(doc, &root, TOP_LEVEL_KEYS)?;
        let systems_v = self.required(
            doc,
            "systems",
            &root,
            Some("a config needs `\"systems\": {\"name\": {...}}`"),
        )?;
        let systems_path = root.join("systems");
        let systems_map = self.object(systems_v, &systems_path)?;
        let mut systems = Vec::with_capacity(systems_map.len() + 1);
        for (name, v) in systems_map {
            systems.push(self.system(name, v, &systems_path.join(name))?);
        }
        // The built-in `local` comes first unless the config defines its own.
        if !systems.iter().any(|s| s.name.as_str() == BUILTIN_SYSTEM) {
            systems.insert(0, super::builtin_local_system());
        }

        let local_stage_dir = self
            .opt_string(doc, "local_stage_dir", &root)?
            .map(PathBuf::from);
        let remote_rundir_submit_hostname =
            self.opt_string(doc, "remote_rundir_submit_hostname", &root)?;
        let mut profiles = Vec::new();
        if let Some(v) = doc.get("profiles") {
            let path = root.join("profiles");
            for (name, pv) in self.object(v, &path)? {
                profiles.push(self.profile(name, pv, &path.join(name), &systems)?);
            }
        }
        Ok(Config {
            systems,
            local_stage_dir,
            remote_rundir_submit_hostname,
            profiles,
        })
    }

    fn system(&self, name: &str, v: &Value, path: &JsonPath) -> Result<System, ConfigError> {
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(self.invalid(
                path,
                &Value::String(name.to_owned()),
                "a system name must be non-empty, without whitespace or `/`",
            ));
        }
        let map = self.object(v, path)?;
        self.check_keys(map, path, SYSTEM_KEYS)?;

        let host_v = self.required(
            map,
            "host",
            path,
            Some("write `\"host\": null` for this machine, or `\"host\": \"user@login.example.org\"`"),
        )?;
        let host = match host_v {
            Value::Null => None,
            Value::String(h) => {
                // The host goes on an ssh command line: a leading `-` would be read as an option.
                if h.is_empty() || h.starts_with('-') || h.chars().any(char::is_whitespace) {
                    return Err(self.invalid(
                        &path.join("host"),
                        host_v,
                        "a host is `[user@]hostname`: non-empty, no whitespace, not starting \
                         with `-` (hint: use null for this machine)",
                    ));
                }
                Some(h.clone())
            }
            other => return Err(self.wrong_type(&path.join("host"), "a string or null", other)),
        };

        let sched_v = self.required(
            map,
            "scheduler",
            path,
            Some("one of slurm, pbs, sge, lsf, local"),
        )?;
        let sched_path = path.join("scheduler");
        let sched_name = sched_v
            .as_str()
            .ok_or_else(|| self.wrong_type(&sched_path, "a string", sched_v))?;
        let scheduler = SchedulerKind::from_name(sched_name).ok_or_else(|| {
            let accepted: Vec<&'static str> =
                SchedulerKind::ALL.iter().map(|k| k.as_str()).collect();
            self.err(
                &sched_path,
                ConfigErrorKind::UnknownScheduler {
                    value: sched_name.to_owned(),
                    suggestion: suggest(sched_name, accepted.iter().copied()),
                    accepted,
                },
            )
        })?;

        let (part_key, part_v) = match (map.get("partitions"), map.get("queues")) {
            (Some(_), Some(_)) => {
                return Err(self.obj_err(
                    path,
                    ConfigErrorKind::BothSynonyms {
                        first: "partitions",
                        second: "queues",
                    },
                ));
            }
            (Some(v), None) => ("partitions", v),
            (None, Some(v)) => ("queues", v),
            (None, None) => {
                return Err(self.obj_err(
                    path,
                    ConfigErrorKind::MissingKey {
                        key: "partitions",
                        hint: Some(
                            "list the partitions (or `queues`) as `{\"name\": {\"num_cores\": N, \
                             \"max_time\": ..., \"max_mem\": ...}}`, or null",
                        ),
                    },
                ));
            }
        };
        let part_path = path.join(part_key);
        let partitions = match part_v {
            Value::Null => Vec::new(),
            Value::Object(parts) => parts
                .iter()
                .map(|(pname, pv)| self.partition(pname, pv, &part_path.join(pname)))
                .collect::<Result<_, _>>()?,
            other => return Err(self.wrong_type(&part_path, "an object or null", other)),
        };

        let no_default_header = match map.get("no_default_header") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(self.wrong_type(&path.join("no_default_header"), "a boolean", v));
            }
        };
        let script_exec = self
            .opt_string(map, "script_exec", path)?
            .unwrap_or_else(|| DEFAULT_SCRIPT_EXEC.to_owned());
        let rundir = self
            .opt_string(map, "rundir", path)?
            .or_else(|| host.as_ref().map(|_| DEFAULT_RUNDIR.to_owned()));
        if rundir.as_deref() == Some("") {
            return Err(self.invalid(
                &path.join("rundir"),
                &Value::String(String::new()),
                "an empty rundir (hint: leave it out for the default `run_expyre`)",
            ));
        }

        Ok(System {
            name: SystemName::new(name),
            host,
            scheduler,
            partitions,
            header: self.string_list(map, "header", path)?,
            no_default_header,
            script_exec,
            pre_submit_cmds: self.string_list(map, "pre_submit_cmds", path)?,
            commands: self.string_list(map, "commands", path)?,
            rundir,
            remsh_cmd: self.opt_string(map, "remsh_cmd", path)?,
        })
    }

    fn partition(&self, name: &str, v: &Value, path: &JsonPath) -> Result<Partition, ConfigError> {
        let map = self.object(v, path)?;
        self.check_keys(map, path, PARTITION_KEYS)?;

        let (cores_key, cores_v) = match (map.get("num_cores"), map.get("ncores")) {
            (Some(_), Some(_)) => {
                return Err(self.obj_err(
                    path,
                    ConfigErrorKind::BothSynonyms {
                        first: "num_cores",
                        second: "ncores",
                    },
                ));
            }
            (Some(v), None) => ("num_cores", v),
            (None, Some(v)) => ("ncores", v),
            (None, None) => {
                return Err(self.obj_err(
                    path,
                    ConfigErrorKind::MissingKey {
                        key: "num_cores",
                        hint: Some("cores per node, e.g. `\"num_cores\": 128`"),
                    },
                ));
            }
        };
        let cores_path = path.join(cores_key);
        let num_cores = match cores_v.as_u64() {
            Some(n) if n > 0 => u32::try_from(n)
                .map_err(|_| self.invalid(&cores_path, cores_v, "too many cores per node"))?,
            Some(_) => {
                return Err(self.invalid(
                    &cores_path,
                    cores_v,
                    "cores per node must be at least 1",
                ));
            }
            None => return Err(self.wrong_type(&cores_path, "a positive integer", cores_v)),
        };

        let max_time = match map.get("max_time") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Number(_)) => Some(v.as_u64().ok_or_else(|| {
                self.invalid(
                    &path.join("max_time"),
                    v,
                    "seconds must be a whole number >= 0",
                )
            })?),
            Some(Value::String(s)) => parse_time(s).map_err(|source| {
                self.err(&path.join("max_time"), ConfigErrorKind::BadUnit { source })
            })?,
            Some(v) => {
                return Err(self.wrong_type(
                    &path.join("max_time"),
                    "null, integer seconds or a string like \"48h\" or \"2-00:00:00\"",
                    v,
                ));
            }
        };
        let max_mem = match map.get("max_mem") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Number(_)) => Some(v.as_u64().ok_or_else(|| {
                self.invalid(&path.join("max_mem"), v, "kB must be a whole number >= 0")
            })?),
            Some(Value::String(s)) => Some(parse_mem(s).map_err(|source| {
                self.err(&path.join("max_mem"), ConfigErrorKind::BadUnit { source })
            })?),
            Some(v) => {
                return Err(self.wrong_type(
                    &path.join("max_mem"),
                    "null, integer kB or a string like \"256GB\"",
                    v,
                ));
            }
        };
        let partition = match map.get("partition") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(v @ Value::String(_)) => {
                return Err(self.invalid(&path.join("partition"), v, "an empty partition name"));
            }
            Some(v) => return Err(self.wrong_type(&path.join("partition"), "a string", v)),
        };
        Ok(Partition {
            name: name.to_owned(),
            num_cores,
            max_time,
            max_mem,
            header: self.string_list(map, "header", path)?,
            partition,
        })
    }

    fn profile(
        &self,
        name: &str,
        v: &Value,
        path: &JsonPath,
        systems: &[System],
    ) -> Result<Profile, ConfigError> {
        let map = self.object(v, path)?;
        self.check_keys(map, path, PROFILE_KEYS)?;
        let system = match map.get("system") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if !systems.iter().any(|sys| sys.name.as_str() == s) {
                    let known: Vec<String> = systems.iter().map(|s| s.name.to_string()).collect();
                    return Err(self.err(
                        &path.join("system"),
                        ConfigErrorKind::UnknownSystem {
                            name: s.clone(),
                            suggestion: suggest(s, known.iter().map(String::as_str)),
                            known,
                        },
                    ));
                }
                Some(SystemName::new(s.as_str()))
            }
            Some(v) => return Err(self.wrong_type(&path.join("system"), "a string", v)),
        };
        let resources = match map.get("resources") {
            None => Map::new(),
            Some(v) => {
                let rpath = path.join("resources");
                let r = self.object(v, &rpath)?;
                self.check_keys(r, &rpath, RESOURCE_KEYS)?;
                r.clone()
            }
        };
        let mut env = Vec::new();
        if let Some(v) = map.get("env") {
            let epath = path.join("env");
            for (key, value) in self.object(v, &epath)? {
                let kpath = epath.join(key);
                let valid_name = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid_name {
                    return Err(self.invalid(
                        &kpath,
                        &Value::String(key.clone()),
                        "an environment variable name is letters, digits and `_`, not starting \
                         with a digit",
                    ));
                }
                let value = value
                    .as_str()
                    .ok_or_else(|| self.wrong_type(&kpath, "a string", value))?;
                env.push((key.clone(), value.to_owned()));
            }
        }
        Ok(Profile {
            name: name.to_owned(),
            system,
            resources,
            header: self.string_list(map, "header", path)?,
            env,
            description: self.opt_string(map, "description", path)?,
        })
    }
}
