//! A fake cluster for testing the engine's logic above the transport with no daemon and no
//! real clock: [`FakeScheduler`] is a scheduler adapter whose commands are `fake-submit`,
//! `fake-status` ...; [`FakeTransport`] answers them from an in-memory job table the test
//! controls ([`FakeCluster`]), and runs xpr's own stage/collect/clean programs for real on this
//! machine (the "remote" run dirs are local directories), so staging and collection are the
//! real code paths. The batch program's framed stdin is decoded and answered in its reply
//! format, which lets a test cut a reply short or refuse one submission of ten.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;
use xpr::command::{CommandOutput, CommandSpec};
use xpr::config::LoadedConfig;
use xpr::config::SchedulerKind;
use xpr::db::TaskStatus;
use xpr::ids::SchedulerJobId;
use xpr::ids::TaskId;
use xpr::resources::{CountRequest, Resources};
use xpr::scheduler::{JobState, JobStatus, ParseError, Scheduler};
use xpr::session::{ManualClock, Session, SessionOptions, StartRequest};
use xpr::task::TaskSpec;
use xpr::transport::{
    BoxFuture, DynRead, DynWrite, LocalTransport, Retry, Transport, TransportError,
    TransportErrorKind,
};

/// Where a fake job is, as the test sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeState {
    /// Waiting in the queue.
    Queued,
    /// Running.
    Running,
    /// Over, as the scheduler reports it.
    Ended(JobState),
}

/// One job of the fake cluster.
#[derive(Clone, Debug)]
pub struct FakeJob {
    /// The job's name (xpr uses the task id).
    pub name: String,
    /// Its run dir.
    pub dir: PathBuf,
    /// Where it is.
    pub state: FakeState,
    /// Shown by `fake-status`.
    pub in_queue: bool,
    /// Shown by `fake-acct`.
    pub in_accounting: bool,
    /// The native dependency its script asks for (the value of `--dependency=`, or of
    /// `-hold_jid`), as submitted. The fake does not hold the job: the test moves it.
    pub dependency: Option<String>,
}

/// What the next batch does, set by a test.
#[derive(Clone, Debug, Default)]
pub struct BatchPlan {
    /// Submissions (counting from 0 in the batch) that the scheduler refuses.
    pub refuse: Vec<usize>,
    /// Run only this many lines, then stop (as if the connection dropped mid-batch).
    pub run_only: Option<usize>,
    /// Keep only this many records in the reply (the rest of the reply is lost).
    pub reply_records: Option<usize>,
    /// Fail the whole command with a dropped connection after running (after `run_only`).
    pub drop_connection: bool,
}

/// The shared state of a fake cluster.
#[derive(Debug, Default)]
pub struct ClusterState {
    /// Jobs by number.
    pub jobs: BTreeMap<u64, FakeJob>,
    next: u64,
    /// Plans for the next batches, first first.
    pub plans: Vec<BatchPlan>,
    /// How many commands of each kind were run.
    pub counts: BTreeMap<String, usize>,
    /// Job ids cancelled, in order.
    pub cancelled: Vec<String>,
    /// Every status or accounting command fails while set (an unreachable host).
    pub unreachable: bool,
    /// Find-by-name fails this many more times.
    pub find_failures: usize,
}

/// A handle on the fake cluster, shared by the transport and the test.
#[derive(Clone, Debug, Default)]
pub struct FakeCluster(Arc<Mutex<ClusterState>>);

