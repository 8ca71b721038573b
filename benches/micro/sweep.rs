//! Sweeps at scale: recording a 100,000-point sweep in the jobs DB, and submitting a
//! 10,000-point sweep to the test bed's real Slurm (peak memory, SSH round trips).
//!
//! - `record`: [`Db::create_tasks`] of 100,000 new tasks in one call (one transaction), each
//!   with a spec of the size a real task stores (~1.6 KB: its job script, resources and retry settings),
//!   against the one-transaction-per-task path ([`Db::create_task`] per task, what
//!   `start_many` did before) on 5,000 tasks. Target: at least 50,000 tasks a second.
//! - `submit`: a child process starts a sweep of 1,000 and one of 10,000 points with
//!   [`Session::start_sweep`], packed into 16 jobs and as job arrays (chunked under the test
//!   bed's `MaxArraySize`), every job held (`#SBATCH --hold`) so nothing runs; it reports its
//!   peak RSS (`VmHWM`) and the session's round trips to the host
//!   ([`Session::round_trips`]). Targets: peak under 150 MB for 10,000 points; round trips the
//!   same for 1,000 and 10,000 points (they grow with jobs or chunks, not tasks). The jobs are
//!   cancelled and the run dirs removed afterwards.

use std::path::Path;

use xpr::config::LoadedConfig;
use xpr::db::{Db, NewTask, TaskFilter};
use xpr::ids::{SystemName, TaskId};
use xpr::resources::{CountRequest, Resources};
use xpr::session::{PackSize, Session, SessionOptions, StartRequest, Submission, SweepRequest};
use xpr::sweep::{Param, SweepSpec};
use xpr::task::TaskSpec;

use crate::common::{Row, Scratch, peak_kb, runtime, secs, testbed_env, timed};

/// The first argument that makes this binary a sweep-submitting child.
pub const CHILD_ARG: &str = "__sweep-child";
/// Tasks recorded by `record`.
const RECORDED: usize = 100_000;
/// Tasks recorded one transaction each, for the baseline rate.
const BASELINE: usize = 5_000;
/// The target rate, tasks a second.
const TARGET_RATE: f64 = 50_000.0;
/// The target for the submitting process's peak RSS, MB.
const TARGET_MB: f64 = 150.0;

fn new_task(i: usize, spec: &str) -> NewTask {
    NewTask {
        id: TaskId::new(format!("sweep_{i}_6b12_{i:08x}")),
        name: format!("sweep-{i}"),
        system: SystemName::new("bench"),
        identity: format!("{i:064x}"),
        spec: spec.to_owned(),
        remote_dir: Some(format!("run_expyre/run_sweep_{i}")),
        local_dir: Some(format!("/home/u/_expyre/run_sweep_{i}")),
        sweep: Some("bench".to_owned()),
    }
}

/// The `record` rows.
pub fn record() -> Vec<Row> {
    let scratch = Scratch::new("sweep-record");
    // About what a real task stores: its spec (~1.6 KB, as a sweep task of one command line
    // has: its job script, resources and retry settings).
    let spec = format!("{{\"script\":\"{}\"}}", "#SBATCH --x\\n".repeat(110));
    let tasks: Vec<(NewTask, Vec<_>)> = (0..RECORDED)
        .map(|i| (new_task(i, &spec), Vec::new()))
        .collect();
    let mut db = Db::open(scratch.path().join("bulk.db")).expect("a jobs DB");
    let (bulk, recorded) = timed(|| db.create_tasks(&tasks, true).expect("recording"));
    assert_eq!(recorded.len(), RECORDED);
    assert_eq!(
        db.list_summaries(&TaskFilter::default()).unwrap().len(),
        RECORDED
    );
    let mut one_by_one = Db::open(scratch.path().join("one.db")).expect("a jobs DB");
    let (single, ()) = timed(|| {
        for (task, _) in &tasks[..BASELINE] {
            one_by_one.create_task(task, &[], true).expect("recording");
        }
    });
    let rate = RECORDED as f64 / bulk.as_secs_f64();
    let baseline = BASELINE as f64 / single.as_secs_f64();
    vec![Row {
        measure: format!(
            "recording a {RECORDED}-point sweep in the jobs DB ({})",
            secs(bulk)
        ),
        xpr: format!("{rate:.0} tasks/s"),
        baseline: format!("{baseline:.0} tasks/s (a transaction per task)"),
        ratio: format!("{:.1}x", rate / baseline),
        target: format!(">= {TARGET_RATE:.0} tasks/s"),
        pass: Some(rate >= TARGET_RATE),
    }]
}

