//! Kill -9 the process following a 20-task DAG at random moments, then wait again: every
//! task ran exactly once (Slurm's own accounting has one job per task) and succeeded. The
//! DAG's layers alternate between two systems on the test bed's Slurm, so every dependency
//! is held in xpr and every child is released by whichever process follows its parents: the
//! path a crash can break (a child submitted twice, or never).

mod common;
mod life_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Testbed, wait_for};
use life_support::{Bed, close_masters, one_core, slurm_jobs_by_name, slurm_system};
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::{Db, DependencyKind, TaskFilter, TaskStatus};
use xpr::session::{Session, StartRequest, TaskRef};
use xpr::task::TaskSpec;

const LAYERS: usize = 4;
const WIDTH: usize = 5;
const N: usize = LAYERS * WIDTH;
const CHILD_ENV: &str = "XPR_LIFE_CRASH_DAG_CHILD";

/// Layer `l`, task `i`: on `a` or `b` by layer, after tasks `i` and `i+1` of the layer above
/// (a lattice of diamonds); writes its name to `out.txt`.
fn requests() -> Vec<StartRequest> {
    let name = |l: usize, i: usize| format!("dag {l}.{i}");
    let mut out = Vec::with_capacity(N);
    for l in 0..LAYERS {
        for i in 0..WIDTH {
            let mut spec =
                TaskSpec::argv(name(l, i), ["sh", "-c", &format!("echo {l}.{i} > out.txt")]);
            spec.outputs = vec!["out.txt".into()];
            let system = if l % 2 == 0 { "a" } else { "b" };
            let mut request = StartRequest::new(spec, system, one_core().with_max_time(300));
            if l > 0 {
                for p in [i, (i + 1) % WIDTH] {
                    request = request.after(DependencyKind::AfterOk, TaskRef::Name(name(l - 1, p)));
                }
            }
            out.push(request);
        }
    }
    out
}

/// The following process: started by the test below with `CHILD_ENV` set to the config.
#[test]
fn crash_dag_child() {
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
        let started = session.start_many(requests()).await.unwrap();
        let ids: Vec<_> = started.iter().map(|s| s.record.id.clone()).collect();
        session.wait(&ids, Duration::from_secs(300)).await.unwrap();
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
fn a_killed_follower_of_a_dag_submits_every_task_exactly_once() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let slurm = slurm_system(json!({}));
    let bed = Bed::new(Some(&tb), json!({"a": slurm.clone(), "b": slurm}));
    let db = bed.root.path().join("jobs.db");
    let exe = std::env::current_exe().unwrap();
    let child_home = bed.root.path().join("child-home");
    std::fs::create_dir_all(&child_home).unwrap();
    for round in 0..3 {
        let mut child = Command::new(&exe)
            .args([
                "crash_dag_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &bed.config)
            .env("HOME", &child_home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once a random number of tasks more have succeeded (0 = as soon as the DAG is
        // recorded): each time inside a different layer's release.
        let done_before = if db.exists() {
            count(&db, &[TaskStatus::Succeeded])
        } else {
            0
        };
        let target = done_before + random(WIDTH as u64 + 2) as usize;
        wait_for(
            "the moment to kill the follower",
            Duration::from_secs(120),
            || {
                if child.try_wait().unwrap().is_some() {
                    return Some(());
                }
                if !db.exists() || count(&db, &[]) < N {
                    return None;
                }
                (count(&db, &[TaskStatus::Succeeded]) >= target).then_some(())
            },
        );
        let _ = child.kill();
        child.wait().unwrap();
        close_masters(&child_home.join(".xpr/ssh"), "xpr-local");
        eprintln!(
            "round {round}: killed after {} succeeded (target {target}), {} waiting",
            count(&db, &[TaskStatus::Succeeded]),
            count(&db, &[TaskStatus::Waiting])
        );
    }

    // `xpr wait` over everything, in this process.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let session = bed.session(Duration::from_secs(120));
        let all: Vec<_> = session
            .list(&TaskFilter::default())
            .unwrap()
            .into_iter()
            .map(|t| t.id.clone())
            .collect();
        assert_eq!(all.len(), N, "the DAG was recorded once");
        let done = session.wait(&all, Duration::from_secs(300)).await.unwrap();
        for record in &done {
            assert_eq!(record.status, TaskStatus::Succeeded, "{record:?}");
            assert_eq!(record.attempt, 1, "{}: one attempt", record.name);
            let out = session
                .results(&record.id)
                .unwrap()
                .local_dir
                .join("out.txt");
            let want = record.name.trim_start_matches("dag ");
            assert_eq!(std::fs::read_to_string(out).unwrap().trim(), want);
        }
        // Slurm's own records: exactly one job per task.
        let jobs = slurm_jobs_by_name(&bed, &all);
        for id in &all {
            assert_eq!(jobs[id.as_str()].len(), 1, "{id}: {:?}", jobs[id.as_str()]);
        }
    });
}