impl FakeCluster {
    /// The state, locked.
    pub fn state(&self) -> MutexGuard<'_, ClusterState> {
        self.0.lock().unwrap()
    }

    /// Plans the next batch.
    pub fn plan(&self, plan: BatchPlan) {
        self.state().plans.push(plan);
    }

    /// The job called `name` (the task id); panics if there is none or several.
    pub fn job_named(&self, name: &str) -> (u64, FakeJob) {
        let state = self.state();
        let found: Vec<_> = state
            .jobs
            .iter()
            .filter(|(_, j)| j.name == name)
            .map(|(n, j)| (*n, j.clone()))
            .collect();
        assert_eq!(found.len(), 1, "one job named {name}: {:?}", state.jobs);
        found.into_iter().next().unwrap()
    }

    /// The numbers of the jobs called `name`, oldest first.
    pub fn jobs_named(&self, name: &str) -> Vec<u64> {
        let state = self.state();
        state
            .jobs
            .iter()
            .filter(|(_, j)| j.name == name)
            .map(|(n, _)| *n)
            .collect()
    }

    /// Sets job `n`'s state.
    pub fn set(&self, n: u64, state: FakeState) {
        self.state().jobs.get_mut(&n).unwrap().state = state;
    }

    /// Makes job `n` run its script's end as xpr's job script would: `xpr.stdout` and then
    /// `xpr.exit` with `code` in its run dir; the queue shows it `Ended(result)`.
    pub fn complete(&self, n: u64, code: i32) {
        let dir = self.state().jobs[&n].dir.clone();
        std::fs::write(dir.join("xpr.stdout"), format!("job {n}\n")).unwrap();
        std::fs::write(dir.join("xpr.exit"), format!("{code}\n")).unwrap();
        let result = if code == 0 {
            JobState::Succeeded
        } else {
            JobState::Failed {
                exit_code: Some(code),
            }
        };
        self.set(n, FakeState::Ended(result));
    }

    /// Shows job `n` in the queue and/or accounting.
    pub fn show(&self, n: u64, in_queue: bool, in_accounting: bool) {
        let mut state = self.state();
        let job = state.jobs.get_mut(&n).unwrap();
        job.in_queue = in_queue;
        job.in_accounting = in_accounting;
    }

    /// How many commands named `program` ran.
    pub fn count(&self, program: &str) -> usize {
        self.state().counts.get(program).copied().unwrap_or(0)
    }
}

/// The scheduler adapter of the fake cluster.
#[derive(Debug, Default)]
pub struct FakeScheduler;

fn ids_cmd(program: &str, ids: &[SchedulerJobId]) -> CommandSpec {
    CommandSpec::new(program).args(ids.iter().map(|i| i.as_str()))
}

fn parse_error(what: &'static str, message: String) -> ParseError {
    ParseError {
        scheduler: SchedulerKind::Slurm,
        what,
        message,
        snippet: None,
    }
}

/// Reads `ID STATE [EXIT] [NAME]` lines.
fn parse_jobs(what: &'static str, out: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
    let text = out.stdout_text();
    let mut jobs = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let [id, state, exit, name] = words[..] else {
            return Err(parse_error(what, format!("bad line {line:?}")));
        };
        let state = match state {
            "Q" => JobState::Queued,
            "R" => JobState::Running,
            "CD" => JobState::Succeeded,
            "F" => JobState::Failed {
                exit_code: exit.parse().ok(),
            },
            "TO" => JobState::Timeout,
            "CA" => JobState::Cancelled,
            "NF" => JobState::NodeFail,
            other => return Err(parse_error(what, format!("bad state {other:?}"))),
        };
        // Accounting knows how long a job ran, its peak memory and says why it ended.
        let accounted = what == "accounting" && state.is_final();
        jobs.push(JobStatus {
            name: Some(name.to_owned()),
            raw_state: state_code(&state).to_owned(),
            exit_code: exit.parse().ok(),
            node: Some("fake-node".to_owned()),
            elapsed_secs: accounted.then_some(61),
            peak_memory_kb: accounted.then_some(2048),
            scheduler_reason: accounted.then(|| format!("{} by the fake", state_code(&state))),
            ..JobStatus::new(SchedulerJobId::new(id), state)
        });
    }
    Ok(jobs)
}

fn state_code(state: &JobState) -> &'static str {
    match state {
        JobState::Queued | JobState::Held => "Q",
        JobState::Running => "R",
        JobState::Succeeded => "CD",
        JobState::Failed { .. } => "F",
        JobState::Timeout => "TO",
        JobState::Cancelled => "CA",
        JobState::NodeFail => "NF",
        _ => "F",
    }
}

