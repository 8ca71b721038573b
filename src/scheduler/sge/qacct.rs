//! Parsing `qacct -j` records (Grid Engine's accounting) and deciding a finished job's state.
//!
//! A record starts with a line of `=` and holds `key value` lines, padded into columns, with
//! trailing blanks (`jobnumber    7                   `). Values may hold spaces (`category
//! -l h_rt=600,h_vmem=1G`, `failed 37  : qmaster enforced h_rt, h_cpu, or h_vmem limit`) or a
//! note (`exit_status  137                  (Killed)`). A plain `qacct` (without `-j`) ends with
//! a summary table (`OWNER  WALLCLOCK ...`); it is skipped. Outputs of several `qacct` runs may
//! be concatenated.
//!
//! # Final states
//!
//! Observed on Son of Grid Engine 8.1.9 (`fixtures/sge/qacct/`):
//!
//! | `failed` | `exit_status` | what happened | [`JobState`] |
//! |---|---|---|---|
//! | `0` | `0` | success | `Succeeded` |
//! | `0` | `4` | the script exited 4 | `Failed { Some(4) }` |
//! | `37 : qmaster enforced h_rt, h_cpu, or h_vmem limit` | `137 (Killed)` | over `h_rt` | `Timeout` (or `OutOfMemory` when the record shows `maxvmem` at the `h_vmem` request and the run time under `h_rt`) |
//! | `100 : assumedly after job` | `138 (User defined signal 1)` | over `s_rt` (SIGUSR1) | `Timeout` when `ru_wallclock` reached the `s_rt`/`h_rt` of `category` |
//! | `100 : assumedly after job` | `137 (Killed)` | `qdel` of a running job, **or** any SIGKILL (the kernel's OOM killer, `kill -9`) | `Failed { Some(137) }`: accounting cannot tell them apart; `qstat` shows a deletion as `dr` (mapped to `Cancelled`) and xpr knows which jobs it cancelled |
//! | `26 : opening input/output file` (and other launch failures) | `0` | never started; the job stays listed as `Eqw` | `Failed { None }`, the reason is the `failed` text |
//! | `24`/`25` (migrating, rescheduling) | any | it runs again | `Queued` |
//!
//! A pending job deleted with `qdel` leaves **no** record at all; `h_vmem` is enforced by
//! `setrlimit`, so a job over it usually fails its own allocation and ends `failed 0` with its
//! own exit code.
//!
//! Job numbers are reused (they wrap at 10 million and restart when a qmaster's spool is
//! reset), so one number can have several records of different jobs. Records are kept per
//! (id, name), the last one (the newest: the accounting file is append-only) winning; callers
//! should check the name.

use crate::command::CommandOutput;
use crate::scheduler::sge::ids::SgeId;
use crate::scheduler::sge::parse_error;
use crate::scheduler::{JobState, JobStatus, ParseError};

const WHAT: &str = "qacct output";

/// One accounting record: its `key value` lines in order, values right-trimmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QacctRecord {
    /// The fields in order of appearance.
    pub fields: Vec<(String, String)>,
}

