//! Peak memory of a process following 10,000 Slurm tasks.
//!
//! Each phase runs in a fresh child process (this bench binary, re-run with [`CHILD_ARG`]) that
//! reports its own peak RSS (`VmHWM` of `/proc/self/status`):
//!
//! 1. `populate`: a [`Session`] starts 10,000 tasks on a Slurm system with `start_many` (one
//!    staging stream, one submission batch), its transport a fake Slurm host;
//! 2. `follow`: a new process opens the same stage root and runs [`Session::follow`] over all
//!    of them for [`FOLLOW_FOR`]: every round one `squeue` for all jobs (half running, half
//!    held), `submitted -> started` for the running half in the first round.
//!
//! The fake host ([`FakeSlurm`]) answers what real Slurm would print (`sbatch --parsable`
//! ids, `squeue --format=%i|%T|%r|%N|%j` rows) instantly; Slurm's default `MaxJobCount` is
//! 10,000, so the shared test bed cannot hold 10,000 more jobs. The baseline is the same
//! child's peak after opening the session, before following.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use xpr::command::{CommandOutput, CommandSpec};
use xpr::config::LoadedConfig;
use xpr::resources::{CountRequest, Resources};
use xpr::session::protocol::BATCH_PROGRAM;
use xpr::session::{Session, SessionError, SessionOptions, StartRequest};
use xpr::task::TaskSpec;
use xpr::transport::{BoxFuture, DynRead, DynWrite, Retry, Transport, TransportError};

use crate::common::{Row, Scratch, secs, timed};

/// The first argument that makes this binary a measuring child.
pub const CHILD_ARG: &str = "__memory-child";
/// Tasks followed.
const TASKS: usize = 10_000;
/// How long the follow phase runs.
const FOLLOW_FOR: Duration = Duration::from_secs(10);
/// The target for the following process's peak RSS, in MB (10^6 bytes).
const TARGET_MB: f64 = 100.0;

/// A Slurm host answering instantly from memory: `sbatch` gives fresh ids, `squeue` lists
/// every job asked for (even ids running, odd ones held), `sacct` knows nothing yet.
#[derive(Debug, Default)]
struct FakeSlurm {
    next_job: AtomicU64,
    squeue_calls: AtomicUsize,
}

impl FakeSlurm {
    fn batch(&self, stdin: &[u8]) -> CommandOutput {
        let mut out = b"LOCKED\n".to_vec();
        let mut rest = stdin;
        let mut i = 0;
        // Frames (see `xpr::session::protocol`): `L<line>\n`, or `<length>\n<line bytes>`.
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line;
            if let Some(text) = rest[..nl].strip_prefix(b"L") {
                line = text;
                rest = &rest[nl + 1..];
            } else {
                let len: usize = std::str::from_utf8(&rest[..nl]).unwrap().parse().unwrap();
                line = &rest[nl + 1..nl + 1 + len];
                rest = &rest[nl + 1 + len..];
            }
            assert!(
                line.windows(6).any(|w| w == b"sbatch"),
                "the fake runs only submissions"
            );
            let id = 1_000_000 + self.next_job.fetch_add(1, Ordering::Relaxed);
            let reply = format!("{id}\n");
            out.extend_from_slice(format!("R {i} 0 {} 0\n{reply}", reply.len()).as_bytes());
            i += 1;
        }
        out.extend_from_slice(b"END\n");
        CommandOutput::success(out)
    }

    fn squeue(&self, cmd: &CommandSpec) -> CommandOutput {
        self.squeue_calls.fetch_add(1, Ordering::Relaxed);
        let mut out = String::new();
        for arg in &cmd.args {
            let Some(ids) = arg.as_bytes().strip_prefix(b"--jobs=") else {
                continue;
            };
            for id in std::str::from_utf8(ids).unwrap().split(',') {
                let n: u64 = id.parse().unwrap();
                if n.is_multiple_of(2) {
                    out.push_str(&format!("{id}|RUNNING|None|vm|job{id}\n"));
                } else {
                    out.push_str(&format!("{id}|PENDING|JobHeldUser||job{id}\n"));
                }
            }
        }
        CommandOutput::success(out)
    }
}

