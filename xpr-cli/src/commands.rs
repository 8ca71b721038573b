//! One function per subcommand: call the library, print the result.

use std::process::ExitCode;

use crate::cli::Cli;

/// Runs the parsed command line.
pub fn run(_args: Cli) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
