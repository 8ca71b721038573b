//! Commands that only read or tidy the jobs DB: `ls`, `db_unlock`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::{Db, TaskFilter, TaskRecord, TaskStatus};

use super::{print_json, print_table};
use crate::cli::{DbArgs, FilterArgs, LsArgs};

/// The jobs DB file: `--dbfile`, else `jobs.db` in the config's stage root.
pub fn db_path(args: &DbArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.dbfile {
        return Ok(path.clone());
    }
    let loaded = LoadedConfig::from_env()?;
    Ok(loaded.stage_root.join("jobs.db"))
}

/// Builds the DB filter from `-i -n -s -S`.
pub fn filter_from(args: &FilterArgs) -> anyhow::Result<TaskFilter> {
    let mut statuses = Vec::new();
    for name in &args.statuses {
        let group = TaskStatus::parse_group(name).with_context(|| {
            let known: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "unknown status {name:?} for -s (hint: one of {}, ongoing, can_produce_results)",
                known.join(", ")
            )
        })?;
        statuses.extend(group);
    }
    TaskFilter::from_patterns(&args.ids, &args.names, statuses, &args.systems)
        .context("invalid regexp in -i/-n/-S")
}

/// `xpr ls`: the matching tasks, oldest first.
pub fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    let filter = filter_from(&args.filter)?;
    let path = db_path(&args.db)?;
    if !path.exists() {
        anyhow::bail!(
            "no jobs DB at {} (hint: nothing has been submitted from here yet, or pass --dbfile)",
            path.display()
        );
    }
    let db = Db::open(&path)?;
    let tasks = db.list(&filter)?;
    if args.json {
        let records: Vec<_> = tasks.iter().map(record_json).collect();
        print_json(&json!(records))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut header = vec!["ID", "NAME", "SYSTEM", "STATUS", "JOB", "STATE", "EXIT"];
    if args.long {
        header.extend(["NODE", "REMOTE DIR", "REASON"]);
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let mut row = vec![
                t.id.to_string(),
                t.name.clone(),
                t.system.to_string(),
                t.status.to_string(),
                t.scheduler_job_id
                    .as_ref()
                    .map(|j| j.to_string())
                    .unwrap_or_default(),
                t.sched_state.clone().unwrap_or_default(),
                t.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            ];
            if args.long {
                row.extend([
                    t.node.clone().unwrap_or_default(),
                    t.remote_dir.clone().unwrap_or_default(),
                    t.reason.clone().unwrap_or_default(),
                ]);
            }
            row
        })
        .collect();
    print_table(&header, &rows)?;
    Ok(ExitCode::SUCCESS)
}

fn record_json(t: &TaskRecord) -> serde_json::Value {
    json!({
        "id": t.id, "name": t.name, "system": t.system, "status": t.status,
        "scheduler_job_id": t.scheduler_job_id, "sched_state": t.sched_state,
        "exit_code": t.exit_code, "node": t.node, "reason": t.reason,
        "remote_dir": t.remote_dir, "local_dir": t.local_dir,
        "created_at": t.created_at, "updated_at": t.updated_at,
    })
}

/// `xpr db_unlock`.
pub fn db_unlock(args: &DbArgs) -> anyhow::Result<ExitCode> {
    let path = db_path(args)?;
    let mut db = Db::open(&path)?;
    db.unlock()?;
    db.close()?;
    println!(
        "jobs DB {} is writable; its write-ahead log is folded in",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
