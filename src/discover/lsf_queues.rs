//! LSF's `bqueues -l`: each queue's status, run and memory limits, and hosts.
//!
//! ```text
//! QUEUE: normal
//!   -- For normal low priority jobs, running only if hosts are lightly loaded.
//!
//! PARAMETERS/STATISTICS
//! PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV PJOBS
//!  30   20  Open:Active       -    -    -    -     0     0     0     0     0    0     0
//!
//!  RUNLIMIT
//!  720.0 min
//!
//!  MEMLIMIT
//!       4 G
//!
//! USERS: all
//! HOSTS:  all
//! ```
//!
//! A limit is a line of limit names with the line of their values under it; limits under
//! `DEFAULT LIMITS:` are defaults, not caps, and are skipped. `RUNLIMIT` is in minutes
//! (`720.0 min`, maybe `of HOST` when normalised to a host); `MEMLIMIT` has a unit letter
//! (LSF's `LSF_UNIT_FOR_LIMITS`, KB when none is printed). In `HOSTS:` a name ending in `/`
//! is a host group; `all` is every server host.

use super::error::ReplyError;
use super::values::{checked_name, size_kb};

/// The command, as errors name it.
pub const COMMAND: &str = "bqueues -l";

/// The limit names a limit line may hold.
const LIMIT_NAMES: &[&str] = &[
    "RUNLIMIT",
    "CPULIMIT",
    "MEMLIMIT",
    "SWAPLIMIT",
    "PROCESSLIMIT",
    "THREADLIMIT",
    "FILELIMIT",
    "DATALIMIT",
    "STACKLIMIT",
    "CORELIMIT",
    "PROCLIMIT",
    "TASKLIMIT",
];

/// Where a queue's jobs may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LsfHosts {
    /// `all`: every server host (exclusions such as `~hostA` are not applied).
    All,
    /// Named hosts and host groups (a group's name without its `/`).
    Named {
        /// Host names.
        hosts: Vec<String>,
        /// Host group names.
        groups: Vec<String>,
    },
}

/// A queue and what it caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsfQueue {
    /// Its name.
    pub name: String,
    /// `STATUS`, e.g. `Open:Active`, `Closed:Inact`.
    pub status: String,
    /// `RUNLIMIT` in seconds.
    pub run_limit: Option<u64>,
    /// `MEMLIMIT` in kB.
    pub mem_limit_kb: Option<u64>,
    /// `HOSTS:`.
    pub hosts: LsfHosts,
}

impl LsfQueue {
    /// True when the queue takes jobs (`Open:...`).
    pub fn is_open(&self) -> bool {
        self.status.starts_with("Open")
    }
}

/// The queues, in the order bqueues lists them.
pub fn parse_bqueues(text: &str) -> Result<Vec<LsfQueue>, ReplyError> {
    let mut queues: Vec<LsfQueue> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut defaults = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        let trimmed = line.trim();
        i += 1;
        if let Some(name) = trimmed.strip_prefix("QUEUE:") {
            queues.push(LsfQueue {
                name: checked_name(COMMAND, name.trim())?,
                status: String::new(),
                run_limit: None,
                mem_limit_kb: None,
                hosts: LsfHosts::All,
            });
            defaults = false;
            continue;
        }
        let Some(queue) = queues.last_mut() else {
            continue;
        };
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        if trimmed.starts_with("DEFAULT LIMITS") {
            defaults = true;
        } else if trimmed.starts_with("MAXIMUM LIMITS") || trimmed.starts_with("SCHEDULING") {
            defaults = false;
        } else if words.first() == Some(&"PRIO") && words.contains(&"STATUS") {
            let at = words.iter().position(|w| *w == "STATUS").unwrap_or(2);
            let values = next_values(&lines, &mut i);
            queue.status = values
                .split_whitespace()
                .nth(at)
                .unwrap_or_default()
                .to_owned();
        } else if !words.is_empty() && words.iter().all(|w| LIMIT_NAMES.contains(w)) {
            let values = next_values(&lines, &mut i);
            if defaults {
                continue;
            }
            for (name, value) in limit_values(&words, values) {
                let value = value.as_str();
                match name {
                    "RUNLIMIT" => queue.run_limit = Some(run_limit(value)?),
                    "MEMLIMIT" => {
                        let compact: String = value
                            .split(" of ")
                            .next()
                            .unwrap_or_default()
                            .split_whitespace()
                            .collect();
                        queue.mem_limit_kb = Some(size_kb(&compact, 1).ok_or_else(|| {
                            ReplyError::new(COMMAND, "MEMLIMIT", value, "expected e.g. `4 G`")
                        })?);
                    }
                    _ => {}
                }
            }
        } else if let Some(hosts) = trimmed.strip_prefix("HOSTS:") {
            queue.hosts = parse_hosts(hosts)?;
        }
    }
    Ok(queues)
}

/// The next non-blank line (the values under a header line).
fn next_values<'a>(lines: &[&'a str], i: &mut usize) -> &'a str {
    while *i < lines.len() && lines[*i].trim().is_empty() {
        *i += 1;
    }
    let line = lines.get(*i).copied().unwrap_or_default();
    *i += 1;
    line
}

/// The value of each limit name of a header line. One name takes the whole line; several
/// take one `NUMBER [UNIT] [of HOST]` group each, in order, when the counts agree (a
/// `TASKLIMIT` of `1 4 8` is three numbers under one name: then nothing is read).
fn limit_values<'a>(names: &[&'a str], values: &str) -> Vec<(&'a str, String)> {
    if names.len() == 1 {
        return vec![(names[0], values.trim().to_owned())];
    }
    let words: Vec<&str> = values.split_whitespace().collect();
    let mut groups: Vec<String> = Vec::new();
    let mut k = 0;
    while k < words.len() {
        let mut group = vec![words[k]];
        k += 1;
        if let Some(unit) = words
            .get(k)
            .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()) && **w != "of")
        {
            group.push(unit);
            k += 1;
        }
        if words.get(k) == Some(&"of") {
            group.extend(words.get(k..k + 2).unwrap_or(&words[k..]));
            k += 2;
        }
        groups.push(group.join(" "));
    }
    if groups.len() == names.len() {
        names.iter().copied().zip(groups).collect()
    } else {
        Vec::new()
    }
}

fn run_limit(value: &str) -> Result<u64, ReplyError> {
    let bad = || ReplyError::new(COMMAND, "RUNLIMIT", value, "expected e.g. `720.0 min`");
    let mut words = value.split_whitespace();
    let minutes: f64 = words.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    if words.next() != Some("min") || !minutes.is_finite() || minutes < 0.0 {
        return Err(bad());
    }
    Ok((minutes * 60.0).round() as u64)
}

fn parse_hosts(text: &str) -> Result<LsfHosts, ReplyError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.contains(&"all") {
        return Ok(LsfHosts::All);
    }
    let (mut hosts, mut groups) = (Vec::new(), Vec::new());
    for word in words {
        if word.starts_with('~') || word.contains('+') {
            // An exclusion or a preference level (`hostA+2`): not a host list xpr can use.
            continue;
        }
        match word.strip_suffix('/') {
            Some(group) => groups.push(group.to_owned()),
            None => hosts.push(word.to_owned()),
        }
    }
    Ok(LsfHosts::Named { hosts, groups })
}
