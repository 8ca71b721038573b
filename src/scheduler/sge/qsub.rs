//! Parsing `qsub`'s reply into the id of the submitted job.
//!
//! xpr submits with `qsub -terse`, which prints the bare id (`123`, or `123.1-5:1` for an array
//! job). The verbose reply of a plain `qsub` is accepted too, because a site wrapper or a
//! `qsub` alias may drop `-terse`: `Your job 123 ("name") has been submitted` and
//! `Your job-array 123.1-5:1 ("name") has been submitted`. Other lines (a JSV or a wrapper
//! chatting on stdout) are skipped, but exactly one id must be found.

use crate::command::CommandOutput;
use crate::ids::SchedulerJobId;
use crate::scheduler::ParseError;
use crate::scheduler::sge::ids::SgeId;
use crate::scheduler::sge::parse_error;

const WHAT: &str = "qsub reply";

/// The job id in a `qsub` reply (terse or verbose). Fails when `qsub` exited non-zero (its
/// stderr is the message), or when the reply holds no id or two different ones.
pub fn parse_qsub_reply(output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
    let stdout = output.stdout_text();
    if !output.succeeded() {
        let stderr = output.stderr_text();
        let message = first_line(&stderr).unwrap_or("(no message on stderr)");
        return Err(parse_error(
            WHAT,
            format!("qsub exited with {}: {message}", exit_text(output.code)),
            None,
        ));
    }
    let mut found: Option<SgeId> = None;
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(id) = id_in_line(line) else { continue };
        match found {
            Some(previous) if previous != id => {
                return Err(parse_error(
                    WHAT,
                    format!("two job ids in one reply ({previous} and {id})"),
                    Some(stdout.trim().to_owned()),
                ));
            }
            _ => found = Some(id),
        }
    }
    found.map(SgeId::to_job_id).ok_or_else(|| {
        parse_error(
            WHAT,
            "no job id found (expected `123`, `123.1-5:1` or `Your job 123 (...) has been submitted`)"
                .to_owned(),
            Some(stdout.trim().to_owned()),
        )
    })
}

/// The id in one reply line: the whole line in terse form, else the word after `Your job` or
/// `Your job-array` in the verbose form.
fn id_in_line(line: &str) -> Option<SgeId> {
    if let Some(id) = SgeId::parse(line) {
        return Some(id);
    }
    let rest = line
        .strip_prefix("Your job-array ")
        .or_else(|| line.strip_prefix("Your job "))?;
    if !rest.ends_with("has been submitted") {
        return None;
    }
    SgeId::parse(rest.split(' ').next()?)
}

/// The first non-empty line of `text`, trimmed.
pub(crate) fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// `exit code 3` or `a signal`, for messages.
pub(crate) fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "a signal".to_owned(),
    }
}