impl QacctRecord {
    /// The value of `key`, if present and not `undefined`/`NONE`/empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "undefined" && *v != "NONE")
    }

    /// The job (or task) this record is for.
    pub fn id(&self) -> Result<SgeId, ParseError> {
        let number = self.get("jobnumber").unwrap_or("");
        let id = SgeId::parse(number).filter(|id| id.tasks.is_none());
        let mut id = id.ok_or_else(|| {
            parse_error(
                WHAT,
                "a record without a valid jobnumber".to_owned(),
                Some(format!("jobnumber {number}")),
            )
        })?;
        if let Some(task) = self.get("taskid") {
            let task = SgeId::parse(&format!("{}.{task}", id.job))
                .filter(|t| t.tasks.is_some_and(|r| r.is_single()))
                .ok_or_else(|| {
                    parse_error(
                        WHAT,
                        format!("job {} has an invalid taskid", id.job),
                        Some(format!("taskid {task}")),
                    )
                })?;
            id = task;
        }
        Ok(id)
    }

    /// `failed` as (code, message): `0` -> (0, ""), `37  : qmaster enforced ...` -> (37, "...").
    pub fn failed(&self) -> Option<(u32, &str)> {
        let value = self.get("failed")?;
        let (code, message) = match value.split_once(':') {
            Some((code, message)) => (code.trim(), message.trim()),
            None => (value.trim(), ""),
        };
        Some((code.parse().ok()?, message))
    }

    /// `exit_status` without its note: `137 (Killed)` -> 137.
    pub fn exit_status(&self) -> Option<i32> {
        self.get("exit_status")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// `ru_wallclock` in seconds (`4s`, or a bare `4`/`4.000` from older versions).
    pub fn wallclock_seconds(&self) -> Option<f64> {
        let value = self.get("ru_wallclock")?;
        value.strip_suffix('s').unwrap_or(value).parse().ok()
    }

    /// `maxvmem` in bytes (`4.844MB`, `0.000B`; qacct scales by 1024).
    pub fn maxvmem_bytes(&self) -> Option<f64> {
        parse_scaled_bytes(self.get("maxvmem")?)
    }

    /// The value of resource request `name` (`h_rt`, `h_vmem` ...) in the record's `category`
    /// (the job's `-l` requests), verbatim.
    pub fn requested(&self, name: &str) -> Option<&str> {
        let category = self.get("category")?;
        let mut words = category.split_whitespace();
        let mut found = None;
        while let Some(word) = words.next() {
            if word != "-l" {
                continue;
            }
            for request in words.next().unwrap_or("").split(',') {
                if let Some((key, value)) = request.split_once('=')
                    && key == name
                {
                    found = Some(value);
                }
            }
        }
        found
    }
}

/// The records of one or more concatenated `qacct -j` outputs, in order.
pub fn parse_qacct(text: &str) -> Result<Vec<QacctRecord>, ParseError> {
    let mut records = Vec::new();
    let mut current: Option<QacctRecord> = None;
    let mut in_summary = false;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            in_summary = false;
            continue;
        }
        if trimmed.bytes().all(|b| b == b'=') {
            finish(&mut records, current.take())?;
            // A summary's own rule sits under its header line; record rules start records.
            if !in_summary {
                current = Some(QacctRecord::default());
            }
            continue;
        }
        if in_summary {
            continue;
        }
        let (key, value) = match trimmed.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((key, value)) => (key, value.trim()),
            None => (trimmed, ""),
        };
        // Record keys are lower case; an upper-case first word is a summary header
        // (`OWNER`, `HOST`, `Total System Usage`).
        if key.starts_with(|c: char| c.is_ascii_uppercase()) {
            finish(&mut records, current.take())?;
            in_summary = true;
            continue;
        }
        let Some(record) = current.as_mut() else {
            return Err(parse_error(
                WHAT,
                format!("line {} is outside any record", number + 1),
                Some(trimmed.to_owned()),
            ));
        };
        record.fields.push((key.to_owned(), value.to_owned()));
    }
    finish(&mut records, current.take())?;
    Ok(records)
}

