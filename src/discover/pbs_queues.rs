//! PBS's `qstat -Q -f` (PBS Pro and Torque): each queue's type, state and limits.
//!
//! ```text
//! Queue: workq
//!     queue_type = Execution
//!     resources_max.walltime = 24:00:00
//!     resources_max.mem = 192gb
//!     resources_max.ncpus = 48
//!     enabled = True
//!     started = True
//! ```

use super::error::ReplyError;
use super::pbs_blocks::{parse_blocks, pbs_duration, pbs_size_kb};
use super::values::{checked_name, cores};

/// The command, as errors name it.
pub const COMMAND: &str = "qstat -Q -f";

/// A queue and what it caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbsQueue {
    /// Its name.
    pub name: String,
    /// True for an execution queue (`queue_type = Execution`); routing queues run nothing.
    pub execution: bool,
    /// `enabled = True`: it accepts jobs.
    pub enabled: bool,
    /// `started = True`: it runs jobs.
    pub started: bool,
    /// `resources_max.walltime` in seconds.
    pub max_walltime: Option<u64>,
    /// `resources_max.mem` in kB.
    pub max_mem_kb: Option<u64>,
    /// `resources_max.ncpus`.
    pub max_ncpus: Option<u32>,
}

/// The queues, in the order qstat lists them.
pub fn parse_qstat_queues(text: &str) -> Result<Vec<PbsQueue>, ReplyError> {
    let mut queues = Vec::new();
    for block in parse_blocks(COMMAND, text)? {
        let Some(name) = block.header.strip_prefix("Queue:") else {
            return Err(ReplyError::new(
                COMMAND,
                "block header",
                block.header,
                "expected `Queue: NAME`",
            ));
        };
        let name = checked_name(COMMAND, name.trim())?;
        let truthy = |key: &str| {
            block
                .get(key)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        let max_walltime = match block.get("resources_max.walltime") {
            None => None,
            Some(t) => Some(pbs_duration(t).ok_or_else(|| {
                ReplyError::new(COMMAND, "resources_max.walltime", t, "expected [[H:]M:]S")
            })?),
        };
        let max_mem_kb = match block.get("resources_max.mem") {
            None => None,
            Some(m) => Some(pbs_size_kb(m).ok_or_else(|| {
                ReplyError::new(COMMAND, "resources_max.mem", m, "expected e.g. 192gb")
            })?),
        };
        let max_ncpus = match block.get("resources_max.ncpus") {
            None => None,
            Some(n) => Some(cores(COMMAND, "resources_max.ncpus", n)?),
        };
        queues.push(PbsQueue {
            execution: block
                .get("queue_type")
                .is_some_and(|t| t.eq_ignore_ascii_case("execution")),
            enabled: truthy("enabled"),
            started: truthy("started"),
            max_walltime,
            max_mem_kb,
            max_ncpus,
            name,
        });
    }
    Ok(queues)
}