/// The submitting child: `MODE POINTS DIR`; prints `key value` lines.
pub fn child(args: &[String]) {
    let mode = match args[0].as_str() {
        "packed" => Submission::Packed(PackSize::Jobs(16)),
        _ => Submission::Array,
    };
    let points: usize = args[1].parse().expect("a number of points");
    let root = Path::new(&args[2]);
    let runtime = runtime();
    let loaded = LoadedConfig::from_files(&[root.join("config.json")], root).expect("the config");
    let session = Session::open_with(loaded, SessionOptions::default()).expect("a session");
    println!("idle_kb {}", peak_kb());
    let template = StartRequest::new(
        TaskSpec::argv("point", ["sh", "-c", "echo {i} > out.txt"]),
        "bench",
        Resources::new(CountRequest::Cores(1)).with_partial_node(true),
    )
    .with_base_dir(root)
    .with_extra_header(["#SBATCH --hold"]);
    let spec = SweepSpec::Grid(vec![
        Param::parse(&format!("i=@range(0,{points})")).expect("a range"),
    ]);
    let mut sweep = SweepRequest::new(format!("{}-{points}", args[0]), spec, template);
    sweep.submission = mode;
    let (took, started) = timed(|| runtime.block_on(session.start_sweep(&sweep)));
    let started = started.expect("starting the sweep");
    assert_eq!(started.submitted, points);
    println!("seconds {}", took.as_secs_f64());
    println!("round_trips {}", session.round_trips("bench"));
    println!("peak_kb {}", peak_kb());
    let ids: Vec<TaskId> = started.tasks.iter().map(|t| t.record.id.clone()).collect();
    runtime
        .block_on(session.remove(&ids, true))
        .expect("cancelling the jobs and removing their run dirs");
    runtime
        .block_on(session.close())
        .expect("closing the session");
}

/// The `submit` rows.
pub fn submit() -> Vec<Row> {
    let env = match testbed_env() {
        Ok(env) => env,
        Err(why) => {
            eprintln!("sweep submit: skipped: {why}");
            return Vec::new();
        }
    };
    let mb = |kb: f64| kb * 1024.0 / 1e6;
    let mut rows = Vec::new();
    for mode in ["packed", "array"] {
        let mut figures = Vec::new();
        for points in [1_000, 10_000] {
            // A stage root (and jobs DB) of its own for each sweep.
            let scratch = Scratch::new("sweep-submit");
            let root = scratch.path();
            let unique = root.file_name().expect("a scratch name").to_string_lossy();
            let config = serde_json::json!({"systems": {"bench": {
                "host": "xpr-local",
                "scheduler": "slurm",
                "remsh_cmd": format!("ssh -F {}", env["XPR_SSH_CONFIG"]),
                "rundir": format!("xpr-bench/{unique}"),
                "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}},
            }}});
            std::fs::write(root.join("config.json"), config.to_string()).expect("the config");
            eprintln!("sweep submit: {points} points, {mode}");
            let points_arg = points.to_string();
            let args = [
                std::ffi::OsStr::new(mode),
                std::ffi::OsStr::new(&points_arg),
                root.as_os_str(),
            ];
            figures.push((points, crate::common::run_child(CHILD_ARG, &args)));
        }
        let (small, large) = (&figures[0].1, &figures[1].1);
        rows.push(Row {
            measure: format!(
                "peak RSS submitting a 10000-point sweep, {mode} ({:.1} s)",
                large["seconds"]
            ),
            xpr: format!("{:.1} MB", mb(large["peak_kb"])),
            baseline: format!("{:.1} MB (session open, idle)", mb(large["idle_kb"])),
            ratio: format!("{:.2}x target", mb(large["peak_kb"]) / TARGET_MB),
            target: format!("< {TARGET_MB} MB"),
            pass: Some(mb(large["peak_kb"]) < TARGET_MB),
        });
        rows.push(Row {
            measure: format!("SSH round trips submitting 10000 points, {mode}"),
            xpr: format!("{}", large["round_trips"]),
            baseline: format!("{} for 1000 points", small["round_trips"]),
            ratio: format!("{:.2}x", large["round_trips"] / small["round_trips"]),
            target: "not growing with tasks".to_owned(),
            pass: Some(large["round_trips"] <= small["round_trips"] + 2.0),
        });
    }
    rows
}
