//! What a job asks for: [`Resources`], built in code or read from an ExPyRe resource dict.
//!
//! Two dict forms are read, as in ExPyRe's history:
//!
//! - current: `max_time`, exactly one of `num_nodes` / `num_cores`, at most one of
//!   `max_mem_tot` / `max_mem_per_core`, optional `partitions` (or its synonym `queues`);
//! - older (`seeds/004`): `max_time`, `n: [N, "nodes" | "tasks"]`, optional `ncores_per_task`
//!   (default 1; 0 = one task per whole node) and `max_mem_per_task`, optional `partitions`.
//!
//! Both take `exact_fit` (default true) and `partial_node` (default false, implies not
//! `exact_fit`), and xpr's `gpus` (GPUs per node, a positive integer) and `account` (the
//! account or project the job is charged to). Mixing keys of the two forms is an error. `max_time` is required, as in ExPyRe
//! (`null` or `"_none_"` say "no limit"). Every error names the key.
//!
//! Invariant kept by [`Resources::from_json`] (not by the public fields, which code may set
//! freely): counts are positive and partition regexps compile; [`super::find_nodes`] checks
//! again and reports what it finds.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::System;
use crate::units::{UnitError, format_hms, format_mem, mem_from_json, time_from_json};

/// How many of what a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountRequest {
    /// Whole nodes.
    Nodes(u32),
    /// Cores, in whole nodes unless `partial_node`.
    Cores(u32),
    /// The older form `n=(N, "tasks")` with `ncores_per_task` cores each; `cores_per_task == 0`
    /// is ExPyRe's "one task per whole node", i.e. `tasks` whole nodes.
    Tasks {
        /// Number of tasks.
        tasks: u32,
        /// Cores each task needs (0 = a whole node).
        cores_per_task: u32,
    },
    /// The older form `n=(N, "nodes")` with `ncores_per_task` other than 1: whole nodes, and
    /// the task layout (`{tot_ntasks}`, `{ntasks_per_node}`) follows from the cores per task
    /// (0 = one task per node).
    NodesOfTasks {
        /// Number of nodes.
        nodes: u32,
        /// Cores each task needs (0 = a whole node).
        cores_per_task: u32,
    },
}

impl fmt::Display for CountRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        match *self {
            Self::Nodes(n) => write!(f, "{n} node{}", plural(n)),
            Self::Cores(n) => write!(f, "{n} core{}", plural(n)),
            Self::Tasks {
                tasks,
                cores_per_task: 0,
            } => write!(f, "{tasks} whole-node task{}", plural(tasks)),
            Self::Tasks {
                tasks,
                cores_per_task,
            } => write!(
                f,
                "{tasks} task{} of {cores_per_task} core{}",
                plural(tasks),
                plural(cores_per_task)
            ),
            Self::NodesOfTasks {
                nodes,
                cores_per_task: 0,
            } => write!(f, "{nodes} node{} of 1 task each", plural(nodes)),
            Self::NodesOfTasks {
                nodes,
                cores_per_task,
            } => write!(
                f,
                "{nodes} node{} of {cores_per_task}-core tasks",
                plural(nodes)
            ),
        }
    }
}

/// A memory limit of a request, in kB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemRequest {
    /// Memory for the whole job.
    Total(u64),
    /// Memory per core.
    PerCore(u64),
    /// Memory per task (older form).
    PerTask(u64),
}

impl fmt::Display for MemRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Total(kb) => write!(f, "max_mem_tot {}", format_mem(kb)),
            Self::PerCore(kb) => write!(f, "max_mem_per_core {}", format_mem(kb)),
            Self::PerTask(kb) => write!(f, "max_mem_per_task {}", format_mem(kb)),
        }
    }
}

