//! Retries of node failures and preemptions through [`Session`] on the PBS and LSF SIMULATORS
//! (`tests/simulators`: test doubles of PBS Pro and LSF, not the real schedulers) over SSH on
//! the test bed host `xpr-sim`.
//!
//! The first attempt's job is ended by the simulator's admin control (`pbs-simctl`,
//! `lsf-simctl`: a simulator feature, no such command exists in PBS or LSF) the way the real
//! scheduler ends a job in that case, so the adapters' parsers meet what a cluster prints:
//!
//! | simulator | node failure | preemption |
//! |---|---|---|
//! | PBS | the node goes down: `qstat -x -f` shows F, substate 93, `Exit_status = -20` (`JOB_EXEC_RERUN_MS_FAIL`) | by suspension (PBS's default `preempt_order` "SCR" for a job that is neither rerunnable nor checkpointable, as xpr's `-r n` jobs): `job_state = S`, then resumed |
//! | LSF | the host goes down: `UNKWN`, then EXIT `TERM_REMOVE_HUNG_JOB: job removed from LSF`, no exit code | `TERMINATE_WHEN = PREEMPT`: EXIT `TERM_PREEMPT: job killed after preemption`, 128+N |
//!
//! PBS reports no preemption a job could be retried on: a suspended job carries on (the same
//! attempt succeeds), a requeued one keeps its job id, and one deleted by a preemption looks
//! like an operator's `qdel`. So PBS's case checks that the attempt survives the preemption.
//!
//! Each test checks what a user would: the task's end, its attempts' end states, the scheduler's
//! words on attempt 1, one job per attempt in the simulator's own job list, and every attempt's
//! own logs.

mod common;
mod life_support;
mod sim_life;
mod sim_support;

use std::time::{Duration, Instant};

use common::Testbed;
use life_support::one_core;
use sim_life::SimLife;
use xpr::db::{EndState, TaskRecord, TaskStatus};
use xpr::ids::{SchedulerJobId, TaskId};
use xpr::scheduler::SchedulerKind;
use xpr::session::{Retries, Session, StartRequest};
use xpr::task::TaskSpec;

/// How long a test waits for a condition or for its task.
const DEADLINE: Duration = Duration::from_secs(120);

/// The task of every test: counts its runs in a file next to its run dir (the run dir is
/// emptied between attempts), prints `attempt N`, and on its first run does not end by itself
/// (`first_run` waits), so that only the simulator ends it.
fn counted_task(name: &str, first_run: &str) -> TaskSpec {
    TaskSpec::argv(
        name,
        [
            "sh",
            "-c",
            &format!(
                "n=$(cat ../runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > ../runs; \
                 echo \"attempt $n\"; if [ $n -eq 1 ]; then {first_run}; fi"
            ),
        ],
    )
}

/// A first run that the simulator has to end.
const RUNS_ON: &str = "sleep 300";

/// What the simulator is made to do to the first attempt's job.
#[derive(Clone, Copy, Debug)]
enum Injected {
    NodeFailure,
    Preemption,
}

impl Injected {
    /// The simulator's admin command line for `job` (a simulator feature, see the module docs).
    fn command(self, kind: SchedulerKind, job: &SchedulerJobId) -> String {
        let control = match kind {
            SchedulerKind::Pbs => "pbs-simctl",
            _ => "lsf-simctl",
        };
        let action = match self {
            Self::NodeFailure => "node-fail",
            Self::Preemption => "preempt",
        };
        format!("{control} {action} '{job}'")
    }

    /// How xpr should end the attempt.
    fn end_state(self) -> EndState {
        match self {
            Self::NodeFailure => EndState::NodeFail,
            Self::Preemption => EndState::Preempted,
        }
    }

    /// The words of the scheduler's own report on the job's end that name what happened (PBS's
    /// exit status, LSF's termination reason).
    fn scheduler_word(self, kind: SchedulerKind) -> &'static str {
        match (self, kind) {
            (Self::NodeFailure, SchedulerKind::Pbs) => "JOB_EXEC_RERUN_MS_FAIL",
            (Self::NodeFailure, _) => "TERM_REMOVE_HUNG_JOB",
            (Self::Preemption, _) => "TERM_PREEMPT",
        }
    }
}

