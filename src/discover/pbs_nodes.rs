//! PBS's `pbsnodes -a`: each node's cores, memory, state and queue. PBS Pro writes
//! `resources_available.ncpus` and `resources_available.mem` (and `queue` when the node is
//! tied to one); Torque writes `np` and, inside `status`, `physmem=...kb`.
//!
//! ```text
//! node01
//!      Mom = node01.cluster
//!      state = free
//!      resources_available.mem = 196608kb
//!      resources_available.ncpus = 48
//! ```

use super::error::ReplyError;
use super::pbs_blocks::{parse_blocks, pbs_size_kb};
use super::values::cores;

/// The command, as errors name it.
pub const COMMAND: &str = "pbsnodes -a";

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbsNode {
    /// Its name (the block header).
    pub name: String,
    /// Cores: `resources_available.ncpus`, else Torque's `np`.
    pub ncpus: Option<u32>,
    /// Memory in kB: `resources_available.mem`, else Torque's `physmem` of `status`.
    pub mem_kb: Option<u64>,
    /// `state` (`free`, `job-busy`, `down`, `offline`, ...).
    pub state: String,
    /// `queue`: the one queue whose jobs it runs, when the site ties nodes to queues.
    pub queue: Option<String>,
}

/// The nodes, in the order pbsnodes lists them.
pub fn parse_pbsnodes(text: &str) -> Result<Vec<PbsNode>, ReplyError> {
    let mut nodes = Vec::new();
    for block in parse_blocks(COMMAND, text)? {
        let ncpus = match block
            .get("resources_available.ncpus")
            .or_else(|| block.get("np"))
        {
            None => None,
            Some(n) => Some(cores(COMMAND, "resources_available.ncpus", n)?),
        };
        let mem = block
            .get("resources_available.mem")
            .map(str::to_owned)
            .or_else(|| {
                block.get("status").and_then(|status| {
                    status
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("physmem="))
                        .map(str::to_owned)
                })
            });
        let mem_kb = match mem {
            None => None,
            Some(m) => Some(pbs_size_kb(&m).ok_or_else(|| {
                ReplyError::new(
                    COMMAND,
                    "resources_available.mem",
                    m,
                    "expected e.g. 196608kb",
                )
            })?),
        };
        nodes.push(PbsNode {
            name: block.header.clone(),
            ncpus,
            mem_kb,
            state: block.get("state").unwrap_or("").to_owned(),
            queue: block.get("queue").map(str::to_owned),
        });
    }
    Ok(nodes)
}
