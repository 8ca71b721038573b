//! End-to-end benchmark of a task's whole life on the test bed's Slurm over SSH (issue "Speed").
//!
//! ```text
//! cargo bench --bench lifecycle [-- --n 50,200,1000] [--modes individual,packed,array] [--jobs 16]
//!                               [--repeat K] [--no-wan] [--no-loopback] [--no-expyre]
//!                               [--expyre-n 50,200] [--expyre-venv DIR] [--delay-ms 25]
//!                               [--min-poll SECS] [--max-poll SECS] [--keep]
//! ```
//!
//! Each mode is measured against its own limit ([`limit::Mode`]): `individual` (a job per
//! task) against N raw `sbatch`; `packed` (xpr's `Submission::Packed(Jobs(J))`) against J raw
//! jobs each running its share; `array` (`Submission::Array`) against raw `sbatch --array`
//! chunked under the same `MaxArraySize`. Packed and array rows also give the speed-up over
//! the one-job-per-task limit of the same N and link (`vs 1/task`), when that was measured
//! (`individual` runs first, whatever the order `--modes` gives).
//!
//! For each link (loopback, then a wide-area link emulated by a delay relay in this binary,
//! 25 ms each way, used as ssh's `ProxyCommand`) and each N, it runs N trivial tasks (each a
//! small `in.txt` turned into `out.txt` by `tr`) and prints
//!
//! - **xpr**: wall time from nothing (no session, no SSH connection, a fresh jobs DB) to all N
//!   results local and checked: `Session::open_with` (default [`SessionOptions`] unless
//!   `--min-poll`/`--max-poll`), `start_many`, `wait`;
//! - **limit**: the physical limit measured in the same run ([`limit`]): one SSH session that
//!   creates the N inputs on the head node, runs the N `sbatch` directly, waits for the queue
//!   to empty and sends the outputs back in one tar stream;
//! - their ratio; with `--repeat K` the two alternate (limit first on even rounds) and the
//!   median of each is used;
//! - **ExPyRe**: the same tasks through ExPyRe (`expyre-wfl` 0.1.6, see [`expyre`]), for the N
//!   in `--expyre-n` (default 50,200: it pays several SSH handshakes per task).
//!
//! It needs the test bed (`tests/testbed/setup.sh`), read from `$XPR_TESTBED_ENV` or
//! `/tmp/xpr-testbed/env.sh`. Everything it makes is under a scratch dir in `$TMPDIR` and
//! `~xprtest/xpr-bench/<token>/` on the test bed; both are removed at the end, and any Slurm
//! job whose name carries the run's token is cancelled (unless `--keep`). Nothing is removed
//! before the end: on a file system that skips recently freed inodes when it makes new ones
//! (ext4 without a journal, as on the test VM), many deletions make the next file creations
//! slower for up to a minute, so one round's clean-up would tax the next one's time. Each
//! timed run starts after a `sync` on both sides, for the same reason.
//!
//! `lifecycle relay HOST PORT DELAY_MS` is the relay itself (see [`relay`]).

#[path = "lifecycle/expyre.rs"]
mod expyre;
#[path = "lifecycle/limit.rs"]
mod limit;
#[path = "lifecycle/relay.rs"]
mod relay;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::TaskStatus;
use xpr::resources::{CountRequest, Resources};
use xpr::session::{PackSize, Session, SessionOptions, StartRequest, Submission};
use xpr::task::TaskSpec;

/// What every task runs (in its run dir): the limit's job script runs the same line.
const COMMAND: &str = "tr a-z A-Z < in.txt > out.txt";

/// One task's input text; its expected output is the upper-cased text.
pub struct Task {
    /// Lower-case ASCII words (safe inside single quotes).
    pub input: String,
}

impl Task {
    /// What `out.txt` must hold.
    pub fn expected(&self) -> String {
        self.input.to_uppercase()
    }
}

/// A way to reach the test bed: an ssh config whose `xpr-local` is the Slurm head node.
pub struct Link {
    /// Shown in the table.
    pub name: String,
    /// `ssh -F` file.
    pub ssh_config: PathBuf,
}

struct Options {
    ns: Vec<usize>,
    modes: Vec<limit::Mode>,
    jobs: usize,
    repeat: usize,
    wan: bool,
    loopback: bool,
    expyre: bool,
    expyre_ns: Vec<usize>,
    expyre_venv: Option<PathBuf>,
    delay_ms: u64,
    min_poll: Option<Duration>,
    max_poll: Option<Duration>,
    keep: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench lifecycle [-- --n 50,200,1000] \
         [--modes individual,packed,array] [--jobs 16] [--repeat K] [--no-wan] \
         [--no-loopback] [--no-expyre] [--expyre-n 50,200] [--expyre-venv DIR] [--delay-ms 25] \
         [--min-poll SECS] [--max-poll SECS] [--keep]"
    );
    std::process::exit(2)
}

