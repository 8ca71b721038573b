//! Grid Engine's `qhost -q`: each execution host's CPUs and memory, and under it each queue
//! instance on it with its slots (`reserved/used/total`).
//!
//! ```text
//! HOSTNAME                ARCH         NCPU NSOC NCOR NTHR  LOAD  MEMTOT  MEMUSE  SWAPTO  SWAPUS
//! ----------------------------------------------------------------------------------------------
//! global                  -               -    -    -    -     -       -       -       -       -
//! vm                      lx-amd64        2    1    2    2  0.82   23.5G  734.7M     0.0     0.0
//!    all.q                BIP   0/0/8
//! ```
//!
//! The columns are found by the header's names (older releases have no NSOC, NCOR, NTHR).
//! `-` is "not known" (a host whose execd is down).

use super::error::ReplyError;
use super::values::{checked_name, cores, size_kb};

/// The command, as errors name it.
pub const COMMAND: &str = "qhost -q";

/// One execution host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgeHost {
    /// Its name.
    pub name: String,
    /// `NCPU`, when known.
    pub ncpu: Option<u32>,
    /// `MEMTOT` in kB, when known.
    pub mem_total_kb: Option<u64>,
    /// The queues on it with their total slots there.
    pub queues: Vec<(String, u32)>,
}

/// The hosts (not `global`), in order.
pub fn parse_qhost(text: &str) -> Result<Vec<SgeHost>, ReplyError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .ok_or_else(|| ReplyError::new(COMMAND, "reply", "", "no header line"))?;
    let columns: Vec<&str> = header.split_whitespace().collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| ReplyError::new(COMMAND, "header", header, format!("no {name} column")))
    };
    let (ncpu_col, mem_col) = (column("NCPU")?, column("MEMTOT")?);
    let mut hosts: Vec<SgeHost> = Vec::new();
    for line in lines {
        if line.starts_with('-') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with([' ', '\t']) {
            // A queue instance: name, type, resv/used/tot, optional states.
            let (Some(queue), Some(slots)) = (words.first(), words.get(2)) else {
                return Err(ReplyError::new(
                    COMMAND,
                    "queue line",
                    line,
                    "too few fields",
                ));
            };
            let total = slots.rsplit('/').next().unwrap_or_default();
            let total = cores(COMMAND, "slots", total)?;
            if let Some(host) = hosts.last_mut() {
                host.queues.push((checked_name(COMMAND, queue)?, total));
            }
            continue;
        }
        if words.len() < columns.len() {
            return Err(ReplyError::new(
                COMMAND,
                "host line",
                line,
                "too few fields",
            ));
        }
        if words[0] == "global" {
            continue;
        }
        let ncpu = match words[ncpu_col] {
            "-" => None,
            n => Some(cores(COMMAND, "NCPU", n)?),
        };
        let mem_total_kb = match words[mem_col] {
            "-" => None,
            m => Some(size_kb(m, 1).ok_or_else(|| {
                ReplyError::new(COMMAND, "MEMTOT", m, "expected a size such as 23.5G")
            })?),
        };
        hosts.push(SgeHost {
            name: words[0].to_owned(),
            ncpu,
            mem_total_kb,
            queues: Vec::new(),
        });
    }
    Ok(hosts)
}
