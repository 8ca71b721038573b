//! Slurm's job states and exit codes, mapped onto xpr's [`JobState`].
//!
//! Slurm reports a state as a long word (`PENDING`, `%T` in squeue, `State` in sacct) or as a
//! compact code (`PD`, `%t` in squeue); sacct decorates some (`CANCELLED by 1001`) and its
//! fixed-width output truncates with a `+` (`CANCELLED+`). [`base_state`] strips the
//! decorations, [`map_state`] does the mapping. Every state in Slurm's `squeue(1)` "JOB STATE
//! CODES" table has a row here; anything else is kept verbatim as [`JobState::Unknown`], which
//! is not final, so the monitor keeps asking instead of deciding on a word it does not know.

use crate::scheduler::JobState;

/// A Slurm exit code as `sacct`/`scontrol` print it: `CODE:SIGNAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode {
    /// The exit status of the batch script (or the job's highest step exit status).
    pub code: i32,
    /// The signal that ended it, 0 for none. Slurm also stores its own markers here (an OOM
    /// kill shows as `0:125`), so values above 64 are not necessarily real signals.
    pub signal: i32,
}

impl ExitCode {
    /// Parses `CODE:SIGNAL` (both non-negative integers); `None` for anything else.
    pub fn parse(text: &str) -> Option<ExitCode> {
        let (code, signal) = text.trim().split_once(':')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(code) || !digits(signal) {
            return None;
        }
        Some(ExitCode {
            code: code.parse().ok()?,
            signal: signal.parse().ok()?,
        })
    }

    /// True for `0:0`: exited normally with status 0.
    pub fn is_clean(self) -> bool {
        self.code == 0 && self.signal == 0
    }

    /// One number for the user, as a POSIX shell reports a child: the exit status when no
    /// signal ended it, `128 + signal` for a real signal (1..=64), else the exit status (for
    /// Slurm's internal markers, e.g. `0:125` on OOM, which is not a signal).
    pub fn effective(self) -> i32 {
        if (1..=64).contains(&self.signal) {
            128 + self.signal
        } else {
            self.code
        }
    }
}

/// The state word without sacct's decorations: `"CANCELLED by 1001"` -> `"CANCELLED"`,
/// `"CANCELLED+"` (truncated column) -> `"CANCELLED"`.
pub fn base_state(raw: &str) -> &str {
    let word = raw.split_whitespace().next().unwrap_or("");
    word.trim_end_matches('+')
}

/// The long name of a compact state code (`PD` -> `PENDING`), or the word itself.
fn long_state(word: &str) -> &str {
    match word {
        "BF" => "BOOT_FAIL",
        "CA" => "CANCELLED",
        "CD" => "COMPLETED",
        "CF" => "CONFIGURING",
        "CG" => "COMPLETING",
        "DL" => "DEADLINE",
        "F" => "FAILED",
        "NF" => "NODE_FAIL",
        "OOM" => "OUT_OF_MEMORY",
        "PD" => "PENDING",
        "PR" => "PREEMPTED",
        "R" => "RUNNING",
        "RD" => "RESV_DEL_HOLD",
        "RF" => "REQUEUE_FED",
        "RH" => "REQUEUE_HOLD",
        "RQ" => "REQUEUED",
        "RS" => "RESIZING",
        "RV" => "REVOKED",
        "S" => "SUSPENDED",
        "SE" => "SPECIAL_EXIT",
        "SI" => "SIGNALING",
        "SO" => "STAGE_OUT",
        "ST" => "STOPPED",
        "TO" => "TIMEOUT",
        other => other,
    }
}

/// True when a pending job's reason says it is held (`JobHeldUser`, `JobHeldAdmin`,
/// `launch failed requeued held`): Slurm keeps held jobs in `PENDING` and only the reason
/// tells them apart from queued ones.
pub fn reason_is_held(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| r.to_ascii_lowercase().contains("held"))
}