/// Ends a record: an empty one (a rule with nothing after it) is dropped, any other must name
/// its job.
fn finish(records: &mut Vec<QacctRecord>, record: Option<QacctRecord>) -> Result<(), ParseError> {
    match record {
        Some(record) if !record.fields.is_empty() => {
            record.id()?;
            records.push(record);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// True for `qacct`'s benign stderr lines: `error: job id 12 not found` and `error: job name
/// N_x not found` (the job has not finished, or its record is not flushed yet, or it never
/// ran).
pub fn is_not_found_line(line: &str) -> bool {
    let line = line.trim();
    (line.starts_with("error: job id ") || line.starts_with("error: job name "))
        && line.ends_with(" not found")
}

/// Parses the records of an accounting command's output, refusing an output that has none and
/// an error on stderr other than "not found" (qacct missing, accounting file unreadable).
pub fn parse_qacct_output(output: &CommandOutput) -> Result<Vec<QacctRecord>, ParseError> {
    let records = parse_qacct(&output.stdout_text())?;
    if records.is_empty() {
        let stderr = output.stderr_text();
        if let Some(line) = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !is_not_found_line(l))
        {
            return Err(parse_error(
                WHAT,
                "qacct failed".to_owned(),
                Some(line.to_owned()),
            ));
        }
    }
    Ok(records)
}

/// The final state a record shows (table in the module docs). `name_of` maps the job name.
pub fn status_from_record(
    record: &QacctRecord,
    name_of: impl Fn(&str) -> String,
) -> Result<JobStatus, ParseError> {
    let id = record.id()?;
    let (failed, message) = record.failed().ok_or_else(|| {
        parse_error(
            WHAT,
            format!("job {id} has no valid `failed` field"),
            record.get("failed").map(str::to_owned),
        )
    })?;
    let exit = record.exit_status();
    let signal = exit.filter(|&e| e > 128 && e < 128 + 65).map(|e| e - 128);
    let (state, reason) = match failed {
        0 => match exit {
            Some(0) => (JobState::Succeeded, None),
            Some(code) => (
                JobState::Failed {
                    exit_code: Some(code),
                },
                None,
            ),
            None => (JobState::Failed { exit_code: None }, None),
        },
        24 | 25 => (
            JobState::Queued,
            Some(format!("{message}: the job runs again")),
        ),
        37 => (
            limit_state(record).unwrap_or(JobState::Timeout),
            Some(message.to_owned()),
        ),
        100 => match limit_state(record) {
            Some(state) => (state, Some(format!("{message}; over its limit"))),
            None => (
                JobState::Failed { exit_code: exit },
                Some(match signal {
                    Some(9) => "killed by SIGKILL (qdel, a limit or the kernel's OOM killer: \
                                grid engine accounting does not tell which)"
                        .to_owned(),
                    Some(sig) => format!("killed by signal {sig}"),
                    None => message.to_owned(),
                }),
            ),
        },
        // Launch failures (1-23, 26-36, 38...): the job script never ran.
        _ => (
            JobState::Failed { exit_code: None },
            Some(if message.is_empty() {
                format!("grid engine failure code {failed}")
            } else {
                message.to_owned()
            }),
        ),
    };
    Ok(JobStatus {
        id: id.to_job_id(),
        name: record.get("jobname").map(&name_of),
        raw_state: if failed == 0 {
            format!(
                "exit_status {}",
                exit.map_or("?".to_owned(), |e| e.to_string())
            )
        } else {
            format!("failed {failed}")
        },
        state,
        exit_code: exit,
        node: record.get("hostname").map(str::to_owned),
        reason,
        elapsed_secs: record.wallclock_seconds().map(|s| s.round() as u64),
        // Sampled by the execd (every `load_report_time`): 0 means no sample, not no memory.
        peak_memory_kb: record
            .maxvmem_bytes()
            .filter(|&bytes| bytes > 0.0)
            .map(|bytes| (bytes / 1024.0).ceil() as u64),
        scheduler_reason: Some(end_reason(failed, message, record.get("exit_status"))),
    })
}

/// Grid Engine's own words on a finished job: its `failed` code with its text, and its
/// `exit_status` with qacct's note: `failed 37: qmaster enforced h_rt, h_cpu, or h_vmem
/// limit; exit_status 137 (Killed)`, `failed 0; exit_status 4`.
fn end_reason(failed: u32, message: &str, exit_status: Option<&str>) -> String {
    let mut text = format!("failed {failed}");
    if !message.is_empty() {
        text.push_str(": ");
        text.push_str(message);
    }
    if let Some(exit) = exit_status {
        // `137                  (Killed)`: the columns' padding squeezed to one blank.
        let exit = exit.split_whitespace().collect::<Vec<_>>().join(" ");
        text.push_str("; exit_status ");
        text.push_str(&exit);
    }
    text
}

/// Timeout or OutOfMemory when the record shows the job at a limit it requested: run time at
/// `h_rt` or `s_rt`, or peak memory at `h_vmem`. `None` when no requested limit was reached
/// (or none was requested).
fn limit_state(record: &QacctRecord) -> Option<JobState> {
    let wall = record.wallclock_seconds();
    let reached_time = ["h_rt", "s_rt"].iter().any(|key| {
        let limit = record.requested(key).and_then(parse_seconds);
        matches!((wall, limit), (Some(w), Some(l)) if w + 0.5 >= l)
    });
    if reached_time {
        return Some(JobState::Timeout);
    }
    let vmem = record.maxvmem_bytes();
    let limit = record.requested("h_vmem").and_then(parse_memory);
    match (vmem, limit) {
        (Some(used), Some(limit)) if used >= 0.95 * limit => Some(JobState::OutOfMemory),
        _ => None,
    }
}

/// A Grid Engine time value: seconds (`600`, `600.5`) or `[[H:]M:]S`.
fn parse_seconds(text: &str) -> Option<f64> {
    text.split(':').try_fold(0.0, |acc: f64, part| {
        let part: f64 = if part.is_empty() {
            0.0
        } else {
            part.parse().ok()?
        };
        Some(acc * 60.0 + part)
    })
}

/// A Grid Engine memory request: `100M`, `1G`, `16000000000`; upper-case suffixes scale by
/// 1024, lower-case by 1000 (sge_types(1)).
fn parse_memory(text: &str) -> Option<f64> {
    let (number, scale) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1e3),
        'm' => (&text[..text.len() - 1], 1e6),
        'g' => (&text[..text.len() - 1], 1e9),
        't' => (&text[..text.len() - 1], 1e12),
        'K' => (&text[..text.len() - 1], 1024.0),
        'M' => (&text[..text.len() - 1], 1024.0 * 1024.0),
        'G' => (&text[..text.len() - 1], 1024.0 * 1024.0 * 1024.0),
        'T' => (&text[..text.len() - 1], 1024.0f64.powi(4)),
        _ => (text, 1.0),
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// A qacct usage value: `4.844MB`, `0.000B`, `2.824KB`, `5.558GB`.
fn parse_scaled_bytes(text: &str) -> Option<f64> {
    let units = [
        ("TB", 1024f64.powi(4)),
        ("GB", 1024f64.powi(3)),
        ("MB", 1024f64.powi(2)),
        ("KB", 1024.0),
        ("B", 1.0),
    ];
    for (unit, scale) in units {
        if let Some(number) = text.strip_suffix(unit) {
            return Some(number.parse::<f64>().ok()? * scale);
        }
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(lines: &[(&str, &str)]) -> QacctRecord {
        QacctRecord {
            fields: lines
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn units_parse() {
        assert_eq!(parse_seconds("0:0:3"), Some(3.0));
        assert_eq!(parse_seconds("600"), Some(600.0));
        assert_eq!(parse_memory("100M"), Some(104_857_600.0));
        assert_eq!(parse_memory("1g"), Some(1e9));
        assert_eq!(parse_scaled_bytes("2.5KB"), Some(2560.0));
    }

    #[test]
    fn memory_limit_reached_is_out_of_memory() {
        let r = record(&[
            ("jobnumber", "5"),
            (
                "failed",
                "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
            ),
            ("exit_status", "137                  (Killed)"),
            ("ru_wallclock", "10s"),
            ("maxvmem", "99.900MB"),
            ("category", "-l h_rt=3600,h_vmem=100M"),
        ]);
        let status = status_from_record(&r, str::to_owned).unwrap();
        assert_eq!(status.state, JobState::OutOfMemory);
    }

    #[test]
    fn requests_come_from_every_dash_l() {
        let r = record(&[("category", "-U x -l h_rt=600,h_vmem=1G -P p -l s_rt=5")]);
        assert_eq!(r.requested("h_vmem"), Some("1G"));
        assert_eq!(r.requested("s_rt"), Some("5"));
        assert_eq!(r.requested("tmem"), None);
    }
}