fn parse_options(args: &[String]) -> Options {
    let mut o = Options {
        ns: vec![50, 200, 1000],
        modes: vec![
            limit::Mode::Individual,
            limit::Mode::Packed(16),
            limit::Mode::Array,
        ],
        jobs: 16,
        repeat: 1,
        wan: true,
        loopback: true,
        expyre: true,
        expyre_ns: vec![50, 200],
        expyre_venv: None,
        delay_ms: 25,
        min_poll: None,
        max_poll: None,
        keep: false,
    };
    let list = |v: Option<&String>| -> Vec<usize> {
        let Some(v) = v else { usage() };
        v.split(',')
            .map(|n| n.trim().parse().unwrap_or_else(|_| usage()))
            .collect()
    };
    let secs = |v: Option<&String>| -> Option<Duration> {
        let v: f64 = v?.parse().unwrap_or_else(|_| usage());
        Some(Duration::from_secs_f64(v))
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--n" => o.ns = list(it.next()),
            "--jobs" => o.jobs = list(it.next())[0].max(1),
            "--modes" => {
                let Some(v) = it.next() else { usage() };
                o.modes = v
                    .split(',')
                    .map(|m| match m.trim() {
                        "individual" => limit::Mode::Individual,
                        "packed" => limit::Mode::Packed(0),
                        "array" => limit::Mode::Array,
                        _ => usage(),
                    })
                    .collect();
                // Individual first: the other modes' `vs 1/task` is over its limit.
                o.modes.sort_by_key(|m| *m != limit::Mode::Individual);
            }
            "--repeat" => o.repeat = list(it.next())[0].max(1),
            "--no-wan" => o.wan = false,
            "--no-loopback" => o.loopback = false,
            "--no-expyre" => o.expyre = false,
            "--expyre-n" => o.expyre_ns = list(it.next()),
            "--expyre-venv" => o.expyre_venv = it.next().map(PathBuf::from),
            "--delay-ms" => o.delay_ms = list(it.next())[0] as u64,
            "--min-poll" => o.min_poll = Some(secs(it.next()).unwrap_or_else(|| usage())),
            "--max-poll" => o.max_poll = Some(secs(it.next()).unwrap_or_else(|| usage())),
            "--keep" => o.keep = true,
            _ => usage(),
        }
    }
    for mode in &mut o.modes {
        if let limit::Mode::Packed(jobs) = mode {
            *jobs = o.jobs;
        }
    }
    o
}

/// A mode's name in the table.
fn mode_name(mode: limit::Mode) -> String {
    match mode {
        limit::Mode::Individual => "individual".to_owned(),
        limit::Mode::Array => "array".to_owned(),
        limit::Mode::Packed(jobs) => format!("packed/{jobs}"),
    }
}

/// The test bed's env file, as `K=V` pairs.
fn testbed_env() -> Result<HashMap<String, String>, String> {
    let path = std::env::var_os("XPR_TESTBED_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/xpr-testbed/env.sh"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "the test bed is not up: {} unreadable ({e}) (hint: start it with \
             `sudo tests/testbed/setup.sh`)",
            path.display()
        )
    })?;
    let mut vars = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("export ")
            && let Some((k, v)) = rest.split_once('=')
        {
            vars.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
    }
    Ok(vars)
}

/// Addresses the relay may reach: the namespace hosts the env file names (loopback always).
fn relay_targets(env: &HashMap<String, String>) -> Vec<IpAddr> {
    ["XPR_HOSTA", "XPR_HOSTB"]
        .iter()
        .filter_map(|k| env.get(*k)?.parse().ok())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("relay") {
        let allowed = testbed_env().map(|e| relay_targets(&e)).unwrap_or_default();
        std::process::exit(relay::main(&args[1..], &allowed));
    }
    let options = parse_options(&args);
    // RUST_LOG=xpr=debug shows the engine's own timeline (polls, marker hits, collections).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    match run(&options) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("lifecycle bench: {e}");
            std::process::exit(1);
        }
    }
}

/// One row of the table.
struct Row {
    n: usize,
    link: String,
    mode: limit::Mode,
    /// The median one-job-per-task limit of the same N and link, for packed and array rows.
    per_task_limit: Option<Duration>,
    xpr: Vec<Duration>,
    limit: Vec<Duration>,
    expyre: Option<Result<Duration, String>>,
}

