//! What a job's end means: pure decisions, no I/O, tested as a table.
//!
//! [`decide_end`] turns what is known when a followed job is over (the exit status its script
//! wrote, the expected outputs that are missing, whether xpr asked for its cancellation, and
//! the scheduler's final word, if any) into the task's [`EndState`], exit code and reason:
//!
//! | what is known | end state |
//! |---|---|
//! | `xpr.exit` says 0, expected outputs present, no error lines asked about or none found | `succeeded` |
//! | `xpr.exit` says 0, expected outputs present, error lines found and the task opted in (`error_lines_fail`) | `failed` (exit code 0, the count and first error line in the reason) |
//! | `xpr.exit` says 0, outputs missing | `missing_outputs` |
//! | `xpr.exit` says N != 0 | `failed` (exit code N, stderr tail in the reason) |
//! | no `xpr.exit`, xpr asked for the cancel (whatever the scheduler calls the end) | `cancelled` |
//! | no `xpr.exit`, scheduler: completed | `no_exit_status` |
//! | no `xpr.exit`, scheduler: failed, timeout, out of memory, node fail, preempted, cancelled | `job_failed`, `timeout`, `out_of_memory`, `node_fail`, `preempted`, `cancelled` |
//! | no `xpr.exit`, no word from the scheduler (vanished) | `vanished` |
//!
//! Only `xpr.exit` (written last; empty counts as absent) makes a job's outputs a result: a job that ended
//! without it has its partial outputs kept for inspection, never taken as succeeded.

use std::time::Duration;

use crate::analysis::ErrorFindings;
use crate::db::EndState;
use crate::scheduler::{JobState, JobStatus};
use crate::task::EXIT_FILE;

/// What is known about a followed job that is over.
#[derive(Clone, Debug, Default)]
pub struct EndFacts<'a> {
    /// The exit status the job script wrote to `xpr.exit`, when its run dir came back with it.
    pub exit_status: Option<i32>,
    /// The expected outputs that match nothing in the run dir that came back.
    pub missing_outputs: Vec<String>,
    /// True when xpr asked the scheduler to cancel the job.
    pub cancel_requested: bool,
    /// The scheduler's final word on the job (accounting, else the queue); `None` when it is
    /// in neither and has been missing past the vanish timeout.
    pub job: Option<&'a JobStatus>,
    /// The end of the job's stderr (for the reason of a non-zero exit).
    pub stderr_tail: String,
    /// The error lines of the job's logs, when the task opted in to "error lines mean
    /// failure" ([`ErrorRules::lines_fail`](crate::config::ErrorRules::lines_fail)) and its
    /// logs came back; `None` when not asked (the lines are then not looked for at all).
    pub error_lines: Option<&'a ErrorFindings>,
}

/// Where the job ran and how long xpr waited for it, for the words of the reason.
#[derive(Clone, Copy, Debug)]
pub struct EndContext<'a> {
    /// The scheduler's job id.
    pub job_id: &'a str,
    /// The system's name.
    pub system: &'a str,
    /// How long a job may be missing before it is declared vanished.
    pub vanish_timeout: Duration,
}

/// How a task's attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndDecision {
    /// The end state (its [`EndState::status`] is the task's new status).
    pub end_state: EndState,
    /// The exit code, when known.
    pub exit_code: Option<i32>,
    /// Why, in words, when it is not a plain success.
    pub reason: Option<String>,
}

/// The end state a scheduler's final job state means for a job that wrote no exit status.
pub fn end_state_of(state: &JobState) -> EndState {
    match state {
        // It ended well by the scheduler's word, but the script never wrote its exit status:
        // the command did not run to its end.
        JobState::Succeeded => EndState::NoExitStatus,
        JobState::Timeout => EndState::Timeout,
        JobState::OutOfMemory => EndState::OutOfMemory,
        JobState::Cancelled => EndState::Cancelled,
        JobState::NodeFail => EndState::NodeFail,
        JobState::Preempted => EndState::Preempted,
        // Not final states: a job is only decided on once final, so these mean the
        // scheduler's word was wrong; the job did not give a result either way.
        JobState::Failed { .. }
        | JobState::Queued
        | JobState::Held
        | JobState::Running
        | JobState::Unknown { .. } => EndState::JobFailed,
    }
}