impl Scheduler for FakeScheduler {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Slurm
    }

    fn default_header(&self) -> &'static [&'static str] {
        &[]
    }

    fn submit(&self, job_dir: &str, script: &str) -> CommandSpec {
        CommandSpec::new("fake-submit").args([job_dir, script])
    }

    fn parse_submit(&self, output: &CommandOutput) -> Result<SchedulerJobId, ParseError> {
        let text = output.stdout_text();
        let id = text.trim();
        if output.succeeded() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SchedulerJobId::new(id))
        } else {
            Err(parse_error("submit", format!("no job id in {text:?}")))
        }
    }

    fn status(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_cmd("fake-status", ids)
    }

    fn parse_status(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_jobs("status", output)
    }

    fn accounting(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_cmd("fake-acct", ids)
    }

    fn parse_accounting(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_jobs("accounting", output)
    }

    fn find_by_name(&self, names: &[String]) -> CommandSpec {
        CommandSpec::new("fake-find").args(names)
    }

    fn parse_find_by_name(&self, output: &CommandOutput) -> Result<Vec<JobStatus>, ParseError> {
        parse_jobs("find", output)
    }

    fn cancel(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_cmd("fake-cancel", ids)
    }

    fn hold(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_cmd("fake-hold", ids)
    }

    fn release(&self, ids: &[SchedulerJobId]) -> CommandSpec {
        ids_cmd("fake-release", ids)
    }
}

/// The transport of the fake cluster (see the module docs).
#[derive(Debug)]
pub struct FakeTransport {
    cluster: FakeCluster,
    local: LocalTransport,
}

impl FakeTransport {
    /// A transport answering from `cluster`.
    pub fn new(cluster: FakeCluster) -> Self {
        Self {
            cluster,
            local: LocalTransport::new(),
        }
    }

    fn dropped(&self, cmd: &CommandSpec) -> TransportError {
        TransportError::new("fake-host", TransportErrorKind::ConnectionDropped).with_command(cmd)
    }

    /// Answers one scheduler command (argv words), as the fake scheduler would.
    fn answer(&self, words: &[String]) -> CommandOutput {
        let mut state = self.cluster.state();
        *state.counts.entry(words[0].clone()).or_default() += 1;
        let line = |n: &u64, j: &FakeJob| {
            let (code, exit) = match &j.state {
                FakeState::Queued => ("Q", "-".to_owned()),
                FakeState::Running => ("R", "-".to_owned()),
                FakeState::Ended(s) => (
                    state_code(s),
                    match s {
                        JobState::Failed { exit_code: Some(c) } => c.to_string(),
                        JobState::Succeeded => "0".to_owned(),
                        _ => "-".to_owned(),
                    },
                ),
            };
            format!("{n} {code} {exit} {}\n", j.name)
        };
        match words[0].as_str() {
            "fake-submit" => {
                state.next += 1;
                let n = state.next;
                let dir = PathBuf::from(&words[1]);
                let name = dir
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .trim_start_matches("run_")
                    .to_owned();
                assert!(
                    dir.join(&words[2]).is_file(),
                    "job script staged in {dir:?}"
                );
                let script = std::fs::read_to_string(dir.join(&words[2])).unwrap();
                let dependency = script.lines().find_map(|l| {
                    l.strip_prefix("#SBATCH --dependency=")
                        .or_else(|| l.strip_prefix("#$ -hold_jid "))
                        .map(str::to_owned)
                });
                state.jobs.insert(
                    n,
                    FakeJob {
                        name,
                        dir,
                        state: FakeState::Queued,
                        in_queue: true,
                        in_accounting: true,
                        dependency,
                    },
                );
                CommandOutput::success(format!("{n}\n"))
            }
            "fake-status" | "fake-acct" => {
                let accounting = words[0] == "fake-acct";
                let mut out = String::new();
                for id in &words[1..] {
                    let n: u64 = id.parse().unwrap();
                    if let Some(j) = state.jobs.get(&n)
                        && (if accounting {
                            j.in_accounting
                        } else {
                            j.in_queue
                        })
                    {
                        out.push_str(&line(&n, j));
                    }
                }
                CommandOutput::success(out)
            }
            "fake-find" => {
                let mut out = String::new();
                for (n, j) in &state.jobs {
                    if words[1..].contains(&j.name) && j.in_queue {
                        out.push_str(&line(n, j));
                    }
                }
                CommandOutput::success(out)
            }
            "fake-cancel" => {
                state.cancelled.extend(words[1..].iter().cloned());
                CommandOutput::success("")
            }
            other => panic!("the fake scheduler has no command {other}"),
        }
    }

