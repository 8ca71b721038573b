//! The `local` scheduler for real: its commands run on this machine with `std::process`, in a
//! temporary spool (`XPR_LOCAL_QUEUE_DIR`) limited to 2 cores (`XPR_LOCAL_CORES=2`). Scripts
//! are built by the script assembler with the local scheduler's default header, so the three
//! parts (templates, script, queue) are checked together.
//!
//! Every test ends by checking that no process started for its spool is left (a process
//! belongs to a spool when its environment names it), then removes the spool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::wait_for;
use xpr::command::{CommandOutput, CommandSpec, EnvChange};
use xpr::config::{Partition, System};
use xpr::ids::{SchedulerJobId, SystemName};
use xpr::resources::NodeAllocation;
use xpr::scheduler::local::LocalScheduler;
use xpr::scheduler::script::{ScriptSpec, build_script};
use xpr::scheduler::{JobState, JobStatus, Scheduler, SchedulerKind};

const DEADLINE: Duration = Duration::from_secs(60);

/// A private queue: a temp dir holding the spool and the job dirs.
struct Queue {
    tmp: tempfile::TempDir,
    spool: PathBuf,
}

impl Queue {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let spool = tmp.path().join("spool");
        Self { tmp, spool }
    }

    /// Runs a scheduler command as a transport would, with this queue's environment.
    fn run(&self, spec: &CommandSpec) -> CommandOutput {
        self.run_with_gpus(spec, None)
    }

    /// [`Queue::run`] with `XPR_LOCAL_GPUS` set to `gpus`, or unset for `None`.
    fn run_with_gpus(&self, spec: &CommandSpec, gpus: Option<&str>) -> CommandOutput {
        assert!(spec.stdin.is_empty(), "local commands need no stdin");
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env("XPR_LOCAL_QUEUE_DIR", &self.spool)
            .env("XPR_LOCAL_CORES", "2");
        match gpus {
            Some(n) => cmd.env("XPR_LOCAL_GPUS", n),
            None => cmd.env_remove("XPR_LOCAL_GPUS"),
        };
        for (key, change) in &spec.env {
            match change {
                EnvChange::Set(v) => cmd.env(key, v),
                EnvChange::Unset => cmd.env_remove(key),
            };
        }
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        let out = cmd.output().unwrap();
        CommandOutput {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// A job dir (with a hostile name) holding a script built for `cores` cores and `time` s.
    fn job(&self, name: &str, cores: u32, time: Option<u64>, body: &[&str]) -> PathBuf {
        let dir = self.tmp.path().join(format!("job '{name}' $(x)"));
        std::fs::create_dir(&dir).unwrap();
        let system = local_system();
        let alloc = NodeAllocation {
            partition: "host".into(),
            scheduler_partition: "host".into(),
            num_nodes: 1,
            num_cores: cores,
            num_cores_per_node: cores,
            ncores_per_task: 1,
            max_time: time,
            mem: None,
            gpus: None,
            account: None,
        };
        let spec = ScriptSpec::new(name, dir.to_str().unwrap()).with_body(body.iter().copied());
        let script = build_script(&system, &alloc, &LocalScheduler, &spec).unwrap();
        std::fs::write(dir.join("job.sh"), script).unwrap();
        dir
    }

    fn submit(&self, dir: &Path) -> SchedulerJobId {
        let out = self.run(&LocalScheduler.submit(dir.to_str().unwrap(), "job.sh"));
        LocalScheduler
            .parse_submit(&out)
            .unwrap_or_else(|e| panic!("submit in {dir:?}: {e}"))
    }

    fn status(&self, ids: &[SchedulerJobId]) -> Vec<JobStatus> {
        let out = self.run(&LocalScheduler.status(ids));
        LocalScheduler.parse_status(&out).unwrap()
    }

    fn state(&self, id: &SchedulerJobId) -> JobState {
        let all = self.status(std::slice::from_ref(id));
        assert_eq!(all.len(), 1, "status of {id}: {all:?}");
        assert_eq!(&all[0].id, id);
        all[0].state.clone()
    }

    /// Waits until every job is final; returns their accounting records in `ids` order.
    fn wait_final(&self, ids: &[SchedulerJobId]) -> Vec<JobStatus> {
        wait_for("jobs to finish", DEADLINE, || {
            let out = self.run(&LocalScheduler.accounting(ids));
            let jobs = LocalScheduler.parse_accounting(&out).unwrap();
            (jobs.len() == ids.len() && jobs.iter().all(|j| j.state.is_final())).then(|| {
                ids.iter()
                    .map(|id| jobs.iter().find(|j| &j.id == id).unwrap().clone())
                    .collect()
            })
        })
    }

    /// Pids of the processes whose environment names this spool.
    fn processes(&self) -> Vec<u32> {
        let needle = format!("XPR_LOCAL_QUEUE_DIR={}\0", self.spool.display()).into_bytes();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            // Processes may vanish or be unreadable; both mean "not ours".
            let Ok(env) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if env.windows(needle.len()).any(|w| w == needle.as_slice()) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Asserts that nothing started for this spool is still running, then removes it.
    fn close(self) {
        wait_for("the queue's processes to exit", DEADLINE, || {
            self.processes().is_empty().then_some(())
        });
        std::fs::remove_dir_all(self.tmp.path()).unwrap();
        assert!(!self.tmp.path().exists());
    }
}

impl Drop for Queue {
    /// Best effort after a failed test: cancel every job of the spool so nothing runs on.
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.spool.join("active")) else {
            return;
        };
        let ids: Vec<SchedulerJobId> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(SchedulerJobId::new))
            .collect();
        if !ids.is_empty() {
            let _ = self.run(&LocalScheduler.cancel(&ids));
        }
    }
}

