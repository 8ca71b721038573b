//! LSF's `lshosts -w`: each host's cores, memory and whether it runs jobs.
//!
//! ```text
//! HOST_NAME      type    model  cpuf ncpus maxmem maxswp server RESOURCES
//! node211      X86_64 Intel_EM  60.0     8  15.3G      -    Yes (mg)
//! ```
//!
//! The columns are found by the header's names; `-` is "not known". `RESOURCES` (last) may
//! hold blanks and is not read.

use super::error::ReplyError;
use super::values::{cores, size_kb};

/// The command, as errors name it.
pub const COMMAND: &str = "lshosts -w";

/// One host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsfHost {
    /// Its name.
    pub name: String,
    /// `ncpus`, when known.
    pub ncpus: Option<u32>,
    /// `maxmem` in kB, when known.
    pub maxmem_kb: Option<u64>,
    /// `server` is `Yes` or `Dyn`: the host runs batch jobs.
    pub server: bool,
}

/// The hosts, in order.
pub fn parse_lshosts(text: &str) -> Result<Vec<LsfHost>, ReplyError> {
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
    let (ncpus_col, mem_col, server_col) = (column("ncpus")?, column("maxmem")?, column("server")?);
    let mut hosts = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() <= server_col {
            return Err(ReplyError::new(
                COMMAND,
                "host line",
                line,
                "too few fields",
            ));
        }
        let ncpus = match words[ncpus_col] {
            "-" => None,
            n => Some(cores(COMMAND, "ncpus", n)?),
        };
        let maxmem_kb = match words[mem_col] {
            "-" => None,
            m => Some(size_kb(m, 1 << 10).ok_or_else(|| {
                ReplyError::new(COMMAND, "maxmem", m, "expected a size such as 15.3G")
            })?),
        };
        hosts.push(LsfHost {
            name: words[0].to_owned(),
            ncpus,
            maxmem_kb,
            server: matches!(words[server_col], "Yes" | "Dyn"),
        });
    }
    Ok(hosts)
}