/// What a job asks for.
///
/// Build one with [`Resources::new`] (or [`Resources::nodes`] / [`Resources::cores`]) and the
/// `with_*` methods, or read an ExPyRe resource dict with [`Resources::from_json`].
/// Its `Display` is a one-line summary used in error messages. It serialises (serde) so a task
/// keeps what it asked for, for retries that re-run the node finder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Run time in seconds; `None` = no limit asked (fits any partition's time limit).
    pub max_time: Option<u64>,
    /// How many nodes, cores or tasks.
    pub count: CountRequest,
    /// Memory limit, if any.
    pub mem: Option<MemRequest>,
    /// Regexps, each matching a whole partition key; empty = any partition.
    pub partitions: Vec<String>,
    /// Refuse core counts that are not a whole number of nodes (default true).
    pub exact_fit: bool,
    /// Allow one partly used node (default false; implies not `exact_fit`).
    pub partial_node: bool,
    /// GPUs per node (xpr's addition); `None` = none asked.
    pub gpus: Option<u32>,
    /// The account (project) the job is charged to (xpr's addition); `None` = the site's
    /// default.
    pub account: Option<String>,
}

/// The run time of a task that asked for nothing, on a system with no `default_max_time`:
/// one hour.
pub const FALLBACK_MAX_TIME: u64 = 3600;

impl Resources {
    /// A request for `count` with ExPyRe's defaults: no time limit, exact fit, whole nodes.
    pub fn new(count: CountRequest) -> Self {
        Self {
            max_time: None,
            count,
            mem: None,
            partitions: Vec::new(),
            exact_fit: true,
            partial_node: false,
            gpus: None,
            account: None,
        }
    }

    /// What a task gets when nobody asked for anything: one core on a node it may share,
    /// for `system`'s `default_max_time`, else [`FALLBACK_MAX_TIME`] (`system` is `None`
    /// when it is not known yet). A first run on a cluster whose nodes have 128 cores must
    /// not fail because one core is not a whole node.
    pub fn first_run_default(system: Option<&System>) -> Self {
        let max_time = system
            .and_then(|s| s.default_max_time)
            .unwrap_or(FALLBACK_MAX_TIME);
        Self::cores(1)
            .with_partial_node(true)
            .with_max_time(max_time)
    }

    /// This request, with `system`'s `default_max_time` where it names no run time (none
    /// set there: unchanged, no limit asked).
    pub fn with_default_time(mut self, system: &System) -> Self {
        if self.max_time.is_none() {
            self.max_time = system.default_max_time;
        }
        self
    }

    /// A request for `n` whole nodes (`num_nodes`).
    pub fn nodes(n: u32) -> Self {
        Self::new(CountRequest::Nodes(n))
    }

    /// A request for `n` cores (`num_cores`).
    pub fn cores(n: u32) -> Self {
        Self::new(CountRequest::Cores(n))
    }

    /// Sets the run time in seconds.
    pub fn with_max_time(mut self, seconds: u64) -> Self {
        self.max_time = Some(seconds);
        self
    }

    /// Sets the memory limit (replacing any earlier one: a request has at most one).
    pub fn with_mem(mut self, mem: MemRequest) -> Self {
        self.mem = Some(mem);
        self
    }

    /// Sets `max_mem_tot`: memory for the whole job, in kB.
    pub fn with_max_mem_tot(self, kb: u64) -> Self {
        self.with_mem(MemRequest::Total(kb))
    }

    /// Sets `max_mem_per_core`: memory per core, in kB.
    pub fn with_max_mem_per_core(self, kb: u64) -> Self {
        self.with_mem(MemRequest::PerCore(kb))
    }

