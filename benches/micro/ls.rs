//! `xpr ls` over a jobs DB of 100,000 tasks: the release `xpr` binary, as a user types it,
//! output to a pipe; baseline: `sqlite3` printing the same columns of the same rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use xpr::db::{Db, EndState, NewTask, TaskStatus, TaskUpdate};
use xpr::ids::{SchedulerJobId, SystemName};
use xpr::task::{TaskSpec, body_lines, new_task_id, task_identity};

use crate::common::{Row, Scratch, median, secs, timed, workspace_root};

/// Tasks in the DB.
const TASKS: usize = 100_000;
/// Runs of each command; the median is reported.
const RUNS: usize = 7;
/// The target for one `xpr ls`.
const TARGET: Duration = Duration::from_millis(200);

/// The release `xpr` binary: `$XPR_BIN`, else built with `cargo build --release`.
fn xpr_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("XPR_BIN") {
        return PathBuf::from(bin);
    }
    let root = workspace_root();
    eprintln!("ls: building the release xpr binary (cargo build --release -p xpr-cli)");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-q", "-p", "xpr-cli", "--bin", "xpr"])
        .current_dir(&root)
        .status()
        .expect("cannot run cargo");
    assert!(status.success(), "building the release xpr binary failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("release").join("xpr")
}

/// The status task `i` ends in: a long-lived DB is mostly finished work, with a few percent
/// still on its way.
fn status_of(i: usize) -> TaskStatus {
    match i % 100 {
        0..60 => TaskStatus::Cleaned,
        60..85 => TaskStatus::Processed,
        85..92 => TaskStatus::Succeeded,
        92..96 => TaskStatus::Failed,
        96 => TaskStatus::Died,
        97 => TaskStatus::Started,
        98 => TaskStatus::Submitted,
        _ => TaskStatus::Staged,
    }
}

/// A DB of [`TASKS`] tasks made through the public [`Db`] API, rows shaped like the session's
/// (a spec JSON of the stored task with its job script, a few KB).
fn make_db(path: &Path) -> Duration {
    let (took, ()) = timed(|| {
        let mut db = Db::open(path).expect("opening the bench DB");
        for i in 0..TASKS {
            let name = format!("relax_Si_{}", i % 997);
            let mut spec = TaskSpec::argv(&name, ["python", "relax.py", "--steps", "200"]);
            spec.inputs = vec!["structure.xyz".into(), "params.json".into()];
            spec.outputs = vec!["relaxed.xyz".into(), "log.txt".into()];
            spec.args = Some(serde_json::json!({"index": i, "temperature": 300 + i % 50}));
            spec.env = vec![("OMP_NUM_THREADS".into(), "4".into())];
            let identity = task_identity(&spec, &[]).expect("hashing a spec without inputs");
            let id = new_task_id(&name, &identity);
            let remote_dir = format!("/work/e89/e89/jdoe/run_xpr/laptop-home_jdoe/run_{id}");
            let mut script = vec![
                "#!/bin/bash -l".to_owned(),
                format!("#SBATCH --job-name={id}"),
                "#SBATCH --partition=standard".to_owned(),
                "#SBATCH --nodes=1".to_owned(),
                "#SBATCH --ntasks-per-node=128".to_owned(),
                "#SBATCH --time=4:00:00".to_owned(),
                "#SBATCH --account=e89-camm".to_owned(),
                format!("#SBATCH --output={remote_dir}/job.%j.out"),
                "module load PrgEnv-gnu".to_owned(),
                "export OMP_NUM_THREADS=1".to_owned(),
            ];
            script.extend(body_lines(&spec));
            let stored = serde_json::json!({
                "spec": spec,
                "inputs": [["/home/jdoe/project/structure.xyz", "structure.xyz"],
                           ["/home/jdoe/project/params.json", "params.json"]],
                "script": script.join("\n"),
                "remote_base": "/work/e89/e89/jdoe/run_xpr/laptop-home_jdoe",
            });
            let task = NewTask {
                id: id.clone(),
                name,
                system: SystemName::new(if i % 3 == 0 { "archer2" } else { "cirrus" }),
                identity,
                spec: stored.to_string(),
                remote_dir: Some(remote_dir),
                local_dir: Some(format!("/home/jdoe/project/_expyre/run_{id}")),
                sweep: None,
            };
            db.create(&task).expect("creating a task");
            let status = status_of(i);
            if status != TaskStatus::Created {
                db.transition(&id, &[], status, &update_for(i, status))
                    .expect("moving a task");
            }
        }
        db.close().expect("closing the bench DB");
    });
    took
}

