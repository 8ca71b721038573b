//! Slurm's `scontrol show partition --oneliner`: one line of `Key=Value` words per partition.
//!
//! ```text
//! PartitionName=short ... Default=NO ... MaxTime=01:00:00 ... MaxCPUsPerNode=UNLIMITED ...
//!   State=UP TotalCPUs=16 TotalNodes=1 ... DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED ...
//! ```
//!
//! Read: `PartitionName`, `Default`, `State`, `MaxTime` (`UNLIMITED` or `[D-]HH:MM:SS`),
//! `MaxCPUsPerNode`, and the memory cap, `MaxMemPerNode` or `MaxMemPerCPU` (MB, or
//! `UNLIMITED`). Values never hold blanks in the keys read here; a word without `=` (a blank
//! inside another key's value) is skipped.

use super::error::ReplyError;
use super::values::{checked_name, cores};
use crate::scheduler::slurm::parse_slurm_duration;

/// The command, as errors name it.
pub const COMMAND: &str = "scontrol show partition --oneliner";

/// What a partition's configuration caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmPartition {
    /// Its name.
    pub name: String,
    /// True for the site's default partition.
    pub default: bool,
    /// `UP`, `DOWN`, `DRAIN` or `INACTIVE`.
    pub state: String,
    /// `MaxTime` in seconds; `None` for `UNLIMITED`.
    pub max_time: Option<u64>,
    /// `MaxCPUsPerNode`; `None` for `UNLIMITED`.
    pub max_cpus_per_node: Option<u32>,
    /// `MaxMemPerNode` in kB; `None` for `UNLIMITED` or unset.
    pub max_mem_per_node_kb: Option<u64>,
    /// `MaxMemPerCPU` in kB; `None` for `UNLIMITED` or unset.
    pub max_mem_per_cpu_kb: Option<u64>,
}

/// The partitions, in the order Slurm lists them (its configuration order).
pub fn parse_scontrol_partitions(text: &str) -> Result<Vec<SlurmPartition>, ReplyError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Result<SlurmPartition, ReplyError> {
    let get = |key: &str| {
        line.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    };
    let name = get("PartitionName")
        .ok_or_else(|| ReplyError::new(COMMAND, "line", line, "no PartitionName="))?;
    let name = checked_name(COMMAND, name)?;
    let max_time = match get("MaxTime") {
        None | Some("UNLIMITED" | "NONE" | "INFINITE") => None,
        Some(t) => Some(parse_slurm_duration(t).ok_or_else(|| {
            ReplyError::new(COMMAND, "MaxTime", t, "expected UNLIMITED or [D-]HH:MM:SS")
        })?),
    };
    let max_cpus_per_node = match get("MaxCPUsPerNode") {
        None | Some("UNLIMITED") => None,
        Some(n) => Some(cores(COMMAND, "MaxCPUsPerNode", n)?),
    };
    let mem = |key: &'static str| -> Result<Option<u64>, ReplyError> {
        match get(key) {
            None | Some("UNLIMITED" | "0") => Ok(None),
            Some(mb) => mb
                .parse::<u64>()
                .ok()
                .filter(|_| mb.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|mb| mb.checked_mul(1024))
                .map(Some)
                .ok_or_else(|| {
                    ReplyError::new(COMMAND, key, mb, "expected UNLIMITED or a number of MB")
                }),
        }
    };
    Ok(SlurmPartition {
        default: get("Default") == Some("YES"),
        state: get("State").unwrap_or("UP").to_owned(),
        max_time,
        max_cpus_per_node,
        max_mem_per_node_kb: mem("MaxMemPerNode")?,
        max_mem_per_cpu_kb: mem("MaxMemPerCPU")?,
        name,
    })
}
