//! Exit codes of `xpr`, documented in `xpr --help` and checked by the CLI tests.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when stdout is closed early, as by `xpr ls \| head`) |
//! | 1 | any other error |
//! | 2 | bad command-line usage: clap's own checks, and [`UsageError`]s found after parsing (a bad unit, an unknown status, a missing filter) |
//! | 3 | configuration error (a `config.json` is missing, malformed or invalid; an unknown or unusable profile) |
//! | 4 | the resource request cannot be satisfied by any partition |
//! | 5 | a task failed without an exit code of its own (time limit, cancelled, vanished, missing outputs) |
//!
//! `xpr run` exits with the job's own exit code when the job has one.

use std::fmt;

/// Success.
pub const SUCCESS: u8 = 0;
/// Any error not classified below.
pub const OTHER: u8 = 1;
/// The command line makes no sense (the code clap uses for its own usage errors).
pub const USAGE: u8 = 2;
/// A configuration file is missing, malformed or invalid.
pub const CONFIG: u8 = 3;
/// No partition can satisfy the resource request.
pub const NO_PARTITION: u8 = 4;

/// A task failed without an exit code of its own.
pub const TASK_FAILED: u8 = 5;

/// A command line that parsed but makes no sense: a value that does not parse (`--max-time 1x`),
/// an unknown status, a command that needs a filter and has none. Exits [`USAGE`], as clap's
/// own usage errors do. The message names the flag and what is accepted.
#[derive(Debug)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] with `message`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// A [`UsageError`] for `flag`, whose value was rejected by `err` (its message says why).
pub fn bad_flag(flag: &str, err: impl fmt::Display) -> anyhow::Error {
    usage(format!("{flag}: {err}"))
}

/// The exit code for an error, found by the library error types in its cause chain.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return USAGE;
        }
        if cause.is::<xpr::config::ConfigError>()
            || cause.is::<xpr::session::profile::ProfileError>()
        {
            return CONFIG;
        }
        if cause.is::<xpr::resources::NodeFinderError>() {
            return NO_PARTITION;
        }
        // Session errors forward their inner error's message transparently: look inside.
        match cause.downcast_ref::<xpr::session::SessionError>() {
            Some(xpr::session::SessionError::Config(_)) => return CONFIG,
            Some(xpr::session::SessionError::Resources(_)) => return NO_PARTITION,
            _ => {}
        }
    }
    OTHER
}