    /// Sets the partition regexps (each must match a whole partition key); empty = any.
    pub fn with_partitions<I, S>(mut self, regexps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.partitions = regexps.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `exact_fit` (`--no-exact-fit` is `with_exact_fit(false)`).
    pub fn with_exact_fit(mut self, exact_fit: bool) -> Self {
        self.exact_fit = exact_fit;
        self
    }

    /// Sets `partial_node` (which, when true, overrides `exact_fit`).
    pub fn with_partial_node(mut self, partial_node: bool) -> Self {
        self.partial_node = partial_node;
        self
    }

    /// Sets the GPUs per node (`--gpus`).
    pub fn with_gpus(mut self, gpus_per_node: u32) -> Self {
        self.gpus = Some(gpus_per_node);
        self
    }

    /// Sets the account (project) the job is charged to (`--account`).
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Whether a cores request must be a whole number of nodes: `exact_fit` and not
    /// `partial_node`.
    pub fn effective_exact_fit(&self) -> bool {
        self.exact_fit && !self.partial_node
    }

    /// Reads an ExPyRe resource dict (either form; see the module docs), with errors naming
    /// the key. `value` must be a JSON object.
    pub fn from_json(value: &Value) -> Result<Self, ResourcesError> {
        match value {
            Value::Object(map) => Self::from_json_map(map),
            other => Err(ResourcesError::NotAnObject {
                found: json_kind(other),
            }),
        }
    }

    /// [`Resources::from_json`] on an already unwrapped JSON object.
    pub fn from_json_map(map: &Map<String, Value>) -> Result<Self, ResourcesError> {
        for key in map.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return Err(ResourcesError::UnknownKey {
                    key: key.clone(),
                    suggestion: did_you_mean(key),
                });
            }
        }
        // `null` is "not given" for every optional key, as a Python `None` keyword is.
        let get = |key: &str| map.get(key).filter(|v| !v.is_null());
        let exclusive = |a: &'static str, b: &'static str| match (get(a), get(b)) {
            (Some(_), Some(_)) => Err(ResourcesError::Conflict {
                first: a,
                second: b,
            }),
            _ => Ok(()),
        };

        exclusive("num_nodes", "num_cores")?;
        exclusive("max_mem_tot", "max_mem_per_core")?;
        exclusive("partitions", "queues")?;
        if get("n").is_some() {
            for key in ["num_nodes", "num_cores", "max_mem_tot", "max_mem_per_core"] {
                exclusive("n", key)?;
            }
        } else {
            for key in ["ncores_per_task", "max_mem_per_task"] {
                if get(key).is_some() {
                    return Err(ResourcesError::OlderFormOnly { key });
                }
            }
        }

        let max_time = match map.get("max_time") {
            None => return Err(ResourcesError::Missing { what: "max_time" }),
            Some(v) => time_from_json(v).map_err(|source| ResourcesError::Unit {
                key: "max_time",
                source,
            })?,
        };

        let count = if let Some(n) = get("n") {
            older_count(n, get("ncores_per_task"))?
        } else if let Some(v) = get("num_nodes") {
            CountRequest::Nodes(positive_count("num_nodes", v)?)
        } else if let Some(v) = get("num_cores") {
            CountRequest::Cores(positive_count("num_cores", v)?)
        } else {
            return Err(ResourcesError::Missing {
                what: "num_nodes or num_cores",
            });
        };

        let mut mem = None;
        for (key, make) in [
            ("max_mem_tot", MemRequest::Total as fn(u64) -> MemRequest),
            ("max_mem_per_core", MemRequest::PerCore),
            ("max_mem_per_task", MemRequest::PerTask),
        ] {
            if let Some(v) = get(key) {
                let kb = mem_from_json(v).map_err(|source| ResourcesError::Unit { key, source })?;
                mem = mem.or(kb.map(make));
            }
        }

        let (partitions_key, partitions) = match (get("partitions"), get("queues")) {
            (Some(v), _) => ("partitions", Some(v)),
            (None, v) => ("queues", v),
        };
        let partitions = match partitions {
            None => Vec::new(),
            Some(v) => regexp_list(partitions_key, v)?,
        };