/// Polls until the task's current job runs its command (`attempt 1` in its live stdout on the
/// host); returns that job's id and the remote run dir.
async fn running_its_first_run(
    life: &SimLife,
    session: &Session,
    id: &TaskId,
) -> (SchedulerJobId, String) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        session.poll().await.unwrap();
        let record = session.get(id).unwrap();
        if let (TaskStatus::Started, Some(job), Some(dir)) = (
            record.status,
            record.scheduler_job_id.clone(),
            record.remote_dir.clone(),
        ) {
            let stdout = life.ssh(&format!("cat '{dir}/xpr.stdout' 2>/dev/null"));
            if String::from_utf8_lossy(&stdout.stdout).contains("attempt 1") {
                return (job, dir);
            }
        }
        assert!(
            Instant::now() < deadline,
            "task {id} never ran its command: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the task's end; cancels it if the wait runs out, so a failing test leaves nothing
/// running.
async fn ended(session: &Session, id: &TaskId) -> TaskRecord {
    let done = session.wait(std::slice::from_ref(id), DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(std::slice::from_ref(id)).await;
    }
    done.unwrap().remove(0)
}

/// Every job the simulator had in this test's spool, as (job id, task id), from its own job
/// list with history: PBS `qstat -x -f` (names are xpr's `N_<task id>`), LSF `bjobs -a -json`.
fn simulator_jobs(life: &SimLife) -> Vec<(String, String)> {
    match life.kind {
        SchedulerKind::Pbs => {
            let text = life.ssh_ok("qstat -x -f");
            let mut jobs = Vec::new();
            let mut current = None;
            for line in text.lines() {
                if let Some(job) = line.strip_prefix("Job Id: ") {
                    current = Some(job.trim().to_owned());
                } else if let Some(name) = line.trim().strip_prefix("Job_Name = ") {
                    let job = current.take().expect("Job_Name after Job Id");
                    jobs.push((job, name.trim_start_matches("N_").to_owned()));
                }
            }
            jobs
        }
        _ => {
            let text = life.ssh_ok("bjobs -a -json -o 'jobid job_name'");
            let reply: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("bjobs -json reply ({e}): {text}"));
            reply["RECORDS"]
                .as_array()
                .unwrap_or_else(|| panic!("no RECORDS in {text}"))
                .iter()
                .map(|r| {
                    (
                        r["JOBID"].as_str().unwrap().to_owned(),
                        r["JOB_NAME"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        }
    }
}

/// The simulator's jobs, sorted, and what they should be: one per attempt of task `id`.
fn assert_one_job_per_attempt(life: &SimLife, id: &TaskId, attempts: &[xpr::db::Attempt]) {
    let mut listed = simulator_jobs(life);
    listed.sort();
    let mut expected: Vec<(String, String)> = attempts
        .iter()
        .map(|a| {
            let job = a
                .scheduler_job_id
                .as_ref()
                .expect("every attempt had a job");
            (job.to_string(), id.to_string())
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected, "the simulator's own job list");
}

/// The attempt's kept stdout.
fn attempt_stdout(session: &Session, id: &TaskId, number: u32) -> String {
    let path = session.attempt_dir(id, number).join("xpr.stdout");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_failure_on_the_pbs_simulator_is_retried_and_succeeds_on_attempt_2() {
    retried_after(SchedulerKind::Pbs, Injected::NodeFailure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_failure_on_the_lsf_simulator_is_retried_and_succeeds_on_attempt_2() {
    retried_after(SchedulerKind::Lsf, Injected::NodeFailure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preemption_on_the_lsf_simulator_is_retried_and_succeeds_on_attempt_2() {
    retried_after(SchedulerKind::Lsf, Injected::Preemption).await;
}

/// A task that may retry once: the simulator ends its first job as `injected`, and the task
/// succeeds on attempt 2, with two jobs in the simulator's list and both attempts' logs.
async fn retried_after(kind: SchedulerKind, injected: Injected) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let session = life.session();
    let request = StartRequest::new(
        counted_task(&format!("{injected:?} then fine"), RUNS_ON),
        life.system(),
        one_core(),
    )
    .with_retries(Retries::up_to(1));
    let id = session.start(request).await.unwrap().record.id.clone();
    let (first_job, _) = running_its_first_run(&life, &session, &id).await;
    life.ssh_ok(&injected.command(kind, &first_job));

    let done = ended(&session, &id).await;
    assert_eq!(done.status, TaskStatus::Succeeded, "{done:?}");
    let results = session.results(&id).unwrap();
    let ends: Vec<_> = results
        .attempts
        .iter()
        .map(|a| (a.number, a.end_state))
        .collect();
    assert_eq!(
        ends,
        vec![
            (1, Some(injected.end_state())),
            (2, Some(EndState::Succeeded))
        ],
        "{:?}",
        results.attempts
    );
    let first = &results.attempts[0];
    assert_eq!(first.scheduler_job_id.as_ref(), Some(&first_job));
    let words = first.scheduler_reason.as_deref().unwrap_or_default();
    assert!(
        words.contains(injected.scheduler_word(kind)),
        "attempt 1's scheduler reason: {words:?}"
    );
    assert_ne!(
        results.attempts[1].scheduler_job_id, first.scheduler_job_id,
        "a new job for attempt 2"
    );
    assert_one_job_per_attempt(&life, &id, &results.attempts);
    assert_eq!(attempt_stdout(&session, &id, 1), "attempt 1\n");
    assert_eq!(attempt_stdout(&session, &id, 2), "attempt 2\n");
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_a_node_failure_on_the_pbs_simulator_ends_node_fail_after_one_attempt() {
    not_retried(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retries_a_node_failure_on_the_lsf_simulator_ends_node_fail_after_one_attempt() {
    not_retried(SchedulerKind::Lsf).await;
}

/// The same node failure for a task without retries (the default): it fails `node_fail` after
/// its one attempt, whose partial logs came back.
async fn not_retried(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let session = life.session();
    let request = StartRequest::new(
        counted_task("node fails, no retry", RUNS_ON),
        life.system(),
        one_core(),
    );
    let id = session.start(request).await.unwrap().record.id.clone();
    let (job, _) = running_its_first_run(&life, &session, &id).await;
    life.ssh_ok(&Injected::NodeFailure.command(kind, &job));

    let done = ended(&session, &id).await;
    assert_eq!(done.status, TaskStatus::Failed, "{done:?}");
    assert_eq!(done.end_state, Some(EndState::NodeFail), "{done:?}");
    let results = session.results(&id).unwrap();
    let ends: Vec<_> = results
        .attempts
        .iter()
        .map(|a| (a.number, a.end_state))
        .collect();
    assert_eq!(ends, vec![(1, Some(EndState::NodeFail))]);
    assert_one_job_per_attempt(&life, &id, &results.attempts);
    assert_eq!(attempt_stdout(&session, &id, 1), "attempt 1\n");
    session.close().await.unwrap();
}

/// PBS preempts xpr's jobs (`-r n`, no checkpointing) by suspending them: the job stops,
/// `qstat` shows `job_state = S`, and when the scheduler resumes it the same attempt runs to
/// its end. A task that may retry does not: one attempt, one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_preempted_by_suspension_on_the_pbs_simulator_resumes_and_succeeds_on_attempt_1() {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, SchedulerKind::Pbs);
    let session = life.session();
    // The first run waits for a file the test writes while the job is stopped.
    let request = StartRequest::new(
        counted_task(
            "suspended then resumed",
            "until [ -e resumed ]; do sleep 0.1; done; echo resumed",
        ),
        life.system(),
        one_core(),
    )
    .with_retries(Retries::up_to(1));
    let id = session.start(request).await.unwrap().record.id.clone();
    let (job, dir) = running_its_first_run(&life, &session, &id).await;
    life.ssh_ok(&Injected::Preemption.command(SchedulerKind::Pbs, &job));

    // Suspended: PBS says S, and the job's processes are stopped.
    let qstat = format!("qstat -f '{job}'");
    let session_id = common::wait_for("the job to be suspended", DEADLINE, || {
        let text = life.ssh_ok(&qstat);
        text.contains("job_state = S").then(|| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix("session_id = "))
                .expect("a running job has a session_id")
                .to_owned()
        })
    });
    let ps = life.ssh_ok(&format!("ps -o stat= -p {session_id}"));
    assert!(ps.trim_start().starts_with('T'), "not stopped: {ps:?}");
    session.poll().await.unwrap();
    let record = session.get(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Started, "{record:?}");
    assert_eq!(record.attempt, 1, "{record:?}");

    life.ssh_ok(&format!(
        "touch '{dir}/resumed' && pbs-simctl resume '{job}'"
    ));
    let done = ended(&session, &id).await;
    assert_eq!(done.status, TaskStatus::Succeeded, "{done:?}");
    let results = session.results(&id).unwrap();
    let ends: Vec<_> = results
        .attempts
        .iter()
        .map(|a| (a.number, a.end_state))
        .collect();
    assert_eq!(ends, vec![(1, Some(EndState::Succeeded))]);
    assert_eq!(results.attempts[0].scheduler_job_id.as_ref(), Some(&job));
    assert_one_job_per_attempt(&life, &id, &results.attempts);
    assert_eq!(attempt_stdout(&session, &id, 1), "attempt 1\nresumed\n");
    session.close().await.unwrap();
}
