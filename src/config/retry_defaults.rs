//! Retry defaults of a system or a profile: the keys `max_retries`, `retry_on`,
//! `retry_time_factor` and `retry_mem_factor`, the config file's spelling of the CLI's retry
//! flags. A task that says nothing about retries takes its profile's, else its system's
//! (the session turns them into its `Retries`, checking the class names, which the engine
//! owns); a task's own retry settings replace them as a whole.
//!
//! ```json
//! "max_retries": 2, "retry_on": ["node_fail", "preempted", "timeout"], "retry_time_factor": 2
//! ```

/// The retry keys of one system or profile, as written (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetryDefaults {
    /// `max_retries`: at most this many attempts after the first.
    pub max_retries: Option<u32>,
    /// `retry_on`: the end state names that retry (empty: the engine's default classes).
    pub retry_on: Vec<String>,
    /// `retry_time_factor`: on a time limit, multiply the run time by this (above 1).
    pub time_factor: Option<f64>,
    /// `retry_mem_factor`: on an out-of-memory kill, multiply the memory by this (above 1).
    pub mem_factor: Option<f64>,
}

impl RetryDefaults {
    /// The config keys this type reads.
    pub const KEYS: [&'static str; 4] = [
        "max_retries",
        "retry_on",
        "retry_time_factor",
        "retry_mem_factor",
    ];

    /// True when none of the keys was given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