        let flag = |key: &'static str, default: bool| match get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(ResourcesError::InvalidValue {
                key,
                why: format!("expected true or false, found {other}"),
            }),
        };

        let gpus = get("gpus").map(|v| positive_count("gpus", v)).transpose()?;
        let account = get("account").map(account_name).transpose()?;

        Ok(Self {
            max_time,
            count,
            mem,
            partitions,
            exact_fit: flag("exact_fit", true)?,
            partial_node: flag("partial_node", false)?,
            gpus,
            account,
        })
    }

    /// This request as a resource dict in the current form (older-form task counts keep `n`
    /// and `ncores_per_task`); [`Resources::from_json`] reads it back to an equal value.
    /// Times are seconds and memory is kB, as JSON integers.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("max_time".into(), self.max_time.into());
        match self.count {
            CountRequest::Nodes(n) => {
                map.insert("num_nodes".into(), n.into());
            }
            CountRequest::Cores(n) => {
                map.insert("num_cores".into(), n.into());
            }
            CountRequest::Tasks {
                tasks,
                cores_per_task,
            } => {
                map.insert("n".into(), serde_json::json!([tasks, "tasks"]));
                map.insert("ncores_per_task".into(), cores_per_task.into());
            }
            CountRequest::NodesOfTasks {
                nodes,
                cores_per_task,
            } => {
                map.insert("n".into(), serde_json::json!([nodes, "nodes"]));
                map.insert("ncores_per_task".into(), cores_per_task.into());
            }
        }
        match self.mem {
            None => {}
            Some(MemRequest::Total(kb)) => {
                map.insert("max_mem_tot".into(), kb.into());
            }
            Some(MemRequest::PerCore(kb)) => {
                map.insert("max_mem_per_core".into(), kb.into());
            }
            Some(MemRequest::PerTask(kb)) => {
                map.insert("max_mem_per_task".into(), kb.into());
            }
        }
        if !self.partitions.is_empty() {
            map.insert("partitions".into(), self.partitions.clone().into());
        }
        map.insert("exact_fit".into(), self.exact_fit.into());
        map.insert("partial_node".into(), self.partial_node.into());
        if let Some(gpus) = self.gpus {
            map.insert("gpus".into(), gpus.into());
        }
        if let Some(account) = &self.account {
            map.insert("account".into(), account.clone().into());
        }
        Value::Object(map)
    }
}

impl fmt::Display for Resources {
    /// `17 cores, max_time 1:00:00, max_mem_per_core 2.0 GiB, partitions 'deb.*', exact fit`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.count)?;
        match self.max_time {
            Some(t) => write!(f, ", max_time {}", format_hms(t))?,
            None => write!(f, ", no max_time")?,
        }
        if let Some(mem) = self.mem {
            write!(f, ", {mem}")?;
        }
        if !self.partitions.is_empty() {
            write!(f, ", partitions {}", quoted_list(&self.partitions))?;
        }
        if let Some(gpus) = self.gpus {
            write!(
                f,
                ", {gpus} GPU{} per node",
                if gpus == 1 { "" } else { "s" }
            )?;
        }
        if let Some(account) = &self.account {
            write!(f, ", account '{account}'")?;
        }
        if self.partial_node {
            write!(f, ", partial node")
        } else if self.exact_fit {
            write!(f, ", exact fit")
        } else {
            write!(f, ", no exact fit")
        }
    }
}

/// Compiles a partition regexp so that it must match a whole partition key (here, where the
/// request's regexps are read, so that the node finder depends on requests and not back).
pub(crate) fn whole_match_regex(pattern: &str) -> Result<Regex, regex::Error> {
    // Compiled alone first so that an error points into the user's text, not our wrapper.
    Regex::new(pattern)?;
    Regex::new(&format!("^(?:{pattern})$"))
}

/// `'a', 'b.*'`: regexps as the user wrote them.
pub(crate) fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every key a resource dict may have, both forms and xpr's additions.
const KNOWN_KEYS: [&str; 14] = [
    "max_time",
    "num_nodes",
    "num_cores",
    "max_mem_tot",
    "max_mem_per_core",
    "partitions",
    "queues",
    "exact_fit",
    "partial_node",
    "n",
    "ncores_per_task",
    "max_mem_per_task",
    "gpus",
    "account",
];