    /// Runs the batch program's framed lines against the fake scheduler.
    fn batch(&self, cmd: &CommandSpec) -> Result<CommandOutput, TransportError> {
        let lines = decode_frames(&cmd.stdin);
        let is_submit = lines
            .first()
            .is_some_and(|l| l.first().is_some_and(|w| w == "fake-submit"));
        let plan = if is_submit {
            let mut state = self.cluster.state();
            if state.plans.is_empty() {
                BatchPlan::default()
            } else {
                state.plans.remove(0)
            }
        } else {
            BatchPlan::default()
        };
        if !is_submit {
            let mut state = self.cluster.state();
            if lines.first().is_some_and(|l| l[0] == "fake-find") && state.find_failures > 0 {
                state.find_failures -= 1;
                return Err(self.dropped(cmd));
            }
        }
        let mut reply = b"LOCKED\n".to_vec();
        let run = plan.run_only.unwrap_or(lines.len()).min(lines.len());
        let keep = plan.reply_records.unwrap_or(run).min(run);
        for (i, words) in lines.iter().take(run).enumerate() {
            let out = if plan.refuse.contains(&i) {
                *self
                    .cluster
                    .state()
                    .counts
                    .entry("fake-submit-refused".to_owned())
                    .or_default() += 1;
                CommandOutput {
                    code: Some(1),
                    stdout: Vec::new(),
                    stderr: b"fake-submit: error: invalid account\n".to_vec(),
                }
            } else {
                self.answer(words)
            };
            if i < keep {
                reply.extend(
                    format!(
                        "R {i} {} {} {}\n",
                        out.code.unwrap(),
                        out.stdout.len(),
                        out.stderr.len()
                    )
                    .bytes(),
                );
                reply.extend(&out.stdout);
                reply.extend(&out.stderr);
            }
        }
        if plan.drop_connection {
            return Err(self.dropped(cmd));
        }
        if keep == lines.len() {
            reply.extend(b"END\n");
        }
        Ok(CommandOutput {
            code: Some(if keep == lines.len() { 0 } else { 141 }),
            stdout: reply,
            stderr: Vec::new(),
        })
    }
}

/// The words of each framed line (`L<line>` frames; the fake's words need no quoting).
fn decode_frames(stdin: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(stdin.to_vec()).unwrap();
    text.lines()
        .map(|frame| {
            let line = frame
                .strip_prefix('L')
                .expect("the fake's lines are plain frames");
            assert!(
                !line.contains(['\'', '"', '\\']),
                "unquoted words only: {line}"
            );
            line.split(' ').map(str::to_owned).collect()
        })
        .collect()
}

fn program_name(cmd: &CommandSpec) -> Option<&str> {
    // `sh -c PROGRAM NAME ...`: xpr's remote programs are told apart by their `$0`.
    if cmd.program == "sh" && cmd.args.first().is_some_and(|a| a == "-c") {
        cmd.args.get(2).and_then(|a| a.to_str())
    } else {
        None
    }
}

impl Transport for FakeTransport {
    fn host(&self) -> &str {
        "fake-host"
    }

    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        retry: Retry,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        Box::pin(async move {
            match program_name(cmd) {
                Some("xpr-batch") => self.batch(cmd),
                Some(_) => self.local.run(cmd, retry).await,
                None => {
                    let program = cmd.program.to_string_lossy().into_owned();
                    if self.cluster.state().unreachable {
                        return Err(TransportError::new(
                            "fake-host",
                            TransportErrorKind::HostUnreachable,
                        )
                        .with_command(cmd));
                    }
                    let mut words = vec![program];
                    words.extend(cmd.args.iter().map(|a| a.to_string_lossy().into_owned()));
                    Ok(self.answer(&words))
                }
            }
        })
    }

    fn run_streaming<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        stdin: Option<DynRead<'a>>,
        stdout: Option<DynWrite<'a>>,
    ) -> BoxFuture<'a, Result<CommandOutput, TransportError>> {
        // Staging and collection: xpr's own programs, run for real on local directories.
        self.local.run_streaming(cmd, stdin, stdout)
    }
}

/// The path of a task's remote run dir under `base`.
pub fn remote_dir(base: &Path, id: &str) -> PathBuf {
    base.join(format!("run_{id}"))
}

/// The vanish timeout of a fixture's session.
pub const VANISH: Duration = Duration::from_secs(300);

/// A session over fake systems, its clock, and each system's fake cluster.
pub struct Fixture {
    _root: TempDir,
    /// The session (its systems' backends are the fakes).
    pub session: Session,
    /// The session's clock.
    pub clock: Arc<ManualClock>,
    /// One fake cluster per system, in the order given.
    pub clusters: Vec<FakeCluster>,
    /// The systems' names, in the same order.
    pub names: Vec<String>,
}

