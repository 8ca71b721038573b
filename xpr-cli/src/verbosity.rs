//! `-v`/`-vv`/`-vvv`: the library's tracing events on stderr.
//!
//! The library says what it does through `tracing` (remote commands with their durations and
//! poll rounds at debug, retries and site limits at info, trouble it works around at warn);
//! the command line decides how much of it to show. `RUST_LOG`, when set, wins (its own
//! filter syntax); ExPyRe's `EXPYRE_TIMING_VERBOSE` counts as `-vv`, so a user's habit keeps
//! working. Colour only on a terminal and never with `NO_COLOR` (<https://no-color.org>).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber for `verbose` (the count of `-v`); with none, and neither
/// `RUST_LOG` nor `EXPYRE_TIMING_VERBOSE`, nothing is installed and nothing extra printed.
/// Called once per process: a second call (the Python package running the CLI twice) keeps
/// the first subscriber.
pub fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => {
            let level = verbose.max(expyre_timing_level());
            match level {
                0 => return,
                1 => EnvFilter::new("xpr=info,xpr_cli=info"),
                2 => EnvFilter::new("xpr=debug,xpr_cli=debug"),
                _ => EnvFilter::new("trace"),
            }
        }
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

/// `EXPYRE_TIMING_VERBOSE` as a `-v` count: set and not `0` or empty is `-vv`.
fn expyre_timing_level() -> u8 {
    match std::env::var("EXPYRE_TIMING_VERBOSE") {
        Ok(v) if !v.is_empty() && v != "0" => 2,
        _ => 0,
    }
}
