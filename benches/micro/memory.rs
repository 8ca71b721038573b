//! Peak memory of a process following 10,000 Slurm tasks, on the test bed's real Slurm.
//!
//! Each phase runs in a fresh child process (this bench binary, re-run with [`CHILD_ARG`]) that
//! reports its own peak RSS (`VmHWM` of `/proc/self/status`):
//!
//! 1. `populate`: a [`Session`] starts 10,000 tasks with `start_many` on the test bed's Slurm
//!    over SSH (host `xpr-local`): one staging stream, one submission batch. Each job is
//!    submitted held (`#SBATCH --hold`), so all 10,000 stay in the queue, followed, without
//!    running 10,000 jobs on a 2-core machine;
//! 2. `follow`: a new process opens the same stage root and runs [`Session::follow`] over all
//!    of them for [`FOLLOW_FOR`]: every round one `squeue` for all 10,000 jobs;
//! 3. `cancel`: the jobs are cancelled through the session and the remote run dirs removed.
//!
//! The baseline is the same child's peak after opening the session, before its work. The test
//! bed's Slurm allows 30,000 jobs (`MaxJobCount`), room for these besides other tests' jobs.

use std::path::Path;
use std::time::Duration;

use xpr::config::LoadedConfig;
use xpr::db::TaskFilter;
use xpr::resources::{CountRequest, Resources};
use xpr::session::{Session, SessionError, SessionOptions, StartRequest};
use xpr::task::TaskSpec;

use crate::common::{Row, Scratch, peak_kb, runtime, secs, testbed_env, timed};

/// The first argument that makes this binary a measuring child.
pub const CHILD_ARG: &str = "__memory-child";
/// Tasks followed.
const TASKS: usize = 10_000;
/// How long the follow phase runs.
const FOLLOW_FOR: Duration = Duration::from_secs(20);
/// The target for the following process's peak RSS, in MB (10^6 bytes).
const TARGET_MB: f64 = 100.0;

fn session(root: &Path) -> Session {
    let loaded = LoadedConfig::from_files(&[root.join("config.json")], root).expect("the config");
    let options = SessionOptions {
        min_poll_interval: Duration::from_millis(200),
        max_poll_interval: Duration::from_secs(1),
        ..SessionOptions::default()
    };
    Session::open_with(loaded, options).expect("opening the session")
}

/// The measuring child: `populate DIR`, `follow DIR` or `cancel DIR`; prints `key value` lines.
pub fn child(args: &[String]) {
    let root = Path::new(&args[1]);
    let runtime = runtime();
    let session = session(root);
    println!("idle_kb {}", peak_kb());
    match args[0].as_str() {
        "populate" => {
            let requests: Vec<StartRequest> = (0..TASKS)
                .map(|i| {
                    let mut spec = TaskSpec::argv(format!("sweep_{i}"), ["sh", "-c", "sleep 60"]);
                    spec.args = Some(serde_json::json!({"point": i}));
                    spec.outputs = vec!["result.json".into()];
                    StartRequest::new(
                        spec,
                        "bench",
                        Resources::new(CountRequest::Cores(1)).with_partial_node(true),
                    )
                    .with_base_dir(root)
                    .with_extra_header(["#SBATCH --hold"])
                })
                .collect();
            let (took, started) = timed(|| runtime.block_on(session.start_many(requests)));
            let started = started.expect("starting the tasks");
            assert_eq!(started.len(), TASKS);
            println!("seconds {}", took.as_secs_f64());
        }
        "follow" => {
            let (took, result) = timed(|| runtime.block_on(session.follow(None, Some(FOLLOW_FOR))));
            match result {
                Err(SessionError::Timeout { pending, .. }) => assert_eq!(pending.len(), TASKS),
                other => panic!("following held jobs should time out, got {other:?}"),
            }
            println!("seconds {}", took.as_secs_f64());
        }
        _ => {
            let ids: Vec<_> = session
                .list(&TaskFilter::default())
                .expect("listing the tasks")
                .into_iter()
                .map(|r| r.id.clone())
                .collect();
            runtime
                .block_on(session.remove(&ids, true))
                .expect("cancelling the jobs and removing their run dirs");
        }
    }
    runtime
        .block_on(session.close())
        .expect("closing the session");
    println!("peak_kb {}", peak_kb());
}

/// The `memory` rows of the table.
pub fn run() -> Vec<Row> {
    let env = match testbed_env() {
        Ok(env) => env,
        Err(why) => {
            eprintln!("memory: skipped: {why}");
            return Vec::new();
        }
    };
    let scratch = Scratch::new("memory");
    let root = scratch.path();
    let unique = root.file_name().expect("a scratch name").to_string_lossy();
    let config = serde_json::json!({"systems": {"bench": {
        "host": "xpr-local",
        "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", env["XPR_SSH_CONFIG"]),
        "rundir": format!("xpr-bench/{unique}"),
        "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}},
    }}});
    std::fs::write(root.join("config.json"), config.to_string()).expect("writing the config");
    eprintln!("memory: starting {TASKS} held tasks on the test bed's Slurm");
    let run_child = |phase: &str| {
        crate::common::run_child(CHILD_ARG, &[std::ffi::OsStr::new(phase), root.as_os_str()])
    };
    let populate = run_child("populate");
    eprintln!("memory: following them for {}", secs(FOLLOW_FOR));
    let follow = run_child("follow");
    eprintln!("memory: cancelling them and removing their run dirs");
    run_child("cancel");
    let mb = |kb: f64| kb * 1024.0 / 1e6;
    let row = |what: String, peak: f64, idle: f64, target: bool| Row {
        measure: what,
        xpr: format!("{:.1} MB", mb(peak)),
        baseline: format!("{:.1} MB (session open, idle)", mb(idle)),
        ratio: format!("{:.2}x target", mb(peak) / TARGET_MB),
        target: if target {
            format!("< {TARGET_MB} MB")
        } else {
            "-".to_owned()
        },
        pass: target.then(|| mb(peak) < TARGET_MB),
    };
    vec![
        row(
            format!(
                "peak RSS following {TASKS} held Slurm jobs for {}",
                secs(Duration::from_secs_f64(follow["seconds"]))
            ),
            follow["peak_kb"],
            follow["idle_kb"],
            true,
        ),
        row(
            format!(
                "peak RSS starting {TASKS} tasks with start_many ({:.1} s)",
                populate["seconds"]
            ),
            populate["peak_kb"],
            populate["idle_kb"],
            false,
        ),
    ]
}