/// A session over the fake systems `names`, each its own fake cluster.
pub fn fixture(names: &[&str]) -> Fixture {
    fixture_with(names, json!({}))
}

/// A session over the fake systems `names`, each with the keys of `extra` added to its config.
pub fn fixture_with(names: &[&str], extra: serde_json::Value) -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let systems: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| {
            let mut system = json!({"host": null, "scheduler": "slurm",
                   "partitions": {"p": {"num_cores": 4, "max_time": "1h"}}});
            for (key, value) in extra.as_object().unwrap() {
                system[key] = value.clone();
            }
            (n.to_string(), system)
        })
        .collect();
    let config = root.path().join("config.json");
    std::fs::write(&config, json!({ "systems": systems }).to_string()).unwrap();
    let loaded = LoadedConfig::from_files(std::slice::from_ref(&config), root.path()).unwrap();
    let clock = Arc::new(ManualClock::new());
    let options = SessionOptions {
        vanish_timeout: VANISH,
        clock: clock.clone(),
        ..SessionOptions::default()
    };
    let session = Session::open_with(loaded, options).unwrap();
    let clusters = names
        .iter()
        .map(|n| {
            let cluster = FakeCluster::default();
            session.set_backend(
                n,
                Arc::new(FakeTransport::new(cluster.clone())),
                Arc::new(FakeScheduler),
            );
            cluster
        })
        .collect();
    Fixture {
        _root: root,
        session,
        clock,
        clusters,
        names: names.iter().map(|n| n.to_string()).collect(),
    }
}

/// A one-core task `echo NAME` on `system`.
pub fn request(name: &str, system: &str) -> StartRequest {
    let resources = Resources::new(CountRequest::Cores(1))
        .with_partial_node(true)
        .with_max_time(600);
    StartRequest::new(TaskSpec::argv(name, ["echo", name]), system, resources)
}

/// The newest task named `name` (or the request of that name in the same batch).
pub fn named(name: &str) -> xpr::session::TaskRef {
    xpr::session::TaskRef::Name(name.to_owned())
}

/// [`request`] `name` on the system `fake`, after each `(kind, parent name)` of `after`.
pub fn child(name: &str, after: &[(xpr::db::DependencyKind, &str)]) -> StartRequest {
    after
        .iter()
        .fold(request(name, "fake"), |r, (kind, parent)| {
            r.after(*kind, named(parent))
        })
}

/// Starts `requests` as one batch; their task ids, in order.
pub async fn start_all(f: &Fixture, requests: Vec<StartRequest>) -> Vec<TaskId> {
    f.session
        .start_many(requests)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record.id.clone())
        .collect()
}

impl Fixture {
    /// Another session over the same jobs DB and the same fake clusters: what a second xpr
    /// process would be.
    pub fn reopen(&self) -> Session {
        let session = Session::open_with(
            self.session.config().clone(),
            self.session.options().clone(),
        )
        .unwrap();
        for (system, cluster) in self.names.iter().zip(&self.clusters) {
            session.set_backend(
                system,
                Arc::new(FakeTransport::new(cluster.clone())),
                Arc::new(FakeScheduler),
            );
        }
        session
    }

    /// The first system's cluster.
    pub fn cluster(&self) -> &FakeCluster {
        &self.clusters[0]
    }

    /// Starts tasks named `names` on system `fake`.
    pub async fn start(&self, names: &[&str]) -> Vec<TaskId> {
        let requests = names.iter().map(|n| request(n, "fake")).collect();
        let started = self.session.start_many(requests).await.unwrap();
        started.into_iter().map(|s| s.record.id.clone()).collect()
    }

    /// One poll of system `fake`.
    pub async fn poll(&self) {
        self.session.poll_system("fake").await.unwrap();
    }

    /// Task `id`'s status.
    pub fn status(&self, id: &TaskId) -> TaskStatus {
        self.session.get(id).unwrap().status
    }

    /// The fake job of task `id`, checking the DB follows that very job.
    pub fn job_of(&self, id: &TaskId) -> u64 {
        let n = *self
            .cluster()
            .jobs_named(id.as_str())
            .last()
            .unwrap_or_else(|| panic!("no job named {id}"));
        let record = self.session.get(id).unwrap();
        assert_eq!(
            record
                .scheduler_job_id
                .as_ref()
                .map(|j| j.as_str().to_owned()),
            Some(n.to_string()),
            "task {id} follows its latest job"
        );
        n
    }
}