/// A resource dict that cannot be read. Each variant names the key at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourcesError {
    /// The value is not a JSON object.
    #[error("resources must be a JSON object, found {found}")]
    NotAnObject {
        /// What it was (`"a list"`, `"a string"` ...).
        found: &'static str,
    },
    /// A key neither form knows.
    #[error(
        "unknown resources key {key:?}{}",
        match suggestion { Some(s) => format!(" (hint: did you mean {s:?}?)"), None => format!(" (hint: known keys are {})", KNOWN_KEYS.join(", ")) }
    )]
    UnknownKey {
        /// The key as given.
        key: String,
        /// The closest known key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// Two keys that exclude each other are both given.
    #[error("resources keys {first:?} and {second:?} exclude each other (hint: give only one)")]
    Conflict {
        /// The first key.
        first: &'static str,
        /// The second key.
        second: &'static str,
    },
    /// A required key is missing.
    #[error("resources need {what}")]
    Missing {
        /// The key(s), one of which is needed.
        what: &'static str,
    },
    /// An older-form key given without the older form's `n`.
    #[error(
        "resources key {key:?} belongs to the older form with \"n\" (hint: use num_nodes/num_cores and max_mem_tot/max_mem_per_core, or n: [N, \"tasks\"])"
    )]
    OlderFormOnly {
        /// The key.
        key: &'static str,
    },
    /// A value of the wrong type or range.
    #[error("resources key {key:?}: {why}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A time or memory value that does not parse.
    #[error("resources key {key:?}: {source}")]
    Unit {
        /// The key.
        key: &'static str,
        /// The parse error.
        #[source]
        source: UnitError,
    },
    /// A partition regexp that does not compile.
    #[error("resources key {key:?}: invalid regexp {pattern:?}: {message}")]
    BadRegex {
        /// `partitions` or `queues`.
        key: &'static str,
        /// The regexp as given.
        pattern: String,
        /// The regex compiler's message.
        message: String,
    },
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn positive_count(key: &'static str, v: &Value) -> Result<u32, ResourcesError> {
    v.as_u64()
        .filter(|n| *n > 0)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ResourcesError::InvalidValue {
            key,
            why: format!("expected a positive integer, found {v}"),
        })
}

/// An account name: non-empty, no whitespace or control characters (it becomes one word of a
/// header directive, such as `#SBATCH --account=NAME`).
fn account_name(v: &Value) -> Result<String, ResourcesError> {
    let bad = |why: &str| ResourcesError::InvalidValue {
        key: "account",
        why: format!("{why}, found {v}"),
    };
    let name = v.as_str().ok_or_else(|| bad("expected a string"))?;
    check_account(name).map_err(bad)?;
    Ok(name.to_owned())
}

/// Checks an account name (see [`Resources::account`]): `Err` says what is wrong.
pub fn check_account(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("an account name must not be empty");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("an account name must not hold whitespace or control characters");
    }
    Ok(())
}

fn older_count(n: &Value, cores_per_task: Option<&Value>) -> Result<CountRequest, ResourcesError> {
    let bad = || ResourcesError::InvalidValue {
        key: "n",
        why: format!(
            "expected [N, \"nodes\"] or [N, \"tasks\"] with N a positive integer, found {n}"
        ),
    };
    let [count, what] = n.as_array().map(Vec::as_slice).ok_or_else(bad)? else {
        return Err(bad());
    };
    let count = positive_count("n", count).map_err(|_| bad())?;
    let cores_per_task = match cores_per_task {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| ResourcesError::InvalidValue {
                key: "ncores_per_task",
                why: format!("expected a non-negative integer (0 = a whole node), found {v}"),
            })?,
    };
    match what.as_str() {
        Some("nodes") if cores_per_task == 1 => Ok(CountRequest::Nodes(count)),
        Some("nodes") => Ok(CountRequest::NodesOfTasks {
            nodes: count,
            cores_per_task,
        }),
        Some("tasks") => Ok(CountRequest::Tasks {
            tasks: count,
            cores_per_task,
        }),
        _ => Err(bad()),
    }
}

fn regexp_list(key: &'static str, v: &Value) -> Result<Vec<String>, ResourcesError> {
    let list: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ResourcesError::InvalidValue {
                        key,
                        why: format!("expected regexps as strings, found {item}"),
                    })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(ResourcesError::InvalidValue {
                key,
                why: format!("expected a regexp or a list of them, found {other}"),
            });
        }
    };
    if list.is_empty() {
        // ExPyRe would reject every partition for an empty list; say so at once instead.
        return Err(ResourcesError::InvalidValue {
            key,
            why: "an empty list matches no partition (hint: leave the key out to allow any)".into(),
        });
    }
    for pattern in &list {
        if let Err(e) = whole_match_regex(pattern) {
            return Err(ResourcesError::BadRegex {
                key,
                pattern: pattern.clone(),
                message: e.to_string(),
            });
        }
    }
    Ok(list)
}

/// The known key closest to `key` by edit distance, if it is close (typos, `_`/`-` mix-ups).
fn did_you_mean(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase().replace('-', "_");
    KNOWN_KEYS
        .iter()
        .map(|k| (levenshtein(&key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = above;
        }
    }
    row[b.len()]
}