/// Maps a Slurm state (long or compact, decorations allowed), the job's reason and exit code
/// onto xpr's model.
///
/// Choices worth knowing:
/// - `COMPLETING`, `CONFIGURING` (nodes booting for an allocated job), `SUSPENDED`, `STOPPED`,
///   `RESIZING`, `SIGNALING` and `STAGE_OUT` are [`JobState::Running`]: the job holds or is
///   about to hold its nodes and can still produce results.
/// - `REQUEUED` and `REQUEUE_FED` are [`JobState::Queued`] (the job will run again);
///   `REQUEUE_HOLD`, `RESV_DEL_HOLD` and `SPECIAL_EXIT` (requeued held) are [`JobState::Held`].
/// - `COMPLETED` is success only with exit `0:0` (or no exit code reported, as in squeue,
///   where Slurm's definition of COMPLETED is "exit code of zero"); otherwise it is a failure.
/// - `DEADLINE` (ended by its `--deadline`) is [`JobState::Timeout`]; `BOOT_FAIL` is
///   [`JobState::NodeFail`]; `REVOKED` (a federation sibling started the job elsewhere, so
///   this cluster dropped it) is [`JobState::Cancelled`].
pub fn map_state(raw: &str, reason: Option<&str>, exit: Option<ExitCode>) -> JobState {
    match long_state(base_state(raw)) {
        "PENDING" if reason_is_held(reason) => JobState::Held,
        "PENDING" | "REQUEUED" | "REQUEUE_FED" => JobState::Queued,
        "REQUEUE_HOLD" | "RESV_DEL_HOLD" | "SPECIAL_EXIT" => JobState::Held,
        "RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "STOPPED" | "RESIZING"
        | "SIGNALING" | "STAGE_OUT" => JobState::Running,
        "COMPLETED" => match exit {
            Some(e) if !e.is_clean() => JobState::Failed {
                exit_code: Some(e.effective()),
            },
            _ => JobState::Succeeded,
        },
        "FAILED" => JobState::Failed {
            exit_code: exit.map(ExitCode::effective),
        },
        "TIMEOUT" | "DEADLINE" => JobState::Timeout,
        "OUT_OF_MEMORY" => JobState::OutOfMemory,
        "CANCELLED" | "REVOKED" => JobState::Cancelled,
        "NODE_FAIL" | "BOOT_FAIL" => JobState::NodeFail,
        "PREEMPTED" => JobState::Preempted,
        _ => JobState::Unknown {
            raw: raw.to_owned(),
        },
    }
}

/// The exit code to report for a job in `state`: only once it is final (a running job's
/// `0:0` means "none yet", not "exited 0").
pub fn reported_exit(state: &JobState, exit: Option<ExitCode>) -> Option<i32> {
    if state.is_final() {
        exit.map(ExitCode::effective)
    } else {
        None
    }
}

/// True for an out-of-memory state word (long or compact): used to spot an OOM kill that
/// only a job step recorded.
pub fn is_oom_state(raw: &str) -> bool {
    long_state(base_state(raw)) == "OUT_OF_MEMORY"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(
            ExitCode::parse("3:0"),
            Some(ExitCode { code: 3, signal: 0 })
        );
        assert_eq!(ExitCode::parse("0:9").map(ExitCode::effective), Some(137));
        assert_eq!(ExitCode::parse("0:125").map(ExitCode::effective), Some(0));
        assert_eq!(ExitCode::parse("3"), None);
        assert_eq!(ExitCode::parse("-1:0"), None);
        assert_eq!(ExitCode::parse(""), None);
    }

    #[test]
    fn decorated_states() {
        assert_eq!(base_state("CANCELLED by 1001"), "CANCELLED");
        assert_eq!(base_state("CANCELLED+"), "CANCELLED");
        assert_eq!(map_state("CANCELLED by 0", None, None), JobState::Cancelled);
        assert_eq!(map_state("PD", Some("JobHeldAdmin"), None), JobState::Held);
        assert_eq!(
            map_state("PENDING", Some("Resources"), None),
            JobState::Queued
        );
        assert_eq!(
            map_state("COMPLETED", None, ExitCode::parse("0:15")),
            JobState::Failed {
                exit_code: Some(143)
            }
        );
        assert_eq!(
            map_state("RUNING", None, None),
            JobState::Unknown {
                raw: "RUNING".into()
            }
        );
    }
}
