//! Events: what happened to tasks, typed, in the order it happened (submitted, started,
//! ended with its class, retried, released, never ran, outputs local, cancel requested).
//!
//! Events are read from the jobs DB's history, not sent from inside one process: every
//! state change any xpr process writes (this one's follow loop, another terminal's `xpr
//! wait`, a crashed process's recovery) is a history row, numbered in order, so an observer
//! sees each change exactly once, also those made by others, and a program that stops and
//! comes back can go on after the last number it saw. [`event_of`] maps one history row to
//! its event, pure; [`Session::events`] reads them after a number;
//! [`Session::wait_observed`] follows tasks to their ends and hands each event to an
//! [`EventObserver`] as it is written (within one short interval of the poll that made it).
//! [`Callbacks`] is the observer with py-cluster-api's trio `on_success`, `on_failure`,
//! `on_exit`.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use super::{Session, SessionError};
use crate::db::{Change, EndState, TaskRecord, TaskStatus};
use crate::ids::{SchedulerJobId, SystemName, TaskId};

/// At most this many history rows per read.
const BATCH: usize = 1000;

/// Something that happened to a task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskEvent {
    /// Its number: increasing over every task's events, never reused (the history row's).
    pub seq: i64,
    /// When (seconds since the Unix epoch).
    pub at: f64,
    /// The task.
    pub task: TaskId,
    /// Its name.
    pub name: String,
    /// Its system.
    pub system: SystemName,
    /// The attempt it is about (0: none yet).
    pub attempt: u32,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened to a task (`"event"` in JSON, with the fields of its kind).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The task was recorded; `waiting` when it waits in xpr for its parents.
    Recorded {
        /// True when it waits for its parents' ends.
        waiting: bool,
    },
    /// Its parents' ends are known and meet its conditions: it goes to the scheduler.
    Released,
    /// The scheduler accepted its job.
    Submitted {
        /// The job's id, if known.
        job: Option<SchedulerJobId>,
    },
    /// Its job started running.
    Started {
        /// The node, if known.
        node: Option<String>,
    },
    /// An attempt ended and another one follows (an automatic or a manual retry).
    Retried {
        /// How the attempt that ended ended, if known.
        end_state: Option<EndState>,
        /// Its exit code, if any.
        exit_code: Option<i32>,
    },
    /// The task ended, for good; `end_state` is its class (never `never_ran`, see below).
    Ended {
        /// How it ended.
        end_state: Option<EndState>,
        /// The exit code, if any.
        exit_code: Option<i32>,
        /// Why, in words, if known.
        reason: Option<String>,
    },
    /// The task ended without running: a parent's end means its condition can never be met.
    NeverRan {
        /// Why, naming the parent.
        reason: Option<String>,
    },
    /// A succeeded task's outputs are in its local run dir.
    OutputsLocal {
        /// The local run dir.
        dir: String,
    },
    /// Its cancellation was asked for.
    CancelRequested,
}

impl EventKind {
    /// True for the event that ends a task for good.
    pub fn is_end(&self) -> bool {
        matches!(self, Self::Ended { .. } | Self::NeverRan { .. })
    }

    /// True for an end that is a success.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Ended {
                end_state: Some(EndState::Succeeded),
                ..
            }
        )
    }
}

/// The events one history row stands for (none for the steps inside xpr: staging,
/// submitting, processed, cleaned), oldest first.
pub fn event_of(change: &Change) -> Vec<TaskEvent> {
    let event = |kind| TaskEvent {
        seq: change.seq,
        at: change.at,
        task: change.task.clone(),
        name: change.name.clone(),
        system: change.system.clone(),
        attempt: change.attempt,
        kind,
    };
    if change.cancel_request {
        return vec![event(EventKind::CancelRequested)];
    }
    use TaskStatus as S;
    let Some(from) = change.from else {
        return vec![event(EventKind::Recorded {
            waiting: change.to == S::Waiting,
        })];
    };
    match change.to {
        S::Created | S::Staged | S::Submitting if from == S::Waiting => {
            vec![event(EventKind::Released)]
        }
        S::Submitted => vec![event(EventKind::Submitted {
            job: change.job.clone(),
        })],
        S::Started => vec![event(EventKind::Started {
            node: change.node.clone(),
        })],
        S::Created | S::Waiting if from != S::Created => vec![event(EventKind::Retried {
            end_state: change.end_state,
            exit_code: change.exit_code,
        })],
        S::Succeeded | S::Failed | S::Died if change.end_state == Some(EndState::NeverRan) => {
            vec![event(EventKind::NeverRan {
                reason: change.reason.clone(),
            })]
        }
        S::Succeeded | S::Failed | S::Died => {
            let mut events = vec![event(EventKind::Ended {
                end_state: change.end_state,
                exit_code: change.exit_code,
                reason: change.reason.clone(),
            })];
            if change.end_state == Some(EndState::Succeeded)
                && let Some(dir) = &change.local_dir
            {
                events.push(event(EventKind::OutputsLocal { dir: dir.clone() }));
            }
            events
        }
        _ => Vec::new(),
    }
}

