//! One progress bar per system while tasks are followed: how many of its tasks have ended,
//! with counts per state and an ETA, kept from the library's events (no extra DB reads).
//! Drawn on stderr, only when it is a terminal.

use std::collections::{BTreeMap, HashMap};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use xpr::db::{EndState, TaskRecord};
use xpr::ids::{SystemName, TaskId};
use xpr::session::{EventKind, EventsFrom, Session, SessionError, TaskEvent};

/// Where one task stands, as its events say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Recorded, waiting for parents, or staged: not yet in the queue.
    Pending,
    /// In the scheduler's queue.
    Queued,
    /// Running.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended otherwise.
    Failed,
}

/// The counts of one system's tasks and its bar.
struct SystemBar {
    bar: ProgressBar,
    phases: HashMap<TaskId, Phase>,
}

impl SystemBar {
    fn redraw(&self, system: &SystemName) {
        let count = |p: Phase| self.phases.values().filter(|v| **v == p).count();
        let (ok, failed) = (count(Phase::Succeeded), count(Phase::Failed));
        self.bar.set_position((ok + failed) as u64);
        self.bar.set_message(format!(
            "{system}: {} pending, {} queued, {} running, {ok} succeeded, {failed} failed",
            count(Phase::Pending),
            count(Phase::Queued),
            count(Phase::Running),
        ));
    }
}

/// The phase an event puts its task in; `None` leaves it as it was.
fn phase_after(kind: &EventKind) -> Option<Phase> {
    Some(match kind {
        EventKind::Recorded { .. } | EventKind::Released => Phase::Pending,
        EventKind::Submitted { .. } | EventKind::Retried { .. } => Phase::Queued,
        EventKind::Started { .. } => Phase::Running,
        EventKind::Ended {
            end_state: Some(EndState::Succeeded),
            ..
        } => Phase::Succeeded,
        EventKind::Ended { .. } | EventKind::NeverRan { .. } => Phase::Failed,
        EventKind::OutputsLocal { .. } | EventKind::CancelRequested => return None,
    })
}

/// Follows `ids` to their end (or `timeout`), drawing one bar per system; returns them as
/// they ended.
pub async fn wait_with_progress(
    session: &Session,
    ids: &[TaskId],
    timeout: Option<std::time::Duration>,
) -> Result<Vec<TaskRecord>, SessionError> {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} (ETA {eta})")
        .expect("a valid progress template");
    let mut bars: BTreeMap<SystemName, SystemBar> = BTreeMap::new();
    for id in ids {
        let record = session.get(id)?;
        let entry = bars
            .entry(record.system.clone())
            .or_insert_with(|| SystemBar {
                bar: multi.add(ProgressBar::new(0).with_style(style.clone())),
                phases: HashMap::new(),
            });
        entry.phases.insert(id.clone(), Phase::Pending);
    }
    for (system, bar) in &bars {
        bar.bar.set_length(bar.phases.len() as u64);
        bar.redraw(system);
    }
    let mut observe = |event: &TaskEvent| {
        let Some(bar) = bars.get_mut(&event.system) else {
            return;
        };
        if let (Some(phase), Some(slot)) =
            (phase_after(&event.kind), bar.phases.get_mut(&event.task))
        {
            *slot = phase;
            bar.redraw(&event.system);
        }
    };
    let done = session
        .wait_observed(Some(ids), timeout, EventsFrom::Recorded, &mut observe)
        .await;
    for bar in bars.values() {
        bar.bar.finish();
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_moves_its_task_to_the_phase_a_user_expects() {
        let ended = |end_state| EventKind::Ended {
            end_state,
            exit_code: None,
            reason: None,
        };
        let cases = [
            (EventKind::Recorded { waiting: true }, Some(Phase::Pending)),
            (EventKind::Released, Some(Phase::Pending)),
            (EventKind::Submitted { job: None }, Some(Phase::Queued)),
            (EventKind::Started { node: None }, Some(Phase::Running)),
            (
                EventKind::Retried {
                    end_state: Some(EndState::NodeFail),
                    exit_code: None,
                },
                Some(Phase::Queued),
            ),
            (ended(Some(EndState::Succeeded)), Some(Phase::Succeeded)),
            (ended(Some(EndState::Failed)), Some(Phase::Failed)),
            (ended(None), Some(Phase::Failed)),
            (EventKind::NeverRan { reason: None }, Some(Phase::Failed)),
            (EventKind::CancelRequested, None),
            (EventKind::OutputsLocal { dir: String::new() }, None),
        ];
        for (kind, phase) in cases {
            assert_eq!(phase_after(&kind), phase, "{kind:?}");
        }
    }
}
