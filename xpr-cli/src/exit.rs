//! Exit codes of `xpr`, documented in `xpr --help` and checked by the CLI tests.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other error |
//! | 2 | bad command-line usage (clap) |
//! | 3 | configuration error (a `config.json` is missing, malformed or invalid) |
//! | 4 | the resource request cannot be satisfied by any partition |
//! | 5 | a task failed without an exit code of its own (time limit, cancelled, vanished, missing outputs) |
//!
//! `xpr run` exits with the job's own exit code when the job has one.

use std::process::ExitCode;

/// Any error not classified below.
pub const OTHER: u8 = 1;
/// A configuration file is missing, malformed or invalid.
pub const CONFIG: u8 = 3;
/// No partition can satisfy the resource request.
pub const NO_PARTITION: u8 = 4;

/// A task failed without an exit code of its own.
pub const TASK_FAILED: u8 = 5;

/// The exit code for an error, found by the library error types in its cause chain.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if cause.is::<xpr::config::ConfigError>() {
            return ExitCode::from(CONFIG);
        }
        if cause.is::<xpr::resources::NodeFinderError>() {
            return ExitCode::from(NO_PARTITION);
        }
        // Session errors forward their inner error's message transparently: look inside.
        match cause.downcast_ref::<xpr::session::SessionError>() {
            Some(xpr::session::SessionError::Config(_)) => return ExitCode::from(CONFIG),
            Some(xpr::session::SessionError::Resources(_)) => return ExitCode::from(NO_PARTITION),
            _ => {}
        }
    }
    ExitCode::from(OTHER)
}
