//! Shared helpers of the tests that drive xpr's PBS and LSF adapters against the SIMULATORS in
//! `tests/simulators/` (test doubles of PBS Pro and LSF, not the real schedulers; see the
//! README there).
//!
//! [`SimBed`] runs the adapter's own commands ([`Scheduler`] through `scheduler_for`) for real
//! with [`LocalTransport`] (or over SSH on a test bed host: [`SimBed::over_ssh`]), each with `PATH` led by the simulator's `bin/` and `XPR_SIM_SPOOL`
//! set to a temporary spool: the same thing, per command, that makes the simulators first on
//! `PATH` over SSH (see [`sim_env`] and [`install_remote`]). Dropping a `SimBed` removes its
//! spool, which makes every job runner of the simulator kill its job and exit; for a local bed
//! the drop waits (bounded) until those runners are gone.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;
use xpr::command::{CommandOutput, CommandSpec};
use xpr::config::{Partition, System};
use xpr::ids::{SchedulerJobId, SystemName};
use xpr::resources::NodeAllocation;
use xpr::scheduler::script::{ScriptSpec, build_script};
use xpr::scheduler::{JobState, JobStatus, Scheduler, SchedulerKind, scheduler_for};
use xpr::transport::{LocalTransport, RemoteShell, Retry, SshTarget, SshTransport, Transport};

use crate::common::wait_for;

/// `PATH` of a non-interactive ssh session on the test bed hosts (sshd's default for users).
pub const TESTBED_SSH_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/games";

/// How long a test waits for a simulated job to reach a state.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The simulators' folder in the repository.
pub fn simulators_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/simulators")
}

/// The `bin/` folder of the simulator for `kind` (`pbs` or `lsf`) under `root` (the repository's
/// `tests/simulators`, or the folder [`install_remote`] printed).
pub fn bin_dir(root: &Path, kind: SchedulerKind) -> PathBuf {
    root.join(kind.as_str()).join("bin")
}

/// `spec` with the simulator first on `PATH` and its spool set: `PATH=BIN:BASE_PATH`,
/// `XPR_SIM_SPOOL=SPOOL` (none: the simulator's default `~/.xpr-sim/<kind>`), and `extra`
/// variables (e.g. `XPR_SIM_LSF_MINUTE`). Values are literal (over SSH they are not expanded),
/// so `base_path` is the remote session's own `PATH`, spelt out.
pub fn sim_env(
    spec: CommandSpec,
    bin: &Path,
    base_path: &str,
    spool: Option<&Path>,
    extra: &[(&str, &str)],
) -> CommandSpec {
    let mut spec = spec.env("PATH", format!("{}:{base_path}", bin.display()));
    if let Some(spool) = spool {
        spec = spec.env("XPR_SIM_SPOOL", spool.as_os_str());
    }
    for (key, value) in extra {
        spec = spec.env(*key, *value);
    }
    spec
}

/// Copies the simulators to `~/.xpr-sim/simulators` on `host` with `tests/simulators/install.sh`
/// and returns that folder's absolute path there (its `pbs/bin` and `lsf/bin` go first on PATH).
pub fn install_remote(host: &str, ssh_config: &Path) -> PathBuf {
    let out = Command::new(simulators_dir().join("install.sh"))
        .arg(host)
        .arg(ssh_config)
        .output()
        .expect("running tests/simulators/install.sh");
    assert!(
        out.status.success(),
        "install.sh {host} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("install.sh prints a path");
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("install.sh prints the remote folder"),
    )
}

/// A system of one partition for `kind` whose scripts run with `/bin/bash`.
pub fn system(kind: SchedulerKind) -> System {
    System {
        name: SystemName::new(format!("{kind}-sim")),
        host: None,
        scheduler: kind,
        partitions: vec![Partition {
            name: "simq".into(),
            num_cores: 4,
            max_time: None,
            max_mem: None,
            header: vec![],
            partition: None,
        }],
        header: vec![],
        no_default_header: false,
        script_exec: "/bin/bash".into(),
        pre_submit_cmds: vec![],
        commands: vec![],
        rundir: None,
        remsh_cmd: None,
        resource_lines: false,
        max_queued: None,
        max_array_size: None,
        poll_interval: None,
        vanish_timeout: None,
        default_max_time: None,
        directives_skip: Vec::new(),
        job_name_prefix: None,
        retries: Default::default(),
        error_rules: Default::default(),
    }
}

/// One core of `simq` for `max_time` seconds.
pub fn alloc(max_time: Option<u64>) -> NodeAllocation {
    NodeAllocation {
        partition: "simq".into(),
        scheduler_partition: "simq".into(),
        num_nodes: 1,
        num_cores: 1,
        num_cores_per_node: 1,
        ncores_per_task: 1,
        max_time,
        mem: None,
        gpus: None,
        account: None,
    }
}