/// Decides how a job ended (see the table in the module docs).
pub fn decide_end(facts: &EndFacts<'_>, context: EndContext<'_>) -> EndDecision {
    let EndContext {
        job_id,
        system,
        vanish_timeout,
    } = context;
    let error_lines = facts.error_lines.filter(|f| f.count() > 0);
    match (facts.exit_status, facts.job) {
        (Some(0), _) if facts.missing_outputs.is_empty() && error_lines.is_some() => {
            let found = error_lines.expect("checked above");
            let first = found.lines.first().map_or(String::new(), |l| {
                let at = l
                    .line
                    .map_or_else(|| format!("@{}", l.offset), |n| n.to_string());
                format!("; the first, {}:{at}: {}", l.file, l.text)
            });
            EndDecision {
                end_state: EndState::Failed,
                exit_code: Some(0),
                reason: Some(format!(
                    "exit code 0, but its logs hold {} error line(s) and error_lines_fail is \
                     set{first}",
                    found.count()
                )),
            }
        }
        (Some(0), _) if facts.missing_outputs.is_empty() => EndDecision {
            end_state: EndState::Succeeded,
            exit_code: Some(0),
            reason: None,
        },
        (Some(0), _) => EndDecision {
            end_state: EndState::MissingOutputs,
            exit_code: Some(0),
            reason: Some(format!(
                "expected outputs missing: {}",
                facts.missing_outputs.join(", ")
            )),
        },
        (Some(code), _) => EndDecision {
            end_state: EndState::Failed,
            exit_code: Some(code),
            reason: Some(if facts.stderr_tail.is_empty() {
                format!("exit code {code}")
            } else {
                format!("exit code {code}; stderr ends: {}", facts.stderr_tail)
            }),
        },
        (None, Some(job)) => {
            // xpr asked for this job's end and it ended without its exit status: whatever
            // accounting calls it (Grid Engine reports a cancelled running job as a SIGKILL
            // failure), it was cancelled.
            let end_state = if facts.cancel_requested {
                EndState::Cancelled
            } else {
                end_state_of(&job.state)
            };
            let mut reason = format!(
                "job {job_id} ended as {end_state} ({}) without writing {EXIT_FILE}",
                job.raw_state
            );
            if let Some(r) = &job.reason {
                reason.push_str(": ");
                reason.push_str(r);
            }
            EndDecision {
                end_state,
                exit_code: job.exit_code,
                reason: Some(reason),
            }
        }
        (None, None) if facts.cancel_requested => EndDecision {
            end_state: EndState::Cancelled,
            exit_code: None,
            reason: Some(format!(
                "job {job_id} was cancelled at xpr's request before it wrote {EXIT_FILE}; \
                 {system} has no accounting record of it"
            )),
        },
        (None, None) => EndDecision {
            end_state: EndState::Vanished,
            exit_code: None,
            reason: Some(format!(
                "job {job_id} on {system} left the queue and accounting has no record of it \
                 after {}; it wrote no {EXIT_FILE}",
                humantime::format_duration(vanish_timeout)
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ErrorLine;
    use crate::ids::SchedulerJobId;

    /// Findings of one error line (`found`) or none.
    fn findings(found: bool) -> &'static ErrorFindings {
        let lines = if found {
            vec![ErrorLine {
                file: "xpr.stderr".into(),
                line: Some(2),
                offset: 9,
                text: "ValueError: bad".into(),
                truncated: false,
            }]
        } else {
            Vec::new()
        };
        Box::leak(Box::new(ErrorFindings {
            lines,
            ..ErrorFindings::default()
        }))
    }

    fn job(state: JobState, exit_code: Option<i32>) -> JobStatus {
        JobStatus {
            raw_state: format!("{state:?}"),
            exit_code,
            ..JobStatus::new(SchedulerJobId::new("42"), state)
        }
    }

    const CONTEXT: EndContext<'static> = EndContext {
        job_id: "42",
        system: "sys",
        vanish_timeout: Duration::from_secs(300),
    };

    /// Every combination the engine distinguishes, with what it must decide.
    #[test]
    fn every_end_is_decided_as_the_table_says() {
        let missing = vec!["out.txt".to_owned()];
        let scheduler_states = [
            (JobState::Succeeded, EndState::NoExitStatus),
            (JobState::Failed { exit_code: Some(1) }, EndState::JobFailed),
            (JobState::Timeout, EndState::Timeout),
            (JobState::OutOfMemory, EndState::OutOfMemory),
            (JobState::Cancelled, EndState::Cancelled),
            (JobState::NodeFail, EndState::NodeFail),
            (JobState::Preempted, EndState::Preempted),
        ];
        let mut cases: Vec<(String, EndFacts<'static>, EndState, Option<i32>)> = Vec::new();
        let leak = |j: JobStatus| -> &'static JobStatus { Box::leak(Box::new(j)) };
        // Error lines: not asked, asked and none found, asked and found.
        let error_cases = [None, Some(findings(false)), Some(findings(true))];
        for cancel in [false, true] {
            // The job's own exit status wins over anything the scheduler or a cancel says;
            // error lines fail an exit 0 with its outputs only when the task asked for it.
            for (state, _) in &scheduler_states {
                let j = leak(job(state.clone(), Some(9)));
                for error_lines in error_cases {
                    let found = error_lines.is_some_and(|f| f.count() > 0);
                    let ok = if found {
                        EndState::Failed
                    } else {
                        EndState::Succeeded
                    };
                    for (exit, missing, expected, code) in [
                        (0, vec![], ok, Some(0)),
                        (0, missing.clone(), EndState::MissingOutputs, Some(0)),
                        (3, vec![], EndState::Failed, Some(3)),
                    ] {
                        cases.push((
                            format!(
                                "exit {exit}, {} missing, {state:?}, cancel {cancel}, error \
                                 lines {:?}",
                                missing.len(),
                                error_lines.map(ErrorFindings::count)
                            ),
                            EndFacts {
                                exit_status: Some(exit),
                                missing_outputs: missing,
                                cancel_requested: cancel,
                                job: Some(j),
                                stderr_tail: String::new(),
                                error_lines,
                            },
                            expected,
                            code,
                        ));
                    }
                }
            }
            // No exit status: the scheduler's word, unless xpr cancelled it.
            for (state, expected) in &scheduler_states {
                let j = leak(job(state.clone(), Some(137)));
                cases.push((
                    format!("no exit status, {state:?}, cancel {cancel}"),
                    EndFacts {
                        cancel_requested: cancel,
                        job: Some(j),
                        ..EndFacts::default()
                    },
                    if cancel {
                        EndState::Cancelled
                    } else {
                        *expected
                    },
                    Some(137),
                ));
            }
            // Neither exit status nor the scheduler's word.
            cases.push((
                format!("vanished, cancel {cancel}"),
                EndFacts {
                    cancel_requested: cancel,
                    ..EndFacts::default()
                },
                if cancel {
                    EndState::Cancelled
                } else {
                    EndState::Vanished
                },
                None,
            ));
        }
        assert_eq!(cases.len(), 2 * (7 * 3 * 3 + 7 + 1));
        for (what, facts, expected, code) in cases {
            let decision = decide_end(&facts, CONTEXT);
            assert_eq!(decision.end_state, expected, "{what}");
            assert_eq!(decision.exit_code, code, "{what}");
            assert_eq!(
                decision.reason.is_none(),
                expected == EndState::Succeeded,
                "{what}"
            );
        }
    }

    #[test]
    fn reasons_name_the_job_and_what_is_missing() {
        let j = job(JobState::Timeout, None);
        let timeout = decide_end(
            &EndFacts {
                job: Some(&j),
                ..EndFacts::default()
            },
            CONTEXT,
        );
        assert_eq!(
            timeout.reason.as_deref(),
            Some("job 42 ended as timeout (Timeout) without writing xpr.exit")
        );
        let failed = decide_end(
            &EndFacts {
                exit_status: Some(2),
                stderr_tail: "boom".into(),
                ..EndFacts::default()
            },
            CONTEXT,
        );
        assert_eq!(
            failed.reason.as_deref(),
            Some("exit code 2; stderr ends: boom")
        );
        let judged = decide_end(
            &EndFacts {
                exit_status: Some(0),
                error_lines: Some(findings(true)),
                ..EndFacts::default()
            },
            CONTEXT,
        );
        assert_eq!(
            judged.reason.as_deref(),
            Some(
                "exit code 0, but its logs hold 1 error line(s) and error_lines_fail is set; \
                 the first, xpr.stderr:2: ValueError: bad"
            )
        );
        let vanished = decide_end(&EndFacts::default(), CONTEXT);
        assert_eq!(
            vanished.reason.as_deref(),
            Some(
                "job 42 on sys left the queue and accounting has no record of it after 5m; \
                 it wrote no xpr.exit"
            )
        );
        assert_eq!(vanished.end_state.status(), crate::db::TaskStatus::Died);
    }
}
