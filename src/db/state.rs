//! The typed states the jobs DB stores: where a task stands ([`TaskStatus`]) and how an attempt
//! ended ([`EndState`]). Both are stored as their snake_case word (`ToSql`/`FromSql`) and
//! serialised the same way, so the DB, `--json` and the code spell them alike; nothing compares
//! their words anywhere else.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// Where a task stands in xpr's life cycle (ExPyRe's statuses plus the steps xpr writes down
/// before acting, so that a crash can be resumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Recorded; nothing done yet.
    Created,
    /// Recorded; waits in xpr for its parents' ends (see [`DependencyKind`]).
    Waiting,
    /// Inputs are in the remote run dir.
    Staged,
    /// The scheduler is being asked; it may or may not have the job (check by name).
    Submitting,
    /// The scheduler accepted the job.
    Submitted,
    /// The job has started running.
    Started,
    /// The job finished with exit code 0 and its expected outputs.
    Succeeded,
    /// The task ended without a result: see its [`EndState`] for why.
    Failed,
    /// The job vanished: the scheduler has no record of how it ended.
    Died,
    /// The caller used the results; an identical task would run anew.
    Processed,
    /// Run directories removed.
    Cleaned,
}

impl TaskStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [TaskStatus; 11] = [
        Self::Created,
        Self::Waiting,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
        Self::Succeeded,
        Self::Failed,
        Self::Died,
        Self::Processed,
        Self::Cleaned,
    ];

    /// ExPyRe's group `ongoing`: not finished yet.
    pub const ONGOING: [TaskStatus; 6] = [
        Self::Created,
        Self::Waiting,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
    ];

    /// Statuses whose job the scheduler may have: followed by polls.
    pub const IN_SCHEDULER: [TaskStatus; 2] = [Self::Submitted, Self::Started];

    /// Statuses after which a task no longer changes by itself.
    pub const FINISHED: [TaskStatus; 5] = [
        Self::Succeeded,
        Self::Failed,
        Self::Died,
        Self::Processed,
        Self::Cleaned,
    ];

    /// ExPyRe's group `can_produce_results`: ongoing, succeeded or died (a died task may
    /// still have left its outputs).
    pub const CAN_PRODUCE_RESULTS: [TaskStatus; 8] = [
        Self::Created,
        Self::Waiting,
        Self::Staged,
        Self::Submitting,
        Self::Submitted,
        Self::Started,
        Self::Succeeded,
        Self::Died,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Waiting => "waiting",
            Self::Staged => "staged",
            Self::Submitting => "submitting",
            Self::Submitted => "submitted",
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Died => "died",
            Self::Processed => "processed",
            Self::Cleaned => "cleaned",
        }
    }

    /// The status with this spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A status or one of ExPyRe's groups (`ongoing`, `can_produce_results`) by name.
    pub fn parse_group(name: &str) -> Option<Vec<Self>> {
        match name {
            "ongoing" => Some(Self::ONGOING.to_vec()),
            "can_produce_results" => Some(Self::CAN_PRODUCE_RESULTS.to_vec()),
            other => Self::from_name(other).map(|s| vec![s]),
        }
    }

    /// True for statuses in [`TaskStatus::FINISHED`].
    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }
}

/// How a task's attempt ended: the end state and failure class. Set together with the status
/// that ends an attempt ([`TaskStatus::Succeeded`], [`Failed`](TaskStatus::Failed) or
/// [`Died`](TaskStatus::Died)); `None` while the attempt runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndState {
    /// The command exited 0 and every expected output is there.
    Succeeded,
    /// The command exited non-zero (the exit code is the task's).
    Failed,
    /// The command exited 0 but expected outputs are missing.
    MissingOutputs,
    /// The scheduler says the job ended well, but it never wrote its exit status: the command
    /// did not run to its end.
    NoExitStatus,
    /// The scheduler says the job failed, and it wrote no exit status (killed by a signal,
    /// its node's shell failed ...).
    JobFailed,
    /// Killed at its time limit.
    Timeout,
    /// Killed for using more memory than it asked for.
    OutOfMemory,
    /// Its node failed.
    NodeFail,
    /// Preempted by a job of higher priority.
    Preempted,
    /// Cancelled (by xpr at the user's request, or by the scheduler's own `cancel`).
    Cancelled,
    /// In neither the queue nor accounting for longer than the vanish timeout.
    Vanished,
    /// The scheduler refused the job.
    SubmitFailed,
    /// Never submitted: a condition it waited for can no longer be met.
    NeverRan,
}

impl EndState {
    /// Every end state.
    pub const ALL: [EndState; 13] = [
        Self::Succeeded,
        Self::Failed,
        Self::MissingOutputs,
        Self::NoExitStatus,
        Self::JobFailed,
        Self::Timeout,
        Self::OutOfMemory,
        Self::NodeFail,
        Self::Preempted,
        Self::Cancelled,
        Self::Vanished,
        Self::SubmitFailed,
        Self::NeverRan,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::MissingOutputs => "missing_outputs",
            Self::NoExitStatus => "no_exit_status",
            Self::JobFailed => "job_failed",
            Self::Timeout => "timeout",
            Self::OutOfMemory => "out_of_memory",
            Self::NodeFail => "node_fail",
            Self::Preempted => "preempted",
            Self::Cancelled => "cancelled",
            Self::Vanished => "vanished",
            Self::SubmitFailed => "submit_failed",
            Self::NeverRan => "never_ran",
        }
    }

    /// The end state with this spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The task status an attempt that ended so leaves: succeeded, died (vanished: nothing
    /// says how it ended, so its outputs may still be usable), or failed.
    pub fn status(self) -> TaskStatus {
        match self {
            Self::Succeeded => TaskStatus::Succeeded,
            Self::Vanished => TaskStatus::Died,
            _ => TaskStatus::Failed,
        }
    }

    /// True when the job's command itself ran to its end (with whatever exit code): the exit
    /// code is the command's own, not one left by a kill.
    pub fn ran_to_end(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::MissingOutputs)
    }
}

/// What a child waits for in a parent (Slurm's `afterok`, `afternotok`, `afterany`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// The parent succeeded.
    AfterOk,
    /// The parent ended without success (failed, died, cancelled ...).
    AfterFail,
    /// The parent ended, however.
    AfterAny,
}

impl DependencyKind {
    /// Every kind.
    pub const ALL: [DependencyKind; 3] = [Self::AfterOk, Self::AfterFail, Self::AfterAny];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AfterOk => "after_ok",
            Self::AfterFail => "after_fail",
            Self::AfterAny => "after_any",
        }
    }

    /// The kind with this spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether a parent that ended as `end` (`None`: still ongoing) meets this condition:
    /// `Some(true)` met, `Some(false)` never can be, `None` not known yet.
    pub fn met_by(self, finished: bool, end: Option<EndState>) -> Option<bool> {
        if !finished {
            return None;
        }
        let ok = end == Some(EndState::Succeeded);
        Some(match self {
            Self::AfterOk => ok,
            Self::AfterFail => !ok,
            Self::AfterAny => true,
        })
    }
}

macro_rules! stored_word {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Text(
                    self.as_str().as_bytes(),
                )))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $ty::from_name(text).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {text:?}", $what).into())
                })
            }
        }
    };
}

stored_word!(TaskStatus, "task status");
stored_word!(EndState, "end state");
stored_word!(DependencyKind, "dependency kind");