impl Transport for FakeSlurm {
    fn host(&self) -> &str {
        "fake-slurm"
    }

    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        _retry: Retry,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        let reply = match cmd.program.as_bytes() {
            b"sh" if cmd.args.get(1).is_some_and(|a| a == BATCH_PROGRAM) => self.batch(&cmd.stdin),
            b"squeue" => self.squeue(cmd),
            _ => CommandOutput::success(Vec::new()),
        };
        Box::pin(async move { Ok(reply) })
    }

    fn run_streaming<'a>(
        &'a self,
        _cmd: &'a CommandSpec,
        stdin: Option<DynRead<'a>>,
        _stdout: Option<DynWrite<'a>>,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(async move {
            if let Some(input) = stdin {
                let mut sink = vec![0u8; 1 << 16];
                while input.read(&mut sink).await.expect("reading the stream") > 0 {}
            }
            Ok(CommandOutput::success(Vec::new()))
        })
    }
}

/// Peak resident memory of this process so far, in kB (`VmHWM`).
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn session(root: &Path) -> Session {
    let loaded = LoadedConfig::from_files(&[root.join("config.json")], root).expect("the config");
    let options = SessionOptions {
        min_poll_interval: Duration::from_millis(200),
        max_poll_interval: Duration::from_secs(1),
        ..SessionOptions::default()
    };
    Session::open_with(loaded, options).expect("opening the session")
}

/// The measuring child: `populate DIR` or `follow DIR`; prints `key value` lines.
pub fn child(args: &[String]) {
    let root = Path::new(&args[1]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let session = session(root);
    let fake = std::sync::Arc::new(FakeSlurm::default());
    runtime.block_on(session.set_transport("bench", fake.clone()));
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
                })
                .collect();
            let (took, started) = timed(|| runtime.block_on(session.start_many(requests)));
            let started = started.expect("starting the tasks");
            assert_eq!(started.len(), TASKS);
            println!("seconds {}", took.as_secs_f64());
        }
        _ => {
            let result = runtime.block_on(session.follow(None, Some(FOLLOW_FOR)));
            match result {
                Err(SessionError::Timeout { pending, .. }) => assert_eq!(pending.len(), TASKS),
                other => panic!("following held jobs should time out, got {other:?}"),
            }
            println!("squeue_calls {}", fake.squeue_calls.load(Ordering::Relaxed));
        }
    }
    println!("peak_kb {}", peak_kb());
}

/// Runs one child phase and returns its `key value` lines.
fn run_child(phase: &str, root: &Path) -> HashMap<String, f64> {
    let exe = std::env::current_exe().expect("this bench's path");
    let out = Command::new(exe)
        .args([CHILD_ARG, phase])
        .arg(root)
        .output()
        .expect("running the child");
    assert!(
        out.status.success(),
        "memory child {phase} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("a number")))
        .collect()
}

/// The `memory` rows of the table.
pub fn run() -> Vec<Row> {
    let scratch = Scratch::new("memory");
    let root = scratch.path();
    let config = serde_json::json!({"systems": {"bench": {
        "host": "fake-slurm.invalid",
        "scheduler": "slurm",
        "rundir": "xpr-bench",
        "partitions": {"debug": {"num_cores": 16, "max_time": "1d", "max_mem": "64GB"}},
    }}});
    std::fs::write(root.join("config.json"), config.to_string()).expect("writing the config");
    eprintln!("memory: starting {TASKS} tasks on a fake Slurm host");
    let populate = run_child("populate", root);
    eprintln!("memory: following them for {}", secs(FOLLOW_FOR));
    let follow = run_child("follow", root);
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
                "peak RSS following {TASKS} Slurm tasks ({} squeue rounds in {})",
                follow["squeue_calls"],
                secs(FOLLOW_FOR)
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