/// Something that is handed each event as it is read.
pub trait EventObserver: Send {
    /// Called once per event, in order.
    fn event(&mut self, event: &TaskEvent);
}

impl<F: FnMut(&TaskEvent) + Send> EventObserver for F {
    fn event(&mut self, event: &TaskEvent) {
        self(event)
    }
}

/// A callback of [`Callbacks`].
pub type Callback = Box<dyn FnMut(&TaskEvent) + Send>;

/// Callbacks on a task's end (py-cluster-api's trio): `on_success` when it succeeded,
/// `on_failure` when it ended otherwise (never ran included), then `on_exit` for either.
/// Retried attempts are not ends: only the task's last attempt calls back.
#[derive(Default)]
pub struct Callbacks {
    /// Called when a task succeeded.
    pub on_success: Option<Callback>,
    /// Called when a task ended without success.
    pub on_failure: Option<Callback>,
    /// Called when a task ended, after the other two.
    pub on_exit: Option<Callback>,
}

impl EventObserver for Callbacks {
    fn event(&mut self, event: &TaskEvent) {
        if !event.kind.is_end() {
            return;
        }
        let first = if event.kind.is_success() {
            &mut self.on_success
        } else {
            &mut self.on_failure
        };
        for callback in [first, &mut self.on_exit].into_iter().flatten() {
            callback(event);
        }
    }
}

/// From where [`Session::wait_observed`] hands events over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsFrom {
    /// Each followed task's whole life, from its recording: nothing is missed however early
    /// it happened.
    Recorded,
    /// What happens from now on.
    Now,
    /// After this event number (one a previous read returned).
    After(i64),
}

impl Session {
    /// The number of the newest event (0 when there is none): events after it are new.
    pub async fn last_event(&self) -> Result<i64, SessionError> {
        self.with_db(|db| db.last_change()).await
    }

    /// The events of every task after event number `after`, oldest first, at most about
    /// `limit` (a row may stand for two events).
    pub async fn events(&self, after: i64, limit: usize) -> Result<Vec<TaskEvent>, SessionError> {
        let changes = self
            .with_db(move |db| db.changes_since(after, limit))
            .await?;
        Ok(changes.iter().flat_map(event_of).collect())
    }

    /// Like [`Session::wait`] (`ids`: `None` for every ongoing task), handing each event of
    /// the followed tasks, and of the parents they wait for, to `observer` as it is written,
    /// from `from` on; returns once they have all ended and their last events are handed
    /// over.
    pub async fn wait_observed(
        &self,
        ids: Option<&[TaskId]>,
        timeout: Option<Duration>,
        from: EventsFrom,
        observer: &mut dyn EventObserver,
    ) -> Result<Vec<TaskRecord>, SessionError> {
        let mut cursor = match from {
            EventsFrom::After(n) => n,
            EventsFrom::Now => self.last_event().await?,
            // Narrowed below to the first row of the followed tasks.
            EventsFrom::Recorded => 0,
        };
        let watch = self.follow_set(ids).await?;
        if from == EventsFrom::Recorded {
            let wanted: Vec<TaskId> = watch.iter().cloned().collect();
            cursor = self.with_db(move |db| db.first_change_of(&wanted)).await? - 1;
        }
        let session = self.clone();
        let ids_owned: Option<Vec<TaskId>> = ids.map(<[TaskId]>::to_vec);
        let mut follow =
            tokio::spawn(async move { session.follow(ids_owned.as_deref(), timeout).await });
        // Events are handed over at least this often while the follow loops poll.
        let pause = self
            .options()
            .min_poll_interval
            .min(Duration::from_millis(500));
        let outcome = loop {
            tokio::select! {
                joined = &mut follow => break joined.expect("a follow does not panic"),
                _ = tokio::time::sleep(pause) => {}
            }
            match self.hand_over(cursor, &watch, observer).await {
                Ok(next) => cursor = next,
                Err(e) => {
                    follow.abort();
                    return Err(e);
                }
            }
        };
        // The last changes were written before the follow returned.
        self.hand_over(cursor, &watch, observer).await?;
        outcome
    }

