//! PBS Pro's JSON forms of the same replies, `qstat -Q -f -F json` and `pbsnodes -a -F json`
//! (PBS Pro 18 and later; Torque has none, and the probe then falls back to the text forms):
//! the same [`PbsQueue`]s and [`PbsNode`]s as the text parsers give.
//!
//! ```text
//! {"pbs_version":"23.06.06", "Queue":{"workq":{"queue_type":"Execution",
//!   "resources_max":{"walltime":"24:00:00"}, "enabled":"True", "started":"True"}}}
//! {"nodes":{"pbs":{"state":"free", "resources_available":{"mem":"1024mb", "ncpus":1}}}}
//! ```
//!
//! Values may be JSON strings or numbers (`"ncpus":1`, `"mem":"1024mb"`), as PBS prints them.

use serde_json::{Map, Value};

use super::error::ReplyError;
use super::pbs_blocks::{pbs_duration, pbs_size_kb};
use super::pbs_nodes::PbsNode;
use super::pbs_queues::PbsQueue;
use super::values::{checked_name, cores};

/// The queue command, as errors name it.
pub const QUEUES_COMMAND: &str = "qstat -Q -f -F json";
/// The node command, as errors name it.
pub const NODES_COMMAND: &str = "pbsnodes -a -F json";

/// A value as text: strings as they are, numbers and booleans printed.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        _ => None,
    }
}

/// One named object of a reply (a queue or a node) and its attributes.
type Named<'a> = (&'a String, &'a Map<String, Value>);

/// `top[key]` as an object of objects.
fn objects<'a>(
    command: &'static str,
    doc: &'a Value,
    key: &'static str,
) -> Result<Vec<Named<'a>>, ReplyError> {
    let Some(map) = doc.get(key) else {
        return Ok(Vec::new());
    };
    let map = map
        .as_object()
        .ok_or_else(|| ReplyError::new(command, key, map.to_string(), "expected an object"))?;
    map.iter()
        .map(|(name, v)| {
            v.as_object()
                .map(|o| (name, o))
                .ok_or_else(|| ReplyError::new(command, key, v.to_string(), "expected an object"))
        })
        .collect()
}

fn parse_doc(command: &'static str, body: &str) -> Result<Value, ReplyError> {
    serde_json::from_str(body).map_err(|e| {
        ReplyError::new(
            command,
            "reply",
            body.chars().take(80).collect::<String>(),
            format!("not JSON: {e}"),
        )
    })
}

/// A nested resource (`resources_max.walltime` is `{"resources_max":{"walltime":...}}`).
fn resource(attrs: &Map<String, Value>, group: &str, key: &str) -> Option<String> {
    attrs.get(group)?.get(key).and_then(text)
}

/// The queues of `qstat -Q -f -F json`.
pub fn parse_qstat_queues_json(body: &str) -> Result<Vec<PbsQueue>, ReplyError> {
    let doc = parse_doc(QUEUES_COMMAND, body)?;
    let mut queues = Vec::new();
    for (name, attrs) in objects(QUEUES_COMMAND, &doc, "Queue")? {
        let name = checked_name(QUEUES_COMMAND, name)?;
        let flag = |key: &str| {
            attrs
                .get(key)
                .and_then(text)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        let max_walltime = match resource(attrs, "resources_max", "walltime") {
            None => None,
            Some(t) => Some(pbs_duration(&t).ok_or_else(|| {
                ReplyError::new(
                    QUEUES_COMMAND,
                    "resources_max.walltime",
                    t,
                    "expected [[H:]M:]S",
                )
            })?),
        };
        let max_mem_kb = match resource(attrs, "resources_max", "mem") {
            None => None,
            Some(m) => Some(pbs_size_kb(&m).ok_or_else(|| {
                ReplyError::new(
                    QUEUES_COMMAND,
                    "resources_max.mem",
                    m,
                    "expected e.g. 192gb",
                )
            })?),
        };
        let max_ncpus = match resource(attrs, "resources_max", "ncpus") {
            None => None,
            Some(n) => Some(cores(QUEUES_COMMAND, "resources_max.ncpus", &n)?),
        };
        queues.push(PbsQueue {
            execution: attrs
                .get("queue_type")
                .and_then(text)
                .is_some_and(|t| t.eq_ignore_ascii_case("execution")),
            enabled: flag("enabled"),
            started: flag("started"),
            max_walltime,
            max_mem_kb,
            max_ncpus,
            name,
        });
    }
    Ok(queues)
}

/// The nodes of `pbsnodes -a -F json`.
pub fn parse_pbsnodes_json(body: &str) -> Result<Vec<PbsNode>, ReplyError> {
    let doc = parse_doc(NODES_COMMAND, body)?;
    let mut nodes = Vec::new();
    for (name, attrs) in objects(NODES_COMMAND, &doc, "nodes")? {
        let ncpus = match resource(attrs, "resources_available", "ncpus") {
            None => None,
            Some(n) => Some(cores(NODES_COMMAND, "resources_available.ncpus", &n)?),
        };
        let mem_kb = match resource(attrs, "resources_available", "mem") {
            None => None,
            Some(m) => Some(pbs_size_kb(&m).ok_or_else(|| {
                ReplyError::new(
                    NODES_COMMAND,
                    "resources_available.mem",
                    m,
                    "expected e.g. 196608kb",
                )
            })?),
        };
        nodes.push(PbsNode {
            name: name.clone(),
            ncpus,
            mem_kb,
            state: attrs.get("state").and_then(text).unwrap_or_default(),
            queue: attrs.get("queue").and_then(text),
        });
    }
    Ok(nodes)
}
