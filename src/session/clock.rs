//! The engine's clock: what "now" is when it measures how long a job has been missing.
//!
//! The follow logic never reads the system time itself; it asks the session's [`Clock`], so a
//! test can move time forward ([`ManualClock`]) and check that a job missing from both queue
//! and accounting is declared vanished exactly past the vanish timeout, without sleeping.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, as time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system's real clock (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Duration>,
}

impl ManualClock {
    /// A clock reading the real time now, then standing still.
    pub fn new() -> Self {
        Self {
            now: Mutex::new(SystemClock.now()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
