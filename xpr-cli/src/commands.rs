//! One function per subcommand: call the library, print the result.

mod config;
mod connect;
mod db;
mod nodes;
mod tasks;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};

/// Runs the parsed command line.
pub fn run(args: Cli) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Systems(flags) => config::systems(flags.json),
        Command::Config(ConfigCommand::Check(flags)) => config::check(flags.json),
        Command::Nodes(nodes) => nodes::nodes(&nodes),
        Command::Connect(arg) => connect::connect(&arg.system),
        Command::Disconnect(arg) => connect::disconnect(&arg.system),
        Command::Ls(args) => db::ls(&args),
        Command::DbUnlock(args) => db::db_unlock(&args),
        Command::Run(args) => tasks::run(&args),
        Command::Submit(args) => tasks::submit(&args),
        Command::Status(select) | Command::Sync(select) => tasks::status(&select),
        Command::Wait(args) => tasks::wait(&args),
        Command::Results(arg) => tasks::results(&arg.id, false),
        Command::Logs(arg) => tasks::logs(&arg.id),
        Command::Cancel(select) => tasks::cancel(&select),
        Command::Clean(select) => tasks::clean(&select),
        Command::MarkProcessed(select) => tasks::mark_processed(&select),
        Command::Rm(args) => tasks::rm(&args),
        Command::ResetStatus(args) => tasks::reset_status(&args),
    }
}

/// Prints `value` as pretty JSON on stdout.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints rows as a left-aligned table with a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