fn median(v: &[Duration]) -> Option<Duration> {
    let mut v = v.to_vec();
    v.sort();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

fn run(options: &Options) -> Result<(), String> {
    let env = testbed_env()?;
    if env.get("XPR_SLURM").map(String::as_str) != Some("1") {
        return Err("the test bed runs without Slurm (XPR_SLURM is not 1)".to_owned());
    }
    let tb_ssh_config = PathBuf::from(
        env.get("XPR_SSH_CONFIG")
            .ok_or("the test bed's env file has no XPR_SSH_CONFIG")?,
    );
    let probe = Command::new("ssh")
        .arg("-F")
        .arg(&tb_ssh_config)
        .args(["xpr-local", "sinfo --noheader --format=%P"])
        .output()
        .map_err(|e| format!("running ssh: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "the test bed's Slurm is not reachable over ssh ({}): {} (hint: `sudo tests/testbed/setup.sh`)",
            probe.status,
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u32;
    let token = format!("xb{:08x}", nanos ^ std::process::id().rotate_left(16));
    let scratch = tempfile::Builder::new()
        .prefix(&format!("xpr-bench-{token}-"))
        .tempdir()
        .map_err(|e| format!("making a scratch dir: {e}"))?;
    let remote_root = format!("xpr-bench/{token}");
    eprintln!(
        "scratch {}; remote ~/{remote_root}; token {token}",
        scratch.path().display()
    );

    let mut links = vec![Link {
        name: "loopback".to_owned(),
        ssh_config: tb_ssh_config.clone(),
    }];
    if !options.loopback {
        links.clear();
    }
    if options.wan {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let wan_config = scratch.path().join("ssh_config_wan");
        std::fs::write(
            &wan_config,
            format!(
                "# xpr-local through the delay relay ({} ms each way), else the test bed's config\n\
                 Host xpr-local\n  ProxyCommand \"{}\" relay %h %p {}\n\
                 Include {}\n",
                options.delay_ms,
                exe.display(),
                options.delay_ms,
                tb_ssh_config.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        links.push(Link {
            name: format!("wan {} ms", 2 * options.delay_ms),
            ssh_config: wan_config,
        });
    }

    let python = if options.expyre {
        match expyre::python(options.expyre_venv.as_deref(), scratch.path()) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("ExPyRe: not available, skipped: {e}");
                None
            }
        }
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let mut rows: Vec<Row> = Vec::new();
    let mut outcome = Ok(());
    'outer: for link in &links {
        for &n in &options.ns {
            for &mode in &options.modes {
                let per_task_limit = rows
                    .iter()
                    .find(|r| r.n == n && r.link == link.name && r.mode == limit::Mode::Individual)
                    .and_then(|r| median(&r.limit));
                let mut row = Row {
                    n,
                    link: link.name.clone(),
                    mode,
                    per_task_limit,
                    xpr: Vec::new(),
                    limit: Vec::new(),
                    expyre: None,
                };
                let short = match mode {
                    limit::Mode::Individual => "i",
                    limit::Mode::Array => "a",
                    limit::Mode::Packed(_) => "p",
                };
                for round in 0..options.repeat {
                    let tag = format!(
                        "{}-{short}{n}-{round}",
                        if link.name == "loopback" { "lo" } else { "wan" }
                    );
                    let tasks: Vec<Task> = (0..n)
                        .map(|i| Task {
                            input: format!("task {i} of {tag} in run {token}\n"),
                        })
                        .collect();
                    let order = if round % 2 == 0 {
                        ["limit", "xpr"]
                    } else {
                        ["xpr", "limit"]
                    };
                    for what in order {
                        eprintln!(
                            "{} N={n} {} round {round}: {what} ...",
                            link.name,
                            mode_name(mode)
                        );
                        settle(link);
                        let result = if what == "limit" {
                            let dir = format!("{remote_root}/limit-{tag}");
                            let r = limit::run(
                                link,
                                mode,
                                &dir,
                                &format!("{token}-limit"),
                                COMMAND,
                                &tasks,
                                deadline(n),
                            );
                            r.map(|d| row.limit.push(d))
                        } else {
                            let dir = scratch.path().join(format!("xpr-{tag}"));
                            runtime
                                .block_on(run_xpr(
                                    options,
                                    link,
                                    mode,
                                    &dir,
                                    &remote_root,
                                    &token,
                                    &tasks,
                                ))
                                .map(|d| row.xpr.push(d))
                        };
                        if let Err(e) = result {
                            outcome = Err(format!("{} N={n}: {what}: {e}", link.name));
                            break 'outer;
                        }
                    }
                    eprintln!(
                        "  limit {:.2} s, xpr {:.2} s",
                        row.limit.last().map_or(0.0, Duration::as_secs_f64),
                        row.xpr.last().map_or(0.0, Duration::as_secs_f64)
                    );
                }
                if let Some(python) = &python
                    && options.expyre_ns.contains(&n)
                    && mode == limit::Mode::Individual
                {
                    eprintln!("{} N={n}: ExPyRe ...", link.name);
                    let tag = format!(
                        "{}-{n}-expyre",
                        if link.name == "loopback" { "lo" } else { "wan" }
                    );
                    let tasks: Vec<Task> = (0..n)
                        .map(|i| Task {
                            input: format!("task {i} of {tag} in run {token}\n"),
                        })
                        .collect();
                    let r = expyre::run(
                        python,
                        link,
                        &scratch.path().join(format!("expyre-{tag}")),
                        &format!("{remote_root}/expyre-{tag}"),
                        &token,
                        &tasks,
                        deadline(n),
                    );
                    if let Err(e) = &r {
                        eprintln!("  {e}");
                    }
                    row.expyre = Some(r);
                    sweep(link, &token);
                }
                print_row(&row);
                rows.push(row);
            }
        }
    }

    let direct = Link {
        name: "loopback".to_owned(),
        ssh_config: tb_ssh_config.clone(),
    };
    if !options.keep {
        sweep(&direct, &token);
        remote(
            &direct,
            &format!("rm -rf ~/{remote_root}; rmdir ~/xpr-bench 2>/dev/null; true"),
        );
    } else {
        eprintln!("kept {} and ~/{remote_root}", scratch.path().display());
        let _ = scratch.keep();
    }

    println!();
    println!("{}", table(&rows));
    println!(
        "xpr: wall time from nothing to all results local (default SessionOptions{}); limit: one \
         ssh session running the N sbatch on the head node, waiting for the queue to empty \
         (squeue every {} s) and sending the outputs back; medians of {} round(s).",
        if options.min_poll.is_some() || options.max_poll.is_some() {
            " except poll overrides"
        } else {
            ""
        },
        limit::POLL,
        options.repeat
    );
    outcome
}

fn deadline(n: usize) -> Duration {
    Duration::from_secs(120 + 3 * n as u64)
}

fn write_inputs(work: &Path, tasks: &[Task]) -> Result<(), String> {
    for (i, task) in tasks.iter().enumerate() {
        let dir = work.join(format!("t{i}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("in.txt"), &task.input).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs the tasks through xpr with a fresh stage root `dir`; returns the wall time from
/// opening the session to all results local.
#[allow(clippy::too_many_arguments)]
async fn run_xpr(
    options: &Options,
    link: &Link,
    mode: limit::Mode,
    dir: &Path,
    remote_root: &str,
    token: &str,
    tasks: &[Task],
) -> Result<Duration, String> {
    let work = dir.join("work");
    write_inputs(&work, tasks)?;
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).map_err(|e| e.to_string())?;
    let config = stage.join("config.json");
    let tag = dir.file_name().unwrap_or_default().to_string_lossy();
    let systems = json!({"bench": {
        "host": "xpr-local",
        "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", link.ssh_config.display()),
        "rundir": format!("{remote_root}/{tag}"),
        "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}},
    }});
    std::fs::write(&config, json!({ "systems": systems }).to_string())
        .map_err(|e| e.to_string())?;
    let loaded = LoadedConfig::from_files(std::slice::from_ref(&config), &stage)
        .map_err(|e| e.to_string())?;
    let mut session_options = SessionOptions::default();
    if let Some(min) = options.min_poll {
        session_options.min_poll_interval = min;
    }
    if let Some(max) = options.max_poll {
        session_options.max_poll_interval = max;
    }
    let resources = Resources::new(CountRequest::Cores(1)).with_partial_node(true);
    let requests: Vec<StartRequest> = (0..tasks.len())
        .map(|i| {
            // A shell line, as the limit runs it.
            let mut spec = TaskSpec::shell(format!("{token}-{i}"), COMMAND);
            spec.inputs = vec!["in.txt".to_owned()];
            spec.outputs = vec!["out.txt".to_owned()];
            StartRequest::new(spec, "bench", resources.clone())
                .with_base_dir(work.join(format!("t{i}")))
                .with_submission(match mode {
                    limit::Mode::Individual => Submission::Individual,
                    limit::Mode::Array => Submission::Array,
                    limit::Mode::Packed(jobs) => Submission::Packed(PackSize::Jobs(jobs as u32)),
                })
        })
        .collect();

    let started = Instant::now();
    let session = Session::open_with(loaded, session_options).map_err(|e| e.to_string())?;
    let result = async {
        let started_tasks = session
            .start_many(requests)
            .await
            .map_err(|e| e.to_string())?;
        let submitted = started.elapsed();
        let ids: Vec<_> = started_tasks.iter().map(|s| s.record.id.clone()).collect();
        let done = session.wait(&ids, deadline(tasks.len())).await;
        let elapsed = started.elapsed();
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                let _ = session.cancel(&ids).await;
                return Err(e.to_string());
            }
        };
        eprintln!(
            "  xpr: submitted in {:.2} s, all results local at {:.2} s",
            submitted.as_secs_f64(),
            elapsed.as_secs_f64()
        );
        for (record, task) in done.iter().zip(tasks) {
            if record.status != TaskStatus::Succeeded {
                return Err(format!(
                    "task {} ended {}: {:?}",
                    record.id, record.status, record.reason
                ));
            }
            let out = session
                .results(&record.id)
                .map_err(|e| e.to_string())?
                .local_dir
                .join("out.txt");
            if std::fs::read_to_string(&out).ok() != Some(task.expected()) {
                return Err(format!(
                    "task {}: wrong or missing {}",
                    record.id,
                    out.display()
                ));
            }
        }
        Ok(elapsed)
    }
    .await;
    let _ = session.close().await;
    result
}

/// Writes back what the last runs left dirty, here and on the test bed, before a timed run.
fn settle(link: &Link) {
    let _ = Command::new("sync").status();
    remote(link, "sync");
}

/// Runs `cmd` on the test bed's head node over `link`; failures are only reported.
fn remote(link: &Link, cmd: &str) {
    match Command::new("ssh")
        .arg("-F")
        .arg(&link.ssh_config)
        .args(["xpr-local", cmd])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "clean-up `{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("clean-up `{cmd}`: {e}"),
    }
}

/// Cancels every job of the test user whose name carries `token`.
fn sweep(link: &Link, token: &str) {
    remote(
        link,
        &format!(
            "squeue --noheader --user=\"$(id -un)\" --format='%i %j' | \
             awk -v t={token} 'index($2, t) {{ print $1 }}' | xargs -r scancel"
        ),
    );
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn row_cells(row: &Row) -> [String; 9] {
    let xpr = median(&row.xpr);
    let limit = median(&row.limit);
    let ratio = match (xpr, limit) {
        (Some(x), Some(l)) if !l.is_zero() => format!("{:.2}", x.as_secs_f64() / l.as_secs_f64()),
        _ => "-".to_owned(),
    };
    let (expyre, expyre_ratio) = match (&row.expyre, xpr) {
        (Some(Ok(e)), Some(x)) => (
            format!("{:.1}", e.as_secs_f64()),
            format!("{:.1}", e.as_secs_f64() / x.as_secs_f64()),
        ),
        (Some(Err(_)), _) => ("failed".to_owned(), "-".to_owned()),
        _ => ("-".to_owned(), "-".to_owned()),
    };
    let speedup = match (row.per_task_limit, xpr) {
        (Some(l), Some(x)) if !x.is_zero() => format!("{:.1}", l.as_secs_f64() / x.as_secs_f64()),
        _ => "-".to_owned(),
    };
    [
        row.n.to_string(),
        row.link.clone(),
        mode_name(row.mode),
        secs(xpr),
        secs(limit),
        ratio,
        speedup,
        expyre,
        expyre_ratio,
    ]
}

fn print_row(row: &Row) {
    let c = row_cells(row);
    eprintln!(
        "=> N={} {} {}: xpr {} s, limit {} s, ratio {}, {}x faster than the 1/task limit, \
         ExPyRe {} s ({}x xpr)",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
    );
}

fn table(rows: &[Row]) -> String {
    let header = [
        "N",
        "link",
        "mode",
        "xpr s",
        "limit s",
        "ratio",
        "vs 1/task",
        "expyre s",
        "expyre/xpr",
    ];
    let mut lines = vec![format!("| {} |", header.join(" | "))];
    lines.push(format!("|{}", "---|".repeat(header.len())));
    for row in rows {
        lines.push(format!("| {} |", row_cells(row).join(" | ")));
    }
    lines.join("\n")
}