/// What the DB knows of a task in `status` (job id, state, exit code, node ...).
fn update_for(i: usize, status: TaskStatus) -> TaskUpdate {
    let submitted = !matches!(status, TaskStatus::Created | TaskStatus::Staged);
    let ended = !matches!(
        status,
        TaskStatus::Created | TaskStatus::Staged | TaskStatus::Submitted | TaskStatus::Started
    );
    TaskUpdate {
        scheduler_job_id: submitted.then(|| SchedulerJobId::new(format!("{}", 7_000_000 + i))),
        end_state: ended.then_some(match status {
            TaskStatus::Failed => EndState::Timeout,
            TaskStatus::Died => EndState::Vanished,
            _ => EndState::Succeeded,
        }),
        exit_code: ended.then_some(if status == TaskStatus::Failed { 1 } else { 0 }),
        node: submitted.then(|| format!("nid{:06}", i % 5860)),
        reason: (status == TaskStatus::Failed)
            .then(|| "job ended as timeout (TIMEOUT) without writing xpr.exit".to_owned()),
        ..TaskUpdate::default()
    }
}

/// Runs `cmd` with stdout to a pipe this process drains; returns the time and stdout's lines.
fn run_piped(cmd: &mut Command) -> (Duration, usize) {
    let (took, out) = timed(|| {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("cannot run the command")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, out.stdout.iter().filter(|&&b| b == b'\n').count())
}

/// Times `xpr ls ARGS` against `sqlite3` with `query`, alternating, [`RUNS`] times each.
fn compare(
    xpr: &Path,
    db: &Path,
    what: &str,
    ls_args: &[&str],
    query: &str,
    expected_rows: usize,
) -> Row {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        let (t, lines) = run_piped(
            Command::new(xpr)
                .arg("ls")
                .arg("--dbfile")
                .arg(db)
                .args(ls_args),
        );
        assert_eq!(
            lines,
            expected_rows + 1,
            "xpr ls {ls_args:?}: header + one line per task"
        );
        ours.push(t);
        let (t, lines) = run_piped(Command::new("sqlite3").arg(db).arg(query));
        assert_eq!(lines, expected_rows, "sqlite3 {query}");
        theirs.push(t);
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    Row {
        measure: format!("{what} ({expected_rows} rows)"),
        xpr: secs(ours),
        baseline: format!("{} (sqlite3)", secs(theirs)),
        ratio: format!("{:.2}x sqlite3", ours.as_secs_f64() / theirs.as_secs_f64()),
        target: format!("< {}", secs(TARGET)),
        pass: Some(ours < TARGET),
    }
}

/// The `ls` rows of the table.
pub fn run() -> Vec<Row> {
    let xpr = xpr_binary();
    let scratch = Scratch::new("ls");
    // `XPR_BENCH_LS_DB=FILE` keeps the DB in FILE (made there if missing) for re-runs.
    let db = std::env::var_os("XPR_BENCH_LS_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.path().join("jobs.db"));
    let setup = if db.exists() {
        eprintln!("ls: reusing the jobs DB {}", db.display());
        None
    } else {
        eprintln!("ls: making a jobs DB of {TASKS} tasks through xpr::db::Db");
        Some(make_db(&db))
    };
    let ongoing = (0..TASKS)
        .filter(|&i| TaskStatus::ONGOING.contains(&status_of(i)))
        .count();
    let columns = "id, name, system, status, scheduler_job_id, end_state, exit_code";
    let mut rows = vec![
        compare(
            &xpr,
            &db,
            "xpr ls --dbfile F",
            &[],
            &format!("SELECT {columns} FROM tasks ORDER BY created_at, id"),
            TASKS,
        ),
        compare(
            &xpr,
            &db,
            "xpr ls --dbfile F -s ongoing",
            &["-s", "ongoing"],
            &format!(
                "SELECT {columns} FROM tasks WHERE status IN \
                 ('created','staged','submitting','submitted','started') ORDER BY created_at, id"
            ),
            ongoing,
        ),
    ];
    if let Some(setup) = setup {
        rows.push(Row {
            measure: format!("making the DB: {TASKS} x (Db::create + Db::transition)"),
            xpr: secs(setup),
            baseline: "-".to_owned(),
            ratio: format!("{:.0} tasks/s", TASKS as f64 / setup.as_secs_f64()),
            target: "-".to_owned(),
            pass: None,
        });
    }
    rows
}
