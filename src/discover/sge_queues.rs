//! Grid Engine's `qconf -sq QUEUE` for every queue of `qconf -sql`, one after the other (each
//! record starts at `qname`): the queue's type, parallel environments, time and memory limits.
//!
//! ```text
//! qname                 all.q
//! hostlist              @allhosts
//! qtype                 BATCH INTERACTIVE
//! pe_list               smp
//! slots                 1,[node01=8], \
//!                       [node02=16]
//! h_rt                  INFINITY
//! h_vmem                INFINITY
//! ```
//!
//! A value ending in `\` continues on the next line. A value may be a default followed by
//! per-host overrides (`1,[node01=8]`): the default is what is read here (the slots of each
//! host come from `qhost -q`).

use super::error::ReplyError;
use super::values::checked_name;

/// The command, as errors name it.
pub const COMMAND: &str = "qconf -sq";

/// A cluster queue and what it caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgeQueue {
    /// `qname`.
    pub name: String,
    /// True when `qtype` has `BATCH`.
    pub batch: bool,
    /// `pe_list`'s default: the parallel environments jobs of this queue may ask for.
    pub pe_list: Vec<String>,
    /// The least of `h_rt` and `s_rt`, in seconds; `None` for `INFINITY`.
    pub max_time: Option<u64>,
    /// `h_vmem` per slot in kB; `None` for `INFINITY`.
    pub h_vmem_kb: Option<u64>,
}

/// The queues, in order.
pub fn parse_qconf_queues(text: &str) -> Result<Vec<SgeQueue>, ReplyError> {
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            continuing = false;
            continue;
        }
        if continuing {
            let (_, value) = records
                .last_mut()
                .and_then(|r| r.last_mut())
                .expect("a continuation follows a value");
            let more = line.trim();
            continuing = more.ends_with('\\');
            value.push_str(more.trim_end_matches('\\').trim_end());
            continue;
        }
        let (key, value) = line
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((line.trim(), ""));
        if key == "qname" {
            records.push(Vec::new());
        }
        let Some(record) = records.last_mut() else {
            return Err(ReplyError::new(
                COMMAND,
                "line",
                line,
                "text before the first `qname`",
            ));
        };
        let value = value.trim();
        continuing = value.ends_with('\\');
        record.push((
            key.to_owned(),
            value.trim_end_matches('\\').trim_end().to_owned(),
        ));
    }
    records.iter().map(|r| queue(r)).collect()
}

fn queue(record: &[(String, String)]) -> Result<SgeQueue, ReplyError> {
    let get = |key: &str| {
        record
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let name = checked_name(COMMAND, get("qname").unwrap_or_default())?;
    let time = |key: &'static str| -> Result<Option<u64>, ReplyError> {
        match get(key).map(default_part) {
            None => Ok(None),
            Some(t) => sge_time(t).map_err(|why| ReplyError::new(COMMAND, key, t, why)),
        }
    };
    let max_time = match (time("h_rt")?, time("s_rt")?) {
        (Some(h), Some(s)) => Some(h.min(s)),
        (h, s) => h.or(s),
    };
    let h_vmem_kb = match get("h_vmem").map(default_part) {
        None => None,
        Some(m) => sge_mem_kb(m).map_err(|why| ReplyError::new(COMMAND, "h_vmem", m, why))?,
    };
    let pe_list = match get("pe_list").map(default_part) {
        None | Some("NONE") => Vec::new(),
        Some(list) => list
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(|p| checked_name(COMMAND, p))
            .collect::<Result<_, _>>()?,
    };
    Ok(SgeQueue {
        name,
        batch: get("qtype").is_some_and(|t| t.split_whitespace().any(|w| w == "BATCH")),
        pe_list,
        max_time,
        h_vmem_kb,
    })
}

/// The default of a value with per-host overrides: `1,[node01=8]` -> `1`.
fn default_part(value: &str) -> &str {
    match value.find(",[") {
        Some(i) => &value[..i],
        None if value.starts_with('[') => "",
        None => value,
    }
    .trim()
}

/// A Grid Engine time: `INFINITY`, `[[h:]m:]s` or seconds.
pub fn sge_time(text: &str) -> Result<Option<u64>, &'static str> {
    if text.eq_ignore_ascii_case("INFINITY") {
        return Ok(None);
    }
    let mut seconds: u64 = 0;
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return Err("expected INFINITY or h:m:s");
    }
    for part in parts {
        let v: u64 = part
            .parse()
            .ok()
            .filter(|_| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("expected INFINITY or h:m:s")?;
        seconds = seconds
            .checked_mul(60)
            .and_then(|s| s.checked_add(v))
            .ok_or("too large")?;
    }
    Ok(Some(seconds))
}

/// A Grid Engine memory size in kB: `INFINITY`, bytes, or a number with `K`/`M`/`G`/`T`
/// (binary) or `k`/`m`/`g`/`t` (decimal).
pub fn sge_mem_kb(text: &str) -> Result<Option<u64>, &'static str> {
    const WHY: &str = "expected INFINITY or a size such as 4G";
    if text.eq_ignore_ascii_case("INFINITY") {
        return Ok(None);
    }
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: f64 = number.parse().map_err(|_| WHY)?;
    let bytes = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        _ => return Err(WHY),
    };
    let kb = number * bytes / 1024.0;
    if kb.is_finite() && kb < 1.8e19 {
        Ok(Some(kb as u64))
    } else {
        Err(WHY)
    }
}