fn local_system() -> System {
    System {
        name: SystemName::new("local"),
        host: None,
        scheduler: SchedulerKind::Local,
        partitions: vec![Partition {
            name: "host".into(),
            num_cores: 2,
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

fn read_nanos(path: &Path) -> u128 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path:?} {text:?}: {e}"))
}

fn process_exists(pid: u32) -> bool {
    // A zombie is a finished process that its parent has not reaped yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn two_core_jobs_on_two_cores_never_overlap_and_report_exit_codes() {
    let q = Queue::new();
    let mut jobs = Vec::new();
    for (i, code) in [0, 3, 0, 3].into_iter().enumerate() {
        let dir = q.job(
            &format!("overlap{i}"),
            2,
            Some(120),
            &[
                "date +%s%N > start",
                "echo \"out of $EXPYRE_NUM_CORES cores\"",
                "echo err >&2",
                "sleep 0.3",
                "date +%s%N > end",
                &format!("exit {code}"),
            ],
        );
        let id = q.submit(&dir);
        jobs.push((id, dir, code));
    }
    let ids: Vec<SchedulerJobId> = jobs.iter().map(|(id, ..)| id.clone()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 4, "ids {ids:?}");

    let finals = q.wait_final(&ids);
    let mut intervals = Vec::new();
    for ((id, dir, code), status) in jobs.iter().zip(&finals) {
        assert_eq!(status.exit_code, Some(*code), "{status:?}");
        let want = if *code == 0 {
            JobState::Succeeded
        } else {
            JobState::Failed { exit_code: Some(3) }
        };
        assert_eq!(status.state, want, "job {id}");
        let name = status.name.as_deref().unwrap();
        assert!(name.starts_with("overlap"), "{name}");
        let stdout = std::fs::read_to_string(dir.join(format!("job.{name}.stdout"))).unwrap();
        assert_eq!(stdout, "out of 2 cores\n");
        let stderr = std::fs::read_to_string(dir.join(format!("job.{name}.stderr"))).unwrap();
        assert_eq!(stderr, "err\n");
        intervals.push((
            read_nanos(&dir.join("start")),
            read_nanos(&dir.join("end")),
            id,
        ));
    }
    // FIFO: started in submission order; 2 + 2 cores > 2: never two at once.
    for pair in intervals.windows(2) {
        let (_, end, a) = pair[0];
        let (start, _, b) = pair[1];
        assert!(
            end <= start,
            "job {b} started before job {a} ended: {intervals:?}"
        );
    }
    q.close();
}

#[test]
fn a_job_over_its_time_limit_is_reported_as_timeout() {
    let q = Queue::new();
    let dir = q.job("slow", 1, Some(1), &["echo $$ > pid", "sleep 60"]);
    let id = q.submit(&dir);
    let done = q.wait_final(std::slice::from_ref(&id));
    assert_eq!(done[0].state, JobState::Timeout, "{done:?}");
    let pid: u32 = std::fs::read_to_string(dir.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!process_exists(pid), "the timed-out job still runs");
    q.close();
}

#[test]
fn cancel_stops_a_running_job_and_a_queued_one() {
    let q = Queue::new();
    let running = q.job(
        "blocker",
        2,
        None,
        &["echo $$ > pid", "sleep 60", "touch finished"],
    );
    let queued = q.job("waiting", 1, None, &["touch started"]);
    let a = q.submit(&running);
    let b = q.submit(&queued);
    let pid: u32 = wait_for("the first job to start", DEADLINE, || {
        std::fs::read_to_string(running.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert_eq!(q.state(&a), JobState::Running);
    assert_eq!(
        q.state(&b),
        JobState::Queued,
        "the 2-core job holds both cores"
    );

    let out = q.run(&LocalScheduler.cancel(&[a.clone(), b.clone()]));
    assert!(out.succeeded(), "{}", out.stderr_text());
    let finals = q.wait_final(&[a.clone(), b.clone()]);
    assert_eq!(finals[0].state, JobState::Cancelled);
    assert_eq!(finals[1].state, JobState::Cancelled);
    wait_for("the cancelled job's process to exit", DEADLINE, || {
        (!process_exists(pid)).then_some(())
    });
    assert!(!running.join("finished").exists());
    assert!(
        !queued.join("started").exists(),
        "a cancelled queued job ran"
    );

    // Cancelling again is harmless; an unknown id is an error on stderr.
    let again = q.run(&LocalScheduler.cancel(std::slice::from_ref(&a)));
    assert!(again.succeeded());
    let unknown = q.run(&LocalScheduler.cancel(&[SchedulerJobId::new("999")]));
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr_text().contains("no job 999"),
        "{}",
        unknown.stderr_text()
    );
    q.close();
}

#[test]
fn held_jobs_wait_until_released() {
    let q = Queue::new();
    let gate = q.tmp.path().join("go");
    let blocker = q.job(
        "gate",
        2,
        Some(120),
        &[&format!(
            "while [ ! -e {} ]; do sleep 0.05; done",
            gate.display()
        )],
    );
    let later = q.job("later", 1, Some(120), &["true"]);
    let a = q.submit(&blocker);
    let b = q.submit(&later);
    assert!(
        q.run(&LocalScheduler.hold(std::slice::from_ref(&b)))
            .succeeded()
    );
    assert_eq!(q.state(&b), JobState::Held);
    // A running job cannot be held.
    wait_for("the gate job to run", DEADLINE, || {
        (q.state(&a) == JobState::Running).then_some(())
    });
    assert_eq!(
        q.run(&LocalScheduler.hold(std::slice::from_ref(&a))).code,
        Some(1)
    );

    std::fs::write(&gate, "").unwrap();
    q.wait_final(std::slice::from_ref(&a));
    assert_eq!(q.state(&b), JobState::Held, "a held job started");
    assert!(
        q.run(&LocalScheduler.release(std::slice::from_ref(&b)))
            .succeeded()
    );
    let done = q.wait_final(std::slice::from_ref(&b));
    assert_eq!(done[0].state, JobState::Succeeded);
    q.close();
}

#[test]
fn jobs_survive_the_submitting_process_and_are_found_by_name() {
    let q = Queue::new();
    let gate = q.tmp.path().join("go");
    let dir = q.job(
        "survivor",
        1,
        Some(60),
        &[
            &format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display()),
            "echo alive",
        ],
    );
    // `output()` returns only once the submit command and everything holding its pipes have
    // exited, so the job, which waits for the gate, runs detached from it.
    let id = q.submit(&dir);
    wait_for("the job to run", DEADLINE, || {
        (q.state(&id) == JobState::Running).then_some(())
    });

    let found = q.run(&LocalScheduler.find_by_name(&["survivor".into(), "nobody".into()]));
    let found = LocalScheduler.parse_find_by_name(&found).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].name.as_deref(), Some("survivor"));

    std::fs::write(&gate, "").unwrap();
    let done = q.wait_final(std::slice::from_ref(&id));
    assert_eq!(done[0].state, JobState::Succeeded);
    assert_eq!(
        std::fs::read_to_string(dir.join("job.survivor.stdout")).unwrap(),
        "alive\n"
    );
    q.close();
}

/// A job dir holding a one-core script asking for `gpus` GPUs through the local
/// scheduler's resource lines.
fn gpu_job(q: &Queue, name: &str, gpus: u32) -> PathBuf {
    let dir = q.tmp.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    let system = System {
        resource_lines: true,
        max_queued: None,
        max_array_size: None,
        poll_interval: None,
        vanish_timeout: None,
        default_max_time: None,
        directives_skip: Vec::new(),
        job_name_prefix: None,
        retries: Default::default(),
        ..local_system()
    };
    let alloc = NodeAllocation {
        partition: "host".into(),
        scheduler_partition: "host".into(),
        num_nodes: 1,
        num_cores: 1,
        num_cores_per_node: 1,
        ncores_per_task: 1,
        max_time: None,
        mem: None,
        gpus: Some(gpus),
        account: None,
    };
    let spec = ScriptSpec::new(name, dir.to_str().unwrap()).with_body(["true"]);
    let script = build_script(&system, &alloc, &LocalScheduler, &spec).unwrap();
    assert!(
        script.contains(&format!("\n#XPR-LOCAL --gpus={gpus}\n")),
        "{script}"
    );
    std::fs::write(dir.join("job.sh"), script).unwrap();
    dir
}

#[test]
fn a_job_asking_for_more_gpus_than_the_host_has_is_refused() {
    let q = Queue::new();
    let submit = |dir: &Path, gpus: Option<&str>| {
        let out = q.run_with_gpus(
            &LocalScheduler.submit(dir.to_str().unwrap(), "job.sh"),
            gpus,
        );
        LocalScheduler.parse_submit(&out)
    };
    let one = gpu_job(&q, "one_gpu", 1);
    let err = submit(&one, Some("0")).unwrap_err().to_string();
    assert!(err.contains("needs 1 GPUs but this host has 0"), "{err}");

    // Without XPR_LOCAL_GPUS the host's NVIDIA devices count: one more is refused.
    let devices = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("nvidia")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    let more = gpu_job(&q, "more_gpus", u32::try_from(devices).unwrap() + 1);
    let err = submit(&more, None).unwrap_err().to_string();
    assert!(err.contains(&format!("this host has {devices}")), "{err}");

    // A host with them runs it.
    let id = submit(&one, Some("2")).unwrap();
    let done = q.wait_final(&[id]);
    assert_eq!(done[0].state, JobState::Succeeded, "{done:?}");
    q.close();
}

#[test]
fn impossible_submissions_are_refused_with_a_reason() {
    let q = Queue::new();
    let big = q.job("big", 3, None, &["true"]);
    let out = q.run(&LocalScheduler.submit(big.to_str().unwrap(), "job.sh"));
    let err = LocalScheduler.parse_submit(&out).unwrap_err();
    assert!(err.to_string().contains("needs 3 cores"), "{err}");

    let out = q.run(&LocalScheduler.submit(big.to_str().unwrap(), "missing.sh"));
    let err = LocalScheduler.parse_submit(&out).unwrap_err();
    assert!(err.to_string().contains("missing.sh"), "{err}");

    std::fs::write(
        big.join("odd.sh"),
        "#!/bin/sh\n#XPR-LOCAL --colour=blue\ntrue\n",
    )
    .unwrap();
    let out = q.run(&LocalScheduler.submit(big.to_str().unwrap(), "odd.sh"));
    let err = LocalScheduler.parse_submit(&out).unwrap_err();
    assert!(err.to_string().contains("--colour=blue"), "{err}");

    // Nothing was queued.
    let found = q.run(&LocalScheduler.find_by_name(&["big".into(), "job".into()]));
    assert!(
        LocalScheduler
            .parse_find_by_name(&found)
            .unwrap()
            .is_empty()
    );
    q.close();
}

#[test]
fn a_dead_runner_fails_its_job_and_frees_its_cores() {
    let q = Queue::new();
    let dir = q.job("orphan", 2, None, &["echo $$ > pid", "sleep 60"]);
    let next = q.job("next", 2, None, &["true"]);
    let id = q.submit(&dir);
    let after = q.submit(&next);
    let job_pid: u32 = wait_for("the job to start", DEADLINE, || {
        std::fs::read_to_string(dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    // The runner is the process running `xpr-localq run <id>`.
    let runner = q
        .processes()
        .into_iter()
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.windows(3)
                .any(|w| w == [&b"xpr-localq"[..], b"run", id.as_str().as_bytes()])
        })
        .expect("a runner process for the job");
    let killed = Command::new("kill")
        .args(["-KILL", &runner.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let done = q.wait_final(std::slice::from_ref(&id));
    assert_eq!(done[0].state, JobState::Failed { exit_code: None });
    let reason = done[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("runner died"), "{reason:?}");
    wait_for("the orphaned job to be killed", DEADLINE, || {
        (!process_exists(job_pid)).then_some(())
    });
    // Its cores are free again: the job queued behind it runs.
    let done = q.wait_final(std::slice::from_ref(&after));
    assert_eq!(done[0].state, JobState::Succeeded);
    q.close();
}
