//! Retries: which ends of an attempt are worth another one, and with what resources. Pure:
//! the follow step asks [`Retries::next`] when an attempt ends and writes what it says.
//!
//! By default a task is not retried (`max_retries` 0). When it may be, the classes that retry
//! are node failures, preemption and vanished jobs (the job did nothing wrong); time limits and
//! out-of-memory kills only when asked (with optional escalation: more time or memory, capped
//! by what the system's partitions allow, the node finder re-run), a plain non-zero exit only
//! when asked, and a cancel never.

use serde::{Deserialize, Serialize};

use crate::config::{RetryDefaults, System};
use crate::db::EndState;
use crate::resources::{MemRequest, NodeAllocation, Resources, find_nodes};

/// How a task retries (see the module docs). Stored with the task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retries {
    /// At most this many attempts after the first; 0 = none.
    pub max_retries: u32,
    /// The end states that retry.
    pub on: Vec<EndState>,
    /// On a time limit, multiply the run time by this (e.g. 2.0).
    pub time_factor: Option<f64>,
    /// On an out-of-memory kill, multiply the memory asked for by this.
    pub mem_factor: Option<f64>,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            max_retries: 0,
            on: Self::DEFAULT_ON.to_vec(),
            time_factor: None,
            mem_factor: None,
        }
    }
}

/// A retry setting that cannot be honoured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot retry on {state}: {why}")]
pub struct InvalidRetries {
    /// The end state asked for.
    pub state: String,
    /// Why not.
    pub why: &'static str,
}

/// What to do after an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub struct NextAttempt {
    /// The new attempt's number.
    pub number: u32,
    /// The resources it asks for, when they change (escalation).
    pub resources: Option<Resources>,
    /// What changed, in words, for the history.
    pub note: String,
}

impl Retries {
    /// The classes that retry by default: the job did nothing wrong.
    pub const DEFAULT_ON: [EndState; 3] =
        [EndState::NodeFail, EndState::Preempted, EndState::Vanished];

    /// At most `max_retries` retries on the default classes.
    pub fn up_to(max_retries: u32) -> Self {
        Self {
            max_retries,
            ..Self::default()
        }
    }

    /// Retries on `states` instead of the default classes. A cancel, a refused submission or
    /// a success cannot retry: what would run again is what the user or the scheduler said no
    /// to, or a result.
    pub fn on(mut self, states: &[EndState]) -> Result<Self, InvalidRetries> {
        for state in states {
            let why = match state {
                EndState::Cancelled => "a cancel is never retried",
                EndState::SubmitFailed => "a refused submission would be refused again",
                EndState::Succeeded => "it has a result",
                EndState::NeverRan => "its condition can no longer be met",
                _ => continue,
            };
            return Err(InvalidRetries {
                state: state.to_string(),
                why,
            });
        }
        self.on = states.to_vec();
        Ok(self)
    }

    /// The retries a config's `defaults` stand for (a system's or a profile's keys, see
    /// [`RetryDefaults`]); `at` is where they were written (`systems.NAME` or
    /// `profiles.NAME`), for the error about a class name that is not an end state or
    /// cannot retry.
    pub fn from_defaults(defaults: &RetryDefaults, at: &str) -> Result<Self, String> {
        let mut retries = Self::up_to(defaults.max_retries.unwrap_or(0));
        if !defaults.retry_on.is_empty() {
            let mut classes = Vec::with_capacity(defaults.retry_on.len());
            for name in &defaults.retry_on {
                let state = EndState::from_name(name).ok_or_else(|| {
                    let known: Vec<&str> = EndState::ALL.iter().map(|s| s.as_str()).collect();
                    format!(
                        "{at}.retry_on: {name:?} is not an end state (hint: one of {})",
                        known.join(", ")
                    )
                })?;
                classes.push(state);
            }
            retries = retries
                .on(&classes)
                .map_err(|e| format!("{at}.retry_on: {e}"))?;
        }
        retries.time_factor = defaults.time_factor;
        retries.mem_factor = defaults.mem_factor;
        Ok(retries)
    }

    /// Multiplies the run time by `factor` on a time-limit retry.
    pub fn with_time_factor(mut self, factor: f64) -> Self {
        self.time_factor = Some(factor);
        self
    }

    /// Multiplies the memory by `factor` on an out-of-memory retry.
    pub fn with_mem_factor(mut self, factor: f64) -> Self {
        self.mem_factor = Some(factor);
        self
    }

    /// The next attempt after attempt `number` ended as `end`, with `resources` on `system`;
    /// `None` when it does not retry.
    pub fn next(
        &self,
        end: EndState,
        number: u32,
        resources: Option<&Resources>,
        system: &System,
    ) -> Option<NextAttempt> {
        if end == EndState::Cancelled || number > self.max_retries || !self.on.contains(&end) {
            return None;
        }
        let number = number + 1;
        let escalated = match (end, resources) {
            (EndState::Timeout, Some(r)) => self.time_factor.and_then(|f| more_time(r, f, system)),
            (EndState::OutOfMemory, Some(r)) => {
                self.mem_factor.and_then(|f| more_memory(r, f, system))
            }
            _ => None,
        };
        let note = match &escalated {
            Some((_, what)) => format!("attempt {number} after {end}, with {what}"),
            None => format!("attempt {number} after {end}"),
        };
        Some(NextAttempt {
            number,
            resources: escalated.map(|(r, _)| r),
            note,
        })
    }
}

