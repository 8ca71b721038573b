//! One function per subcommand: call the library, print the result.

mod config;
mod connect;
mod db;
mod discover;
mod docs;
mod doctor;
mod nodes;
mod progress;
mod sweep;
mod tasks;
mod top;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use xpr::config::LoadedConfig;

use crate::cli::{Cli, Command, ConfigCommand};

/// Set once [`lenient_config`] has warned about config problems.
static CONFIG_WARNED: AtomicBool = AtomicBool::new(false);

/// True when this run has printed a warning about the config's problems.
pub fn config_warned() -> bool {
    CONFIG_WARNED.load(Ordering::Relaxed)
}

/// The config for a command that can work without a configured system (the jobs DB, a task's
/// results, the built-in `local` system): config files with problems do not stop it, and
/// their problems are printed as a warning on stderr, each naming its file.
fn lenient_config() -> anyhow::Result<LoadedConfig> {
    let loaded = LoadedConfig::from_env_lenient()?;
    if let Some(problems) = &loaded.problems {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "xpr: warning: the config has problems, so only the built-in `local` system is \
             usable (hint: `xpr config check` lists them; the jobs DB is {}):",
            loaded.stage_root.join(xpr::session::DB_FILE).display()
        );
        for problem in problems.errors() {
            let _ = writeln!(stderr, "  {problem}");
        }
        CONFIG_WARNED.store(true, Ordering::Relaxed);
    }
    Ok(loaded)
}

/// Runs the parsed command line.
pub fn run(args: Cli) -> anyhow::Result<u8> {
    match args.command {
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
        Command::Systems(flags) => config::systems(flags.json),
        Command::Config(ConfigCommand::Check(flags)) => config::check(flags.json),
        Command::Nodes(nodes) => nodes::nodes(&nodes),
        Command::Connect(arg) => connect::connect(&arg.system),
        Command::Disconnect(arg) => connect::disconnect(&arg.system),
        Command::Discover(args) => discover::discover(&args),
        Command::Doctor(args) => doctor::doctor(&args),
        Command::Ls(args) => db::ls(&args),
        Command::DbUnlock(args) => db::db_unlock(&args),
        Command::Export(args) => db::export(&args),
        Command::Run(args) => tasks::run(&args),
        Command::Submit(args) => tasks::submit(&args),
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Status(select) | Command::Sync(select) => tasks::status(&select),
        Command::Wait(args) => tasks::wait(&args),
        Command::Top(args) => top::top(&args),
        Command::Results(args) => tasks::results(&args.id, args.json),
        Command::Logs(args) if args.follow => tasks::follow_logs(&args.id),
        Command::Logs(args) => tasks::logs(&args.id, args.attempt),
        Command::Retry(select) => tasks::retry(&select),
        Command::Cancel(select) => tasks::cancel(&select),
        Command::Clean(args) if args.orphans => tasks::clean_orphans(&args),
        // (clap's `requires` does not hold `-y` to --orphans when task ids are given.)
        Command::Clean(args) if args.yes => Err(crate::exit::usage(
            "-y goes with --orphans (hint: `xpr clean ID...` cleans tasks without asking)",
        )),
        Command::Clean(args) => tasks::clean(&args.select),
        Command::MarkProcessed(select) => tasks::mark_processed(&select),
        Command::Rm(args) => tasks::rm(&args),
        Command::ResetStatus(args) => tasks::reset_status(&args),
    }
}

/// Prints `value` as pretty JSON on stdout, through one large buffer (stdout is line
/// buffered, and `xpr ls --json` prints over a million lines for 100,000 tasks).
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints rows as a left-aligned table with a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(text_width(cell));
        }
    }
    write_table(
        &widths,
        header,
        rows.iter().map(|row| row.iter().map(String::as_str)),
    )?;
    Ok(())
}

/// Characters in `text` (what a terminal column counts), fast for the usual ASCII.
fn text_width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// Writes `header` and `rows` to stdout, each cell padded to its column's width (in
/// characters), two spaces between columns, trailing blanks trimmed.
///
/// Written through one large buffer: `xpr ls` prints 100,000 rows, and Rust's line-buffered
/// stdout would make a write system call per line.
fn write_table<'a, R>(
    widths: &[usize],
    header: &[&str],
    rows: impl Iterator<Item = R>,
) -> std::io::Result<()>
where
    R: Iterator<Item = &'a str>,
{
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut line = String::new();
    let mut write_line = |cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
        line.clear();
        for (cell, w) in cells.zip(widths) {
            line.push_str(cell);
            let pad = w.saturating_sub(text_width(cell));
            line.extend(std::iter::repeat_n(' ', pad + 2));
        }
        out.write_all(line.trim_end().as_bytes())?;
        out.write_all(b"\n")
    };
    write_line(&mut header.iter().copied())?;
    for mut row in rows {
        write_line(&mut row)?;
    }
    out.flush()
}
