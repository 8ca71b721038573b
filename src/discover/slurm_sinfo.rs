//! Slurm's `sinfo -h -e -o '%R|%c|%m|%l|%D|%a'`: one line per partition and node
//! configuration (`-e`: nodes are grouped only when their CPUs and memory are the same), so a
//! partition of mixed nodes has several lines.
//!
//! ```text
//! debug|16|8000|infinite|1|up
//! short|16|8000|1:00:00|1|up
//! ```
//!
//! Fields: partition name, CPUs per node, memory per node in MB (Slurm's MB are MiB), time
//! limit (`infinite`, `n/a` or `[D-]HH:MM:SS`), node count, availability (`up`, `down`,
//! `drain`, `inact`). Without `-e` Slurm writes the least value with a `+` (`256+`): read as
//! that least value.

use super::error::ReplyError;
use super::values::{checked_name, cores};
use crate::scheduler::slurm::parse_slurm_duration;

/// The command, as errors name it.
pub const COMMAND: &str = "sinfo -h -e -o '%R|%c|%m|%l|%D|%a'";

/// One line: a group of alike nodes of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinfoRow {
    /// The partition.
    pub partition: String,
    /// CPUs per node.
    pub cpus: u32,
    /// Memory per node in kB; `None` when Slurm knows none (`RealMemory` unset: 1 MB).
    pub mem_kb: Option<u64>,
    /// The time limit in seconds; `None` for no limit.
    pub time_limit: Option<u64>,
    /// How many nodes.
    pub nodes: u32,
    /// The partition's availability (`up`, `down`, ...).
    pub avail: String,
}

/// The rows of the reply, in order.
pub fn parse_sinfo(text: &str) -> Result<Vec<SinfoRow>, ReplyError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_row)
        .collect()
}

fn parse_row(line: &str) -> Result<SinfoRow, ReplyError> {
    let fields: Vec<&str> = line.trim().split('|').collect();
    let [partition, cpus, mem, time, nodes, avail] = fields[..] else {
        return Err(ReplyError::new(
            COMMAND,
            "line",
            line,
            "expected six `|`-separated fields",
        ));
    };
    let partition = checked_name(COMMAND, partition)?;
    let cpus = cores(COMMAND, "CPUs per node", cpus.trim_end_matches('+'))?;
    let mem_mb = mem.trim_end_matches('+');
    let mem_kb = match mem_mb.parse::<u64>() {
        Ok(0 | 1) => None,
        Ok(mb) if mem_mb.bytes().all(|b| b.is_ascii_digit()) => mb.checked_mul(1024),
        _ => {
            return Err(ReplyError::new(
                COMMAND,
                "memory per node",
                mem,
                "expected a whole number of MB",
            ));
        }
    };
    let time_limit = match time {
        "infinite" | "UNLIMITED" | "n/a" | "NONE" => None,
        t => Some(parse_slurm_duration(t).ok_or_else(|| {
            ReplyError::new(
                COMMAND,
                "time limit",
                t,
                "expected `infinite` or [D-]HH:MM:SS",
            )
        })?),
    };
    let nodes = nodes
        .parse::<u32>()
        .map_err(|_| ReplyError::new(COMMAND, "node count", nodes, "expected a whole number"))?;
    Ok(SinfoRow {
        partition,
        cpus,
        mem_kb,
        time_limit,
        nodes,
        avail: avail.to_owned(),
    })
}
