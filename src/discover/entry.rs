//! The ExPyRe-format `systems` entry of what was found (pure): host, scheduler, remote shell,
//! run dir, the header lines a multi-core job needs on that scheduler (the scheduler's own
//! defaults already give the job name, partition, time and log files), and the partitions in
//! the config's units (`"1h"`, `"8000MB"`, null for no limit).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::detect::PbsFlavour;
use super::error::{DiscoverError, DiscoverErrorKind};
use super::{Discovered, FoundPartition};
use crate::config::{Config, DEFAULT_RUNDIR, SchedulerKind};
use crate::units::format_mem_exact;

/// How the entry reaches its host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryOptions {
    /// `[user@]host` for SSH; `None` for this machine (`"host": null`).
    pub host: Option<String>,
    /// The remote shell command (`ssh -F FILE`), when not plain `ssh`.
    pub remsh_cmd: Option<String>,
    /// The run dir; default `run_expyre` for a remote host, none (the stage dir) here.
    pub rundir: Option<String>,
}

/// The name a system gets when the user gives none: the host without `user@` (`local`
/// hosts: `localhost`).
pub fn default_name(host: Option<&str>) -> String {
    match host {
        None => "localhost".to_owned(),
        Some(h) => h.rsplit('@').next().unwrap_or(h).to_owned(),
    }
}

/// The header lines a job of several cores or nodes needs on `found`'s scheduler.
fn system_header(found: &Discovered) -> Vec<&'static str> {
    match found.scheduler {
        SchedulerKind::Slurm => vec![
            "#SBATCH --nodes={num_nodes}",
            "#SBATCH --ntasks={num_cores}",
            "#SBATCH --ntasks-per-node={num_cores_per_node}",
        ],
        SchedulerKind::Pbs => match found.pbs_flavour {
            Some(PbsFlavour::Torque) => vec!["#PBS -l nodes={num_nodes}:ppn={num_cores_per_node}"],
            _ => vec![
                "#PBS -l select={num_nodes}:ncpus={num_cores_per_node}:mpiprocs={num_cores_per_node}",
            ],
        },
        SchedulerKind::Lsf => vec!["#BSUB -R \"span[ptile={num_cores_per_node}]\""],
        SchedulerKind::Sge | SchedulerKind::Local => Vec::new(),
    }
}

/// A time in the config's spelling: whole days, hours or minutes as `"2d"`, `"1h"`, `"30m"`,
/// other values as seconds.
fn time_value(seconds: Option<u64>) -> Value {
    match seconds {
        None => Value::Null,
        Some(s) if s > 0 && s % 86_400 == 0 => json!(format!("{}d", s / 86_400)),
        Some(s) if s > 0 && s % 3_600 == 0 => json!(format!("{}h", s / 3_600)),
        Some(s) if s > 0 && s % 60 == 0 => json!(format!("{}m", s / 60)),
        Some(s) => json!(s),
    }
}

fn partition_value(p: &FoundPartition) -> Value {
    let mut map = Map::new();
    map.insert("num_cores".into(), json!(p.num_cores));
    map.insert("max_time".into(), time_value(p.max_time));
    map.insert(
        "max_mem".into(),
        // Rounded down to whole MB: easier to read, and a job sized to it still fits.
        p.max_mem.map_or(Value::Null, |kb| {
            json!(format_mem_exact(if kb >= 1024 {
                kb - kb % 1024
            } else {
                kb
            }))
        }),
    );
    if !p.header.is_empty() {
        map.insert("header".into(), json!(p.header));
    }
    Value::Object(map)
}

/// The `systems` entry of `found`.
pub fn system_entry(found: &Discovered, options: &EntryOptions) -> Value {
    let mut map = Map::new();
    map.insert("host".into(), json!(options.host));
    map.insert("scheduler".into(), json!(found.scheduler.as_str()));
    if let Some(remsh) = &options.remsh_cmd {
        map.insert("remsh_cmd".into(), json!(remsh));
    }
    let rundir = options
        .rundir
        .clone()
        .or_else(|| options.host.as_ref().map(|_| DEFAULT_RUNDIR.to_owned()));
    if let Some(rundir) = rundir {
        map.insert("rundir".into(), json!(rundir));
    }
    let header = system_header(found);
    if !header.is_empty() {
        map.insert("header".into(), json!(header));
    }
    let partitions: Map<String, Value> = found
        .partitions
        .iter()
        .map(|p| (p.name.clone(), partition_value(p)))
        .collect();
    map.insert("partitions".into(), Value::Object(partitions));
    Value::Object(map)
}

/// Checks that `name` may name a system (the config's own rule and message), before any
/// remote work is done for it.
pub fn check_system_name(name: &str) -> Result<(), DiscoverError> {
    let probe = json!({"host": null, "scheduler": "local", "partitions": null});
    systems_document(name, &probe).map(drop)
}

/// `{"systems": {name: entry}}`, checked to be a valid config (a bad `--name` is refused
/// here, with the config's own message).
pub fn systems_document(name: &str, entry: &Value) -> Result<Value, DiscoverError> {
    let doc = json!({ "systems": { name: entry } });
    Config::from_json_str(&doc.to_string(), Path::new("(discovered entry)")).map_err(|e| {
        DiscoverError {
            host: None,
            command: None,
            file: None,
            kind: Box::new(DiscoverErrorKind::Invalid(e)),
        }
    })?;
    Ok(doc)
}