/// The request with its run time times `factor`, capped by the longest time a partition it
/// may use allows; `None` when it cannot get longer.
fn more_time(r: &Resources, factor: f64, system: &System) -> Option<(Resources, String)> {
    let old = r.max_time?;
    let wanted = ((old as f64) * factor).ceil() as u64;
    let fits = |seconds: u64| -> Option<NodeAllocation> {
        find_nodes(system, &r.clone().with_max_time(seconds)).ok()
    };
    let seconds = if fits(wanted).is_some() {
        wanted
    } else {
        // The longest partition time between the old and the wanted one that still fits.
        system
            .partitions
            .iter()
            .filter_map(|p| p.max_time)
            .filter(|&t| t > old && t < wanted && fits(t).is_some())
            .max()?
    };
    (seconds > old).then(|| {
        (
            r.clone().with_max_time(seconds),
            format!("max_time {old} s -> {seconds} s"),
        )
    })
}

/// The request with its memory times `factor`, if a partition still fits it.
fn more_memory(r: &Resources, factor: f64, system: &System) -> Option<(Resources, String)> {
    let scale = |kb: u64| ((kb as f64) * factor).ceil() as u64;
    let (mem, old, new) = match r.mem? {
        MemRequest::Total(kb) => (MemRequest::Total(scale(kb)), kb, scale(kb)),
        MemRequest::PerCore(kb) => (MemRequest::PerCore(scale(kb)), kb, scale(kb)),
        MemRequest::PerTask(kb) => (MemRequest::PerTask(scale(kb)), kb, scale(kb)),
    };
    let more = r.clone().with_mem(mem);
    find_nodes(system, &more)
        .ok()
        .map(|_| (more, format!("memory {old} kB -> {new} kB")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::resources::CountRequest;

    fn system() -> System {
        let config = Config::from_json_str(
            r#"{"systems": {"s": {"host": null, "scheduler": "slurm", "partitions": {
                "short": {"num_cores": 4, "max_time": "1h", "max_mem": "8GB"},
                "long": {"num_cores": 4, "max_time": "4h", "max_mem": "16GB"}}}}}"#,
            std::path::Path::new("/c.json"),
        )
        .unwrap();
        config.system("s").unwrap().clone()
    }

    fn one_core(seconds: u64) -> Resources {
        Resources::new(CountRequest::Cores(1))
            .with_partial_node(true)
            .with_max_time(seconds)
    }

    #[test]
    fn the_default_classes_retry_up_to_the_maximum_and_nothing_else_does() {
        let s = system();
        let r = Retries::up_to(2);
        for end in Retries::DEFAULT_ON {
            assert_eq!(r.next(end, 1, None, &s).unwrap().number, 2);
            assert_eq!(r.next(end, 2, None, &s).unwrap().number, 3);
            assert!(
                r.next(end, 3, None, &s).is_none(),
                "{end}: 2 retries at most"
            );
        }
        for end in [
            EndState::Failed,
            EndState::Timeout,
            EndState::OutOfMemory,
            EndState::Cancelled,
            EndState::MissingOutputs,
            EndState::JobFailed,
        ] {
            assert!(
                r.next(end, 1, None, &s).is_none(),
                "{end} retries only when asked"
            );
        }
        assert!(
            Retries::default()
                .next(EndState::NodeFail, 1, None, &s)
                .is_none()
        );
    }

    #[test]
    fn asked_for_classes_retry_but_a_cancel_never_can() {
        let s = system();
        let r = Retries::up_to(1).on(&[EndState::Failed]).unwrap();
        assert!(r.next(EndState::Failed, 1, None, &s).is_some());
        assert!(r.next(EndState::NodeFail, 1, None, &s).is_none());
        let err = Retries::up_to(1).on(&[EndState::Cancelled]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot retry on cancelled: a cancel is never retried"
        );
        assert!(Retries::up_to(1).on(&[EndState::SubmitFailed]).is_err());
    }

    #[test]
    fn a_time_limit_escalates_capped_by_the_longest_partition() {
        let s = system();
        let r = Retries::up_to(3)
            .on(&[EndState::Timeout])
            .unwrap()
            .with_time_factor(3.0);
        let next = r
            .next(EndState::Timeout, 1, Some(&one_core(1800)), &s)
            .unwrap();
        assert_eq!(next.resources.unwrap().max_time, Some(5400));
        assert_eq!(
            next.note,
            "attempt 2 after timeout, with max_time 1800 s -> 5400 s"
        );
        // 3 h x 3 = 9 h fits nowhere: capped at the long partition's 4 h.
        let capped = r
            .next(EndState::Timeout, 1, Some(&one_core(3 * 3600)), &s)
            .unwrap();
        assert_eq!(capped.resources.unwrap().max_time, Some(4 * 3600));
        // Already at the longest: retried as it was.
        let same = r
            .next(EndState::Timeout, 1, Some(&one_core(4 * 3600)), &s)
            .unwrap();
        assert_eq!(same.resources, None);
        assert_eq!(same.note, "attempt 2 after timeout");
    }

    #[test]
    fn out_of_memory_escalates_while_a_partition_fits() {
        let s = system();
        let r = Retries::up_to(2)
            .on(&[EndState::OutOfMemory])
            .unwrap()
            .with_mem_factor(2.0);
        let ask = one_core(600).with_mem(MemRequest::Total(4 * 1024 * 1024));
        let next = r.next(EndState::OutOfMemory, 1, Some(&ask), &s).unwrap();
        assert_eq!(
            next.resources.unwrap().mem,
            Some(MemRequest::Total(8 * 1024 * 1024))
        );
        let big = one_core(600).with_mem(MemRequest::Total(12 * 1024 * 1024));
        let none = r.next(EndState::OutOfMemory, 1, Some(&big), &s).unwrap();
        assert_eq!(none.resources, None, "24 GB fits no partition");
    }
}
