//! Commands that only read or tidy the jobs DB: `ls`, `db_unlock`, `export`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use xpr::db::{Db, SummaryRef, TaskFilter, TaskStatus, TaskSummary};
use xpr::session::{Export, IfExists};

use super::{lenient_config, print_json, text_width, write_table};
use crate::cli::{DbArgs, ExportArgs, FilterArgs, LsArgs};
use crate::exit::{self, bad_flag, usage};

/// The jobs DB file: `--dbfile`, else `jobs.db` in the config's stage root (found even when
/// the config files have problems: it depends on the directories, not on their contents).
pub fn db_path(args: &DbArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.dbfile {
        return Ok(path.clone());
    }
    let loaded = lenient_config()?;
    Ok(loaded.stage_root.join(xpr::session::DB_FILE))
}

/// Builds the DB filter from `-i -n -s -S`; an unknown status or a bad regexp is a usage
/// error.
pub fn filter_from(args: &FilterArgs) -> anyhow::Result<TaskFilter> {
    let mut statuses = Vec::new();
    for name in &args.statuses {
        let group = TaskStatus::parse_group(name).ok_or_else(|| {
            let known: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
            usage(format!(
                "unknown status {name:?} for -s (hint: one of {}, ongoing, can_produce_results)",
                known.join(", ")
            ))
        })?;
        statuses.extend(group);
    }
    let mut filter = TaskFilter::from_patterns(&args.ids, &args.names, statuses, &args.systems)
        .map_err(|e| bad_flag("-i/-n/-S", e))?;
    filter.sweep = args.sweep.clone();
    Ok(filter)
}

/// `xpr ls`: the matching tasks, oldest first.
pub fn ls(args: &LsArgs) -> anyhow::Result<u8> {
    let filter = filter_from(&args.filter)?;
    let db = existing_db(&args.db)?;
    if args.json {
        let tasks = db.list_summaries(&filter)?;
        let skip = tasks.len().saturating_sub(args.limit.unwrap_or(usize::MAX));
        let records: Vec<_> = tasks[skip..].iter().map(record_json).collect();
        print_json(&json!(records))?;
        return Ok(exit::SUCCESS);
    }
    print_listing(&db, &filter, args.long, args.limit)?;
    Ok(exit::SUCCESS)
}

/// The jobs DB, which must exist: a command that only reads it does not create one.
fn existing_db(args: &DbArgs) -> anyhow::Result<Db> {
    let path = db_path(args)?;
    if !path.exists() {
        anyhow::bail!(
            "no jobs DB at {} (hint: nothing has been submitted from here yet, or pass --dbfile)",
            path.display()
        );
    }
    Ok(Db::open(&path)?)
}

/// `xpr export`: every task of the jobs DB as one JSON document, to FILE (whole or not at
/// all, never over an existing file without `--force`) or stdout.
pub fn export(args: &ExportArgs) -> anyhow::Result<u8> {
    let db = existing_db(&args.db)?;
    let export = Export::read(&db)?;
    db.close()?;
    match args.file.as_deref() {
        None => export.write_json(std::io::stdout().lock())?,
        Some(file) if file == Path::new("-") => export.write_json(std::io::stdout().lock())?,
        Some(file) => {
            let if_exists = if args.force {
                IfExists::Replace
            } else {
                IfExists::Refuse
            };
            export.write_to(file, if_exists)?;
            writeln!(
                std::io::stdout(),
                "exported {} task(s) of {} to {}",
                export.total,
                export.jobs_db.display(),
                file.display()
            )?;
        }
    }
    Ok(exit::SUCCESS)
}

/// A column of `xpr ls`: its header and how a task's cell is written.
type Column = (&'static str, fn(&SummaryRef<'_>, &mut String));

/// The columns of `xpr ls` (`-l` adds the last four: the current attempt's number, node,
/// remote dir and reason).
const COLUMNS: [Column; 11] = [
    ("ID", |t, s| s.push_str(t.id)),
    ("NAME", |t, s| s.push_str(t.name)),
    ("SYSTEM", |t, s| s.push_str(t.system)),
    ("STATUS", |t, s| s.push_str(t.status.as_str())),
    ("JOB", |t, s| s.push_str(t.scheduler_job_id.unwrap_or(""))),
    ("STATE", |t, s| {
        s.push_str(t.end_state.map_or("", |e| e.as_str()))
    }),
    ("EXIT", |t, s| {
        if let Some(code) = t.exit_code {
            s.push_str(&code.to_string());
        }
    }),
    ("ATTEMPT", |t, s| {
        if t.attempt > 0 {
            s.push_str(&t.attempt.to_string());
        }
    }),
    ("NODE", |t, s| s.push_str(t.node.unwrap_or(""))),
    ("REMOTE DIR", |t, s| s.push_str(t.remote_dir.unwrap_or(""))),
    ("REASON", |t, s| s.push_str(t.reason.unwrap_or(""))),
];

/// Prints the tasks as a left-aligned table (as `print_table` does). One pass over the DB
/// writes every cell, borrowed from SQLite's row, into one arena string and sizes the columns;
/// the table is then printed from the arena. 100,000 tasks are a million cells: one string per
/// cell, or a second pass over the DB, each cost more than this.
fn print_listing(
    db: &Db,
    filter: &TaskFilter,
    long: bool,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let columns = if long { &COLUMNS[..] } else { &COLUMNS[..7] };
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.len()).collect();
    let mut arena = String::new();
    // Where each cell ends in `arena`, row after row.
    let mut ends: Vec<usize> = Vec::new();
    db.for_each_summary(filter, |task| {
        for ((_, write), w) in columns.iter().zip(&mut widths) {
            let start = arena.len();
            write(task, &mut arena);
            *w = (*w).max(text_width(&arena[start..]));
            ends.push(arena.len());
        }
    })?;
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let arena = arena.as_str();
    let ends = &ends;
    let count = ends.len() / columns.len();
    let skip = count.saturating_sub(limit.unwrap_or(usize::MAX));
    // (Widths stay those of all matching rows: a column does not jump with --limit.)
    let rows = ends
        .chunks(columns.len())
        .enumerate()
        .skip(skip)
        .map(|(i, row)| {
            // A row's cells run from the end of the previous row's last cell.
            let mut start = if i == 0 {
                0
            } else {
                ends[i * columns.len() - 1]
            };
            row.iter().map(move |&end| {
                let cell = &arena[start..end];
                start = end;
                cell
            })
        });
    write_table(&widths, &header, rows)?;
    Ok(())
}

fn record_json(t: &TaskSummary) -> serde_json::Value {
    json!({
        "id": t.id, "name": t.name, "system": t.system, "status": t.status,
        "attempt": t.attempt, "scheduler_job_id": t.scheduler_job_id, "end_state": t.end_state,
        "cancel_requested_at": t.cancel_requested_at,
        "exit_code": t.exit_code, "node": t.node, "reason": t.reason,
        "remote_dir": t.remote_dir, "local_dir": t.local_dir,
        "created_at": t.created_at, "updated_at": t.updated_at,
    })
}

/// `xpr db_unlock`.
pub fn db_unlock(args: &DbArgs) -> anyhow::Result<u8> {
    let path = db_path(args)?;
    let mut db = Db::open(&path)?;
    db.unlock()?;
    db.close()?;
    writeln!(
        std::io::stdout(),
        "jobs DB {} is writable; its write-ahead log is folded in",
        path.display()
    )?;
    Ok(exit::SUCCESS)
}
