//! `sacct --json` replies (Slurm >= 21.08), read into [`JobStatus`]es.
//!
//! The adapter itself asks for `--parsable2` text, which every Slurm version prints; this
//! reader exists for sites whose sacct is wrapped to give JSON, and to check the text parser's
//! mapping against a second real format. The schema changed between plugin versions, and this
//! reader takes both spellings:
//! - `state.current` is a string up to 22.05 (`"COMPLETED"`), a list from 23.02 (`["COMPLETED"]`);
//! - numbers such as `exit_code.return_code` or `array.task_id` are bare up to 22.05 and
//!   `{"set": true, "infinite": false, "number": 0}` from 23.02.
//!
//! Records are merged like the text reply: one record per job id, the last one wins (a
//! requeued job is listed once per run), and an `OUT_OF_MEMORY` step turns a failed or
//! "completed" job into out-of-memory. The run time is `time.elapsed` (seconds); the peak
//! memory the largest `mem` count (bytes) of the steps' `tres.requested.max`.

use serde_json::Value;

use super::end_reason;
use super::state::{ExitCode, base_state, is_oom_state, map_state, reported_exit};
use super::table::{first_node, has_control, is_valid_job_id, parse_error};
use crate::ids::SchedulerJobId;
use crate::scheduler::{JobState, JobStatus, ParseError};

const WHAT: &str = "sacct --json output";

/// A number in either schema: bare, or `{"set": bool, "number": n}`.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::Object(o) if o.get("set").and_then(Value::as_bool) == Some(true) => {
            o.get("number").and_then(Value::as_i64)
        }
        _ => None,
    }
}

/// The state word in either schema: `"X"` or `["X", "FLAG"...]` (flags after the base word).
fn state_word(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => {
            let words: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            (!words.is_empty()).then(|| words.join(" "))
        }
        _ => None,
    }
}

/// The job's `code:signal` from `exit_code`: `return_code` plus `signal.signal_id`.
fn exit_code(value: Option<&Value>) -> Option<ExitCode> {
    let value = value?;
    let code = number(value.get("return_code"));
    let signal = number(value.get("signal").and_then(|s| s.get("signal_id")));
    if code.is_none() && signal.is_none() {
        return None;
    }
    Some(ExitCode {
        code: i32::try_from(code.unwrap_or(0)).ok()?,
        signal: i32::try_from(signal.unwrap_or(0)).ok()?,
    })
}

/// The largest `mem` count (bytes) in the steps' `tres.requested.max` lists, in kB.
fn steps_peak_memory_kb(steps: Option<&Value>) -> Option<u64> {
    steps?
        .as_array()?
        .iter()
        .filter_map(|step| step.get("tres")?.get("requested")?.get("max")?.as_array())
        .flatten()
        .filter(|tres| tres.get("type").and_then(Value::as_str) == Some("mem"))
        .filter_map(|tres| number(tres.get("count")))
        .filter_map(|bytes| u64::try_from(bytes).ok())
        .filter(|&bytes| bytes > 0)
        .max()
        .map(|bytes| bytes.div_ceil(1024))
}

/// The jobs of a `sacct --json` reply. Ids are `ARRAY_TASK` for array elements.
pub fn parse_sacct_json(text: &str) -> Result<Vec<JobStatus>, ParseError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| parse_error(WHAT, format!("invalid JSON: {e}"), None))?;
    let jobs = root
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or_else(|| parse_error(WHAT, "no `jobs` list", None))?;
    let mut out: Vec<JobStatus> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let at = |message: String| parse_error(WHAT, format!("jobs[{index}]: {message}"), None);
        let job_id = number(job.get("job_id")).ok_or_else(|| at("no job_id".into()))?;
        let array_job = number(job.get("array").and_then(|a| a.get("job_id"))).unwrap_or(0);
        let task = number(job.get("array").and_then(|a| a.get("task_id")));
        let id = match (array_job, task) {
            (a, Some(t)) if a != 0 => format!("{a}_{t}"),
            _ => job_id.to_string(),
        };
        if !is_valid_job_id(&id) {
            return Err(at(format!("{id:?} is not a Slurm job id")));
        }
        let raw = state_word(job.get("state").and_then(|s| s.get("current")))
            .ok_or_else(|| at("no state.current".into()))?;
        let reason = job
            .get("state")
            .and_then(|s| s.get("reason"))
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty() && *r != "None")
            .map(str::to_owned);
        let name = job
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        for text in [Some(raw.as_str()), reason.as_deref(), name] {
            if text.is_some_and(has_control) {
                return Err(at("a value holds a control character".into()));
            }
        }
        let exit = exit_code(job.get("exit_code"));
        let node =
            first_node(job.get("nodes").and_then(Value::as_str).unwrap_or("")).map_err(&at)?;
        let mut state = map_state(&raw, reason.as_deref(), exit);
        let step_oom = job
            .get("steps")
            .and_then(Value::as_array)
            .is_some_and(|steps| {
                steps
                    .iter()
                    .any(|s| state_word(s.get("state")).is_some_and(|w| is_oom_state(&w)))
            });
        let reason_word = reason.as_deref().filter(|_| state != JobState::Succeeded);
        let mut scheduler_reason = state
            .is_final()
            .then(|| end_reason(&raw, reason_word, exit));
        if step_oom && matches!(state, JobState::Succeeded | JobState::Failed { .. }) {
            state = JobState::OutOfMemory;
            if let Some(r) = &mut scheduler_reason {
                r.push_str(", a step OUT_OF_MEMORY");
            }
        }
        let elapsed_secs = number(job.get("time").and_then(|t| t.get("elapsed")))
            .and_then(|s| u64::try_from(s).ok());
        let status = JobStatus {
            id: SchedulerJobId::new(id),
            name: name.map(str::to_owned),
            raw_state: base_state(&raw).to_owned(),
            exit_code: reported_exit(&state, exit),
            state,
            node,
            reason,
            elapsed_secs,
            peak_memory_kb: steps_peak_memory_kb(job.get("steps")),
            scheduler_reason,
        };
        match out.iter_mut().find(|s| s.id == status.id) {
            Some(previous) => *previous = status,
            None => out.push(status),
        }
    }
    Ok(out)
}