/// A simulated PBS or LSF server reached through a transport (this machine, or a test bed
/// host over SSH), a work folder, and the adapter for it.
pub struct SimBed {
    /// The adapter under test.
    pub scheduler: Box<dyn Scheduler>,
    /// Which scheduler.
    pub kind: SchedulerKind,
    transport: Box<dyn Transport>,
    bin: PathBuf,
    base_path: String,
    spool: PathBuf,
    work: PathBuf,
    /// The local spool and work folders (none for a remote bed, whose folders are removed
    /// through the transport).
    local: Option<(TempDir, TempDir)>,
    extra_env: Vec<(&'static str, &'static str)>,
    runtime: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl SimBed {
    /// A fresh simulator spool for `kind` on this machine, with `extra_env` on every command.
    pub fn new(kind: SchedulerKind, extra_env: &[(&'static str, &'static str)]) -> Self {
        let (spool, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        Self {
            scheduler: scheduler_for(kind),
            kind,
            transport: Box::new(LocalTransport::new()),
            bin: bin_dir(&simulators_dir(), kind),
            base_path: std::env::var("PATH").unwrap_or_default(),
            spool: spool.path().to_owned(),
            work: work.path().to_owned(),
            local: Some((spool, work)),
            extra_env: extra_env.to_vec(),
            runtime: runtime(),
        }
    }

    /// A bed on `host` over SSH (test bed `ssh_config`): the simulators are installed there
    /// with [`install_remote`], `PATH` is `<installed>/<kind>/bin:<base_path>`, and the spool and
    /// work folders are fresh folders under `remote_base` (absolute), removed on drop.
    pub fn over_ssh(
        kind: SchedulerKind,
        host: &str,
        ssh_config: &Path,
        base_path: &str,
        remote_base: &Path,
    ) -> Self {
        let installed = install_remote(host, ssh_config);
        let runtime = runtime();
        let target = SshTarget::with_shell(host, RemoteShell::ssh().with_config_file(ssh_config))
            .unwrap_or_else(|e| panic!("{e}"));
        let transport = runtime
            .block_on(SshTransport::builder(target).connect())
            .unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let unique = format!("{kind}-{}-{nanos}", std::process::id());
        let root = remote_base.join(format!("xpr-sim-test-{unique}"));
        Self {
            scheduler: scheduler_for(kind),
            kind,
            transport: Box::new(transport),
            bin: bin_dir(&installed, kind),
            base_path: base_path.to_owned(),
            spool: root.join("spool"),
            work: root.join("work"),
            local: None,
            extra_env: Vec::new(),
            runtime,
        }
    }

    /// The work folder (job directories go under it).
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// The simulator's spool folder.
    pub fn spool(&self) -> &Path {
        &self.spool
    }

    /// Runs an adapter command through the transport with the simulator first on PATH.
    pub fn run(&self, spec: CommandSpec) -> CommandOutput {
        // Jobs start in a login shell, as PBS's and LSF's do: on this machine, with a HOME of
        // their own, so that the machine's own profile stays out of them (root's runs
        // `pyenv rehash`, whose lock a killed job can leave behind for every later one).
        let spec = if self.local.is_some() && !spec.env.iter().any(|(k, _)| k == "HOME") {
            let home = self.work.join(".home");
            std::fs::create_dir_all(&home).unwrap();
            spec.env("HOME", home.as_os_str())
        } else {
            spec
        };
        let spec = sim_env(
            spec,
            &self.bin,
            &self.base_path,
            Some(&self.spool),
            &self.extra_env,
        );
        self.runtime
            .block_on(self.transport.run(&spec, Retry::Never))
            .unwrap_or_else(|e| panic!("running {spec}: {e}"))
    }

    /// Writes the script of task `id` (built by `build_script` from [`system`] and `alloc`,
    /// with `extra_header` lines and `body`) into its job folder, submits it with the adapter's
    /// command, and returns the job id and the folder.
    pub fn submit(
        &self,
        id: &str,
        alloc: &NodeAllocation,
        extra_header: &[&str],
        body: &[&str],
    ) -> (SchedulerJobId, PathBuf) {
        let job_dir = self.work().join(id);
        let spec = ScriptSpec::new(id, job_dir.to_str().unwrap())
            .with_extra_header(extra_header.iter().copied())
            .with_body(body.iter().copied());
        let script = build_script(&system(self.kind), alloc, self.scheduler.as_ref(), &spec)
            .unwrap_or_else(|e| panic!("{e}"));
        let name = format!("job.script.{}", self.kind);
        // Written through the transport, so that the same code serves a remote bed.
        let write = CommandSpec::new("sh")
            .args(["-c", r#"mkdir -p "$1" && cat > "$1/$2""#, "sh"])
            .arg(job_dir.as_os_str())
            .arg(&name)
            .stdin(script);
        let out = self.run(write);
        assert!(out.succeeded(), "writing the script: {out:?}");
        let out = self.run(self.scheduler.submit(job_dir.to_str().unwrap(), &name));
        let job = self
            .scheduler
            .parse_submit(&out)
            .unwrap_or_else(|e| panic!("{e}; stderr: {}", out.stderr_text()));
        (job, job_dir)
    }

    /// Writes the script of an array named `id` (built by `build_script` as an array's, with
    /// `extra_header` lines and `body`, which reads the element's index itself) into its job
    /// folder, submits it as `count` elements with the adapter's array command, and returns
    /// the reply (the array's id, or the refusal) and the folder.
    pub fn submit_array(
        &self,
        id: &str,
        alloc: &NodeAllocation,
        count: u32,
        extra_header: &[&str],
        body: &[&str],
    ) -> (CommandOutput, PathBuf) {
        let job_dir = self.work().join(id);
        let mut spec = ScriptSpec::new(id, job_dir.to_str().unwrap())
            .with_extra_header(extra_header.iter().copied())
            .with_body(body.iter().copied());
        spec.array = true;
        let script = build_script(&system(self.kind), alloc, self.scheduler.as_ref(), &spec)
            .unwrap_or_else(|e| panic!("{e}"));
        let name = format!("array.script.{}", self.kind);
        let write = CommandSpec::new("sh")
            .args(["-c", r#"mkdir -p "$1" && cat > "$1/$2""#, "sh"])
            .arg(job_dir.as_os_str())
            .arg(&name)
            .stdin(script);
        let out = self.run(write);
        assert!(out.succeeded(), "writing the script: {out:?}");
        let submit = self
            .scheduler
            .submit_array(job_dir.to_str().unwrap(), &name, id, count)
            .expect("the adapter has arrays");
        (self.run(submit), job_dir)
    }

    /// The ids of elements `0..count` (counted from the first index) of `array`.
    pub fn elements(&self, array: &SchedulerJobId, count: u32) -> Vec<SchedulerJobId> {
        let first = self.scheduler.arrays().expect("arrays").first_index;
        (0..count)
            .map(|i| self.scheduler.element_id(array, first + i).unwrap())
            .collect()
    }

    /// The job's status from the adapter's status command (`None`: not listed).
    pub fn status(&self, job: &SchedulerJobId) -> Option<JobStatus> {
        let out = self.run(self.scheduler.status(std::slice::from_ref(job)));
        let all = self
            .scheduler
            .parse_status(&out)
            .unwrap_or_else(|e| panic!("{e}; stderr: {}", out.stderr_text()));
        all.into_iter().find(|s| &s.id == job)
    }

    /// The job's record from the adapter's accounting command.
    pub fn accounting(&self, job: &SchedulerJobId) -> JobStatus {
        let out = self.run(self.scheduler.accounting(std::slice::from_ref(job)));
        let all = self
            .scheduler
            .parse_accounting(&out)
            .unwrap_or_else(|e| panic!("{e}; stderr: {}", out.stderr_text()));
        all.into_iter()
            .find(|s| &s.id == job)
            .unwrap_or_else(|| panic!("job {job} missing from accounting: {out:?}"))
    }

    /// Follows the job with the status command until `pred` holds.
    pub fn wait_until(
        &self,
        job: &SchedulerJobId,
        what: &str,
        pred: impl Fn(&JobState) -> bool,
    ) -> JobStatus {
        wait_for(&format!("job {job} to be {what}"), DEADLINE, || {
            self.status(job).filter(|s| pred(&s.state))
        })
    }

    /// Follows the job until its state is final, then returns its accounting record.
    pub fn wait_final(&self, job: &SchedulerJobId) -> JobStatus {
        self.wait_until(job, "finished", JobState::is_final);
        self.accounting(job)
    }

    /// Pids of the simulator's job runners, from its (local) spool's job records.
    fn runner_pids(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(self.spool.join("jobs")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .filter_map(|v| v.get("runner_pid")?.as_u64())
            .map(|p| p as u32)
            .collect()
    }
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

impl Drop for SimBed {
    fn drop(&mut self) {
        // Removing the spool is the simulators' stop signal: each runner kills its job and exits.
        match self.local.take() {
            Some((spool, work)) => {
                let runners = self.runner_pids();
                drop(spool);
                let start = std::time::Instant::now();
                while runners.iter().any(|p| alive(*p)) && start.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                drop(work);
            }
            None => {
                let root = self.spool.parent().expect("remote spool has a parent");
                let rm = CommandSpec::new("rm")
                    .args(["-rf", "--"])
                    .arg(self.spool.as_os_str())
                    .arg(root.as_os_str());
                let _ = self.runtime.block_on(self.transport.run(&rm, Retry::Safe));
                let _ = self.runtime.block_on(self.transport.close());
            }
        }
    }
}
