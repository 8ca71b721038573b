//! `scontrol show job` replies (the multi-line form and the one-line `-o` form), read into
//! [`JobStatus`]es.
//!
//! The adapter does not use scontrol for status (squeue is one machine-readable line per job),
//! but scontrol is what users paste into bug reports and what some sites allow when squeue is
//! wrapped; reading it costs little. The format is `Key=Value` words separated by blanks and
//! newlines; a record starts at `JobId=`. Values may contain blanks (`Command=run.sh a b`,
//! `JobName=my job`): a word without `=` continues the previous value. Only the keys xpr needs
//! are read; a word with `=` inside a value (`Command=x a=b`) would be taken as a key, which is
//! harmless for those keys. `RunTime` gives the run time; scontrol knows nothing of memory
//! use.

use super::end_reason;
use super::state::{ExitCode, base_state, map_state, reported_exit};
use super::table::{first_node, has_control, is_valid_job_id, parse_error, parse_slurm_duration};
use crate::ids::SchedulerJobId;
use crate::scheduler::{JobState, JobStatus, ParseError};

const WHAT: &str = "scontrol show job output";

/// The jobs in `scontrol show job [-o]` output. Array elements get the id `ARRAY_TASK`
/// (`ArrayJobId` and `ArrayTaskId`), pending array ranges `ARRAY_[RANGE]`.
pub fn parse_scontrol_show_job(text: &str) -> Result<Vec<JobStatus>, ParseError> {
    let mut records: Vec<Vec<(String, String)>> = Vec::new();
    for word in text.split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) => {
                if key == "JobId" {
                    records.push(Vec::new());
                }
                let record = records.last_mut().ok_or_else(|| {
                    parse_error(WHAT, "text before the first `JobId=`", Some(word))
                })?;
                record.push((key.to_owned(), value.to_owned()));
            }
            None => {
                // A blank inside a value (or a `Key:Value` word, e.g. `NtasksPerTRES:0`).
                if let Some((_, value)) = records.last_mut().and_then(|r| r.last_mut()) {
                    value.push(' ');
                    value.push_str(word);
                } else {
                    return Err(parse_error(
                        WHAT,
                        "text before the first `JobId=`",
                        Some(word),
                    ));
                }
            }
        }
    }
    records.iter().map(|r| status_of(r)).collect()
}

fn status_of(record: &[(String, String)]) -> Result<JobStatus, ParseError> {
    let get = |key: &str| {
        record
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let job_id = get("JobId").unwrap_or_default();
    let id = match (get("ArrayJobId"), get("ArrayTaskId")) {
        (Some(array), Some(task)) if task.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{array}_{task}")
        }
        (Some(array), Some(task)) => format!("{array}_[{task}]"),
        _ => job_id.to_owned(),
    };
    if !is_valid_job_id(&id) {
        return Err(parse_error(WHAT, "not a Slurm job id", Some(&id)));
    }
    let raw = get("JobState")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| parse_error(WHAT, format!("job {id} has no JobState"), None))?;
    let reason = get("Reason").filter(|r| !r.is_empty() && *r != "None");
    let name = get("JobName").filter(|n| !n.is_empty());
    for value in [Some(raw), reason, name] {
        if value.is_some_and(has_control) {
            return Err(parse_error(
                WHAT,
                format!("job {id}: control character"),
                value,
            ));
        }
    }
    let exit = match get("ExitCode") {
        Some(text) => Some(
            ExitCode::parse(text)
                .ok_or_else(|| parse_error(WHAT, format!("job {id}: bad ExitCode"), Some(text)))?,
        ),
        None => None,
    };
    let node = first_node(get("NodeList").unwrap_or(""))
        .map_err(|m| parse_error(WHAT, format!("job {id}: {m}"), None))?;
    let state = map_state(raw, reason, exit);
    let scheduler_reason = state.is_final().then(|| {
        let reason = reason.filter(|_| state != JobState::Succeeded);
        end_reason(raw, reason, exit)
    });
    Ok(JobStatus {
        id: SchedulerJobId::new(id),
        name: name.map(str::to_owned),
        raw_state: base_state(raw).to_owned(),
        exit_code: reported_exit(&state, exit),
        state,
        node,
        reason: reason.map(str::to_owned),
        // scontrol knows the run time (`RunTime=00:00:05`) but not the memory used.
        elapsed_secs: get("RunTime").and_then(parse_slurm_duration),
        peak_memory_kb: None,
        scheduler_reason,
    })
}
