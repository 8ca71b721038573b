//! Resource requests, time and memory units, and the node finder.
//!
//! OWNER: resources helper. Skeleton: units are written; the request types are the interface;
//! the node finder is still to write.

use crate::config::System;

/// A unit string that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {what} {value:?}: {why}")]
pub struct UnitError {
    /// `"time"` or `"memory"`.
    pub what: &'static str,
    /// The text as given.
    pub value: String,
    /// What is wrong and what is accepted.
    pub why: String,
}

/// How many of what a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountRequest {
    /// Whole nodes.
    Nodes(u32),
    /// Cores, in whole nodes unless `partial_node`.
    Cores(u32),
    /// The older form `n=(N, "tasks")` with `ncores_per_task` cores each.
    Tasks {
        /// Number of tasks.
        tasks: u32,
        /// Cores each task needs.
        cores_per_task: u32,
    },
}

/// A memory limit of a request, in kB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemRequest {
    /// Memory for the whole job.
    Total(u64),
    /// Memory per core.
    PerCore(u64),
    /// Memory per task (older form).
    PerTask(u64),
}

/// What a job asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Run time in seconds; `None` = no limit asked.
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
}

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
        }
    }

    /// Sets the run time in seconds.
    pub fn with_max_time(mut self, seconds: u64) -> Self {
        self.max_time = Some(seconds);
        self
    }
}

/// Where a request lands: partition and node counts. Feeds the header template keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAllocation {
    /// The partition's config key.
    pub partition: String,
    /// The scheduler's name for the partition (`{partition}`).
    pub scheduler_partition: String,
    /// Nodes.
    pub num_nodes: u32,
    /// Cores in all.
    pub num_cores: u32,
    /// Cores used on each node.
    pub num_cores_per_node: u32,
    /// Cores per task (1 unless the request was in tasks).
    pub ncores_per_task: u32,
    /// Run time in seconds, if the request had one.
    pub max_time: Option<u64>,
}

/// A request no partition can satisfy: lists each partition and why it was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("todo")]
pub struct NodeFinderError {}

/// Picks the partition and node counts for `request` on `system` (ExPyRe's rules; see the
/// reference's worked examples).
pub fn find_nodes(system: &System, request: &Resources) -> Result<NodeAllocation, NodeFinderError> {
    let _ = (system, request);
    todo!("resources helper")
}

/// Parses a time: an integer is seconds, `_none_` is no limit, `<float><s|m|h|d>`, or
/// `[D-]HH:MM:SS` with leading parts optional (`'10:10'` = 610 s, `'3-2:10:10'` = 267010 s).
pub fn parse_time(text: &str) -> Result<Option<u64>, UnitError> {
    let err = |why: &str| UnitError {
        what: "time",
        value: text.to_owned(),
        why: format!("{why} (hint: use seconds, `30m`, `4h`, `2d`, `HH:MM:SS` or `D-HH:MM:SS`)"),
    };
    let t = text.trim().to_ascii_lowercase();
    if t == "_none_" {
        return Ok(None);
    }
    if let Some(unit) = t.chars().last().filter(|c| "smhd".contains(*c)) {
        let number: f64 = t[..t.len() - 1]
            .parse()
            .map_err(|_| err("expected a number before the unit"))?;
        let scale = match unit {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => 86400.0,
        };
        if !number.is_finite() || number < 0.0 {
            return Err(err("must be a positive number"));
        }
        return Ok(Some((number * scale).round() as u64));
    }
    let (days, clock) = match t.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().map_err(|_| err("bad day count"))?, rest),
        None => (0, t.as_str()),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() > 3 || (days > 0 && parts.len() != 3) {
        return Err(err("expected [D-]HH:MM:SS"));
    }
    let mut seconds = 0u64;
    for part in &parts {
        let v: u64 = part
            .parse()
            .map_err(|_| err("expected whole numbers between colons"))?;
        seconds = seconds * 60 + v;
    }
    Ok(Some(days * 86400 + seconds))
}

/// Parses a memory size to kB: `<float>[k|m|g|t][b]`, any case, binary multiples
/// (`'5MB'` = 5120 kB). A bare number in a string is an error (it is ambiguous);
/// integers in JSON are kB and never reach this function.
pub fn parse_mem(text: &str) -> Result<u64, UnitError> {
    let err = |why: &str| UnitError {
        what: "memory",
        value: text.to_owned(),
        why: format!("{why} (hint: write a unit, e.g. `500MB`, `4GB`, `1TB`)"),
    };
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (number, scale) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64),
        Some('m') => (&t[..t.len() - 1], 1 << 10),
        Some('g') => (&t[..t.len() - 1], 1 << 20),
        Some('t') => (&t[..t.len() - 1], 1 << 30),
        _ => return Err(err("missing unit k, m, g or t")),
    };
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| err("expected a number before the unit"))?;
    if !number.is_finite() || number < 0.0 {
        return Err(err("must be a positive number"));
    }
    Ok((number * scale as f64).round() as u64)
}

/// Formats seconds as `H:MM:SS`, hours unpadded and unbounded (`49:00:10`).
pub fn format_hms(seconds: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}
