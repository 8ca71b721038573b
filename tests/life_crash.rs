//! Kill -9 the process submitting 100 tasks to Slurm at random moments, run again: every task
//! ran exactly once (Slurm's own accounting says so) and all results come back.

mod common;
mod life_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Testbed, wait_for};
use life_support::{Bed, close_masters, numbered_requests, slurm_jobs_by_name};
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::{Db, TaskFilter, TaskStatus};
use xpr::session::{Session, StartRequest};

const N: usize = 100;
const CHILD_ENV: &str = "XPR_LIFE_CRASH_CHILD";

fn requests(work: &Path) -> Vec<StartRequest> {
    numbered_requests(N, "slurm")
        .into_iter()
        .map(|r| r.with_base_dir(work))
        .collect()
}

/// The submitting process: started by the test below with `CHILD_ENV` set to the config file.
#[test]
fn crash_child() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let config = PathBuf::from(config);
    let root = config.parent().unwrap().to_path_buf();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let loaded = LoadedConfig::from_files(&[config], &root).unwrap();
        let session =
            Session::open_with(loaded, life_support::options(Duration::from_secs(120))).unwrap();
        session
            .start_many(requests(&root.join("work")))
            .await
            .unwrap();
    });
}

fn random(n: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos / 7) % n
}

fn count(db: &Path, statuses: &[TaskStatus]) -> usize {
    let db = Db::open(db).unwrap();
    db.list(&TaskFilter {
        statuses: statuses.to_vec(),
        ..TaskFilter::default()
    })
    .unwrap()
    .len()
}

#[test]
fn a_killed_submitter_runs_every_task_exactly_once() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(
        Some(&tb),
        json!({
            "slurm": {
                "host": "xpr-local", "scheduler": "slurm",
                "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}}
            }
        }),
    );
    let work = bed.work_dir();
    let db = bed.root.path().join("jobs.db");
    let exe = std::env::current_exe().unwrap();
    // The child's own HOME keeps its ssh master (`~/.xpr/ssh`), which outlives a kill -9,
    // where the test finds and closes it.
    let child_home = bed.root.path().join("child-home");
    std::fs::create_dir_all(&child_home).unwrap();
    for round in 0..2 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &bed.config)
            .env("HOME", &child_home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first submitter dies while its batch is in flight (the case that matters);
        // the second, continuing its work, at a random moment: once tasks exist, while a
        // batch (or the lookup by name) is in flight, or part-way through the submitted ones.
        let moment = if round == 0 { 1 } else { random(3) };
        let target = 1 + random(N as u64 - 1) as usize;
        // Once the whole batch is `submitting`, a random number of 50 ms polls more (0-2 s)
        // lands the kill before, during or after the remote batch.
        let mut extra_polls = random(40);
        wait_for(
            "the moment to kill the submitter",
            Duration::from_secs(120),
            || {
                if child.try_wait().unwrap().is_some() {
                    return Some(());
                }
                if !db.exists() {
                    return None;
                }
                let hit = match moment {
                    0 => count(&db, &[TaskStatus::Created, TaskStatus::Staged]) > 0,
                    1 => {
                        count(&db, &[TaskStatus::Submitting]) == N && {
                            extra_polls = extra_polls.saturating_sub(1);
                            extra_polls == 0
                        }
                    }
                    _ => count(&db, &[TaskStatus::Submitted]) >= target,
                };
                hit.then_some(())
            },
        );
        let _ = child.kill();
        child.wait().unwrap();
        close_masters(&child_home.join(".xpr/ssh"), "xpr-local");
        eprintln!(
            "round {round}: killed at moment {moment}; submitting={} submitted={}",
            count(&db, &[TaskStatus::Submitting]),
            count(&db, &[TaskStatus::Submitted])
        );
    }

    // Run again to completion, in this process.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = bed.session(Duration::from_secs(120));
        let started = session.start_many(requests(&work)).await.unwrap();
        let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), N, "every request maps to its own task");
        let done = session.wait(&ids, Duration::from_secs(400)).await.unwrap();
        let mut found_by_name = 0;
        for (i, record) in done.iter().enumerate() {
            let history = Db::open(&db).unwrap().history(&record.id).unwrap();
            if history.iter().any(|h| {
                h.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("found by name"))
            }) {
                found_by_name += 1;
            }
            assert_eq!(record.status, TaskStatus::Succeeded, "{record:?}");
            let out = session
                .results(&record.id)
                .unwrap()
                .local_dir
                .join("out.txt");
            assert_eq!(std::fs::read_to_string(out).unwrap(), format!("{i}\n"));
        }

        eprintln!("{found_by_name} task(s) were found by name after a crash");

        // Slurm's own records: one job per task id (a second job would only add).
        let jobs = slurm_jobs_by_name(&bed, &ids);
        for id in &ids {
            let runs = jobs.get(id.as_str()).cloned().unwrap_or_default();
            assert_eq!(runs.len(), 1, "task {id} ran as jobs {runs:?}");
        }
        session.close().await.unwrap();
    });
}