    /// Hands the events of `watch` after `cursor` to `observer`; returns the new cursor.
    async fn hand_over(
        &self,
        mut cursor: i64,
        watch: &HashSet<TaskId>,
        observer: &mut dyn EventObserver,
    ) -> Result<i64, SessionError> {
        loop {
            let after = cursor;
            let changes = self
                .with_db(move |db| db.changes_since(after, BATCH))
                .await?;
            let Some(last) = changes.last() else {
                return Ok(cursor);
            };
            cursor = last.seq;
            for change in changes.iter().filter(|c| watch.contains(&c.task)) {
                for event in event_of(change) {
                    observer.event(&event);
                }
            }
            if changes.len() < BATCH {
                return Ok(cursor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: Option<TaskStatus>, to: TaskStatus, end: Option<EndState>) -> Change {
        Change {
            seq: 7,
            at: 1.0,
            task: TaskId::new("t_1"),
            name: "t".into(),
            system: SystemName::new("s"),
            from,
            to,
            detail: None,
            attempt: 1,
            job: Some(SchedulerJobId::new("42")),
            node: Some("n1".into()),
            end_state: end,
            exit_code: None,
            reason: Some("why".into()),
            local_dir: Some("/l".into()),
            cancel_request: false,
        }
    }

    fn names(change: &Change) -> Vec<String> {
        event_of(change)
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// A history row (from, to, end state) and the events it stands for.
    type Row = (
        Option<TaskStatus>,
        TaskStatus,
        Option<EndState>,
        &'static [&'static str],
    );

    #[test]
    fn each_history_row_stands_for_its_events() {
        use EndState as E;
        use TaskStatus as S;
        let table: &[Row] = &[
            (None, S::Created, None, &["recorded"]),
            (None, S::Waiting, None, &["recorded"]),
            (Some(S::Waiting), S::Created, None, &["released"]),
            (Some(S::Created), S::Staged, None, &[]),
            (Some(S::Staged), S::Submitting, None, &[]),
            (Some(S::Submitting), S::Submitted, None, &["submitted"]),
            (Some(S::Submitted), S::Started, None, &["started"]),
            (
                Some(S::Started),
                S::Created,
                Some(E::NodeFail),
                &["retried"],
            ),
            (
                Some(S::Submitted),
                S::Waiting,
                Some(E::NeverRan),
                &["retried"],
            ),
            (Some(S::Failed), S::Created, Some(E::Failed), &["retried"]),
            (
                Some(S::Started),
                S::Succeeded,
                Some(E::Succeeded),
                &["ended", "outputs_local"],
            ),
            (Some(S::Started), S::Failed, Some(E::Timeout), &["ended"]),
            (Some(S::Submitted), S::Died, Some(E::Vanished), &["ended"]),
            (
                Some(S::Waiting),
                S::Failed,
                Some(E::NeverRan),
                &["never_ran"],
            ),
            (
                Some(S::Submitted),
                S::Failed,
                Some(E::NeverRan),
                &["never_ran"],
            ),
            (Some(S::Succeeded), S::Processed, Some(E::Succeeded), &[]),
            (Some(S::Processed), S::Cleaned, Some(E::Succeeded), &[]),
        ];
        for (from, to, end, want) in table {
            let got = names(&change(*from, *to, *end));
            assert_eq!(got, *want, "{from:?} -> {to:?} ({end:?})");
        }
        let mut cancel = change(Some(S::Submitted), S::Submitted, None);
        cancel.cancel_request = true;
        assert_eq!(names(&cancel), ["cancel_requested"]);
    }
}
