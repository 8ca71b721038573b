//! Job arrays through [`Session`] on the PBS and LSF SIMULATORS (`tests/simulators`: test
//! doubles of PBS Pro and LSF, not the real schedulers) over SSH on the test bed host
//! `xpr-sim`, where a session reaches `qsub`/`bsub` by name as on a cluster.
//!
//! For each simulator: twelve tasks submitted as one array, two failing with their own exit
//! codes, each end as their own (exit code, `xpr.stdout`/`xpr.stderr`, outputs) while all of
//! them are elements of one array job; a retry resubmits only the failed elements, as a new
//! array holding only them (the simulator's own listing of that array says so); a system with
//! `"max_array_size": 5` cuts a sweep of twelve into three arrays; and one element cancelled
//! alone ends `cancelled` while the others of its array succeed.
//!
//! Each test has a [`SimLife`]: its own simulator spool on `xpr-sim` (see `tests/sim_life`),
//! removed when done, which stops every job the test left behind.

mod common;
mod life_support;
mod sim_life;
mod sim_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::Testbed;
use life_support::one_core;
use serde_json::json;
use sim_life::SimLife;
use xpr::db::{EndState, TaskRecord, TaskStatus};
use xpr::ids::{SchedulerJobId, TaskId};
use xpr::scheduler::{SchedulerKind, scheduler_for};
use xpr::session::{Retries, Session, StartRequest, Submission, SweepRequest};
use xpr::sweep::{Param, SweepSpec};
use xpr::task::TaskSpec;

/// How long a test waits for its tasks.
const DEADLINE: Duration = Duration::from_secs(180);

/// How many tasks the array tests start.
const TASKS: usize = 12;

/// The tasks that fail, and the exit code of task `i` when it does.
const FAILING: [usize; 2] = [3, 8];
fn failing_code(i: usize) -> i32 {
    40 + i as i32
}

/// The array job an element's id belongs to, by the adapter (`7[3].pbs-sim` -> `7[].pbs-sim`,
/// `7[4]` -> `7`); panics on an id that is not an array element.
fn array_of(kind: SchedulerKind, job: &SchedulerJobId) -> SchedulerJobId {
    let array = scheduler_for(kind).array_of(job);
    assert_ne!(&array, job, "{job} is not an array element");
    array
}

/// Task `i` of `label`: writes `i` to `out.txt`, `out i` to its stdout and `err i` to its
/// stderr; when `i` is in [`FAILING`] it exits with [`failing_code`], on every attempt if
/// `flags` is `None`, else only on the first (it leaves a flag in the remote dir `flags`, under
/// the simulator user's home).
fn request(label: &str, i: usize, flags: Option<&str>, system: &str) -> StartRequest {
    let code = if FAILING.contains(&i) {
        failing_code(i)
    } else {
        0
    };
    let mut spec = TaskSpec::argv(
        format!("{label} {i}"),
        [
            "sh".to_owned(),
            "-c".to_owned(),
            "echo \"$1\" > out.txt; echo \"out $1\"; echo \"err $1\" >&2; \
             [ \"$2\" = 0 ] && exit 0; \
             [ -z \"$3\" ] && exit \"$2\"; \
             mkdir \"$HOME/$3/flag_$1\" 2>/dev/null && exit \"$2\"; exit 0"
                .to_owned(),
            "sh".to_owned(),
            i.to_string(),
            code.to_string(),
            flags.unwrap_or_default().to_owned(),
        ],
    );
    spec.outputs = vec!["out.txt".into()];
    StartRequest::new(spec, system, one_core()).with_submission(Submission::Array)
}

/// Starts `requests` in one batch and waits for all; cancels them all if the wait runs out,
/// so that a failing test leaves nothing running.
async fn start_and_wait(session: &Session, requests: Vec<StartRequest>) -> Vec<TaskRecord> {
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    wait_all(session, &ids).await
}

/// Waits for `ids`; cancels them all if the wait runs out.
async fn wait_all(session: &Session, ids: &[TaskId]) -> Vec<TaskRecord> {
    let done = session.wait(ids, DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(ids).await;
    }
    done.unwrap()
}

/// How many elements the simulator itself lists for `array` (its own job list, not xpr's).
fn elements_listed(life: &SimLife, array: &SchedulerJobId) -> usize {
    let (command, marker) = match life.kind {
        SchedulerKind::Pbs => (format!("qstat -x -f -t '{array}'"), "Job Id: "),
        _ => (
            format!("bjobs -a -json -o 'jobid jobindex' '{array}'"),
            "\"JOBINDEX\"",
        ),
    };
    let listing = life.ssh_ok(&command);
    let found = listing.matches(marker).count();
    // PBS lists the array itself before its subjobs.
    match life.kind {
        SchedulerKind::Pbs => found - 1,
        _ => found,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_array_tasks_end_each_as_their_own_on_the_pbs_simulator() {
    twelve_end_each_as_their_own(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_array_tasks_end_each_as_their_own_on_the_lsf_simulator() {
    twelve_end_each_as_their_own(SchedulerKind::Lsf).await;
}

/// Twelve tasks as one array, two failing: each ends with its own exit code, logs and output,
/// and all twelve are elements (distinct, one each) of one array job.
async fn twelve_end_each_as_their_own(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let session = life.session();
    let requests = (0..TASKS)
        .map(|i| request("own", i, None, &life.system()))
        .collect();
    let done = start_and_wait(&session, requests).await;
    let mut arrays = BTreeSet::new();
    let mut elements = BTreeSet::new();
    for (i, record) in done.iter().enumerate() {
        let results = session.results(&record.id).unwrap();
        if FAILING.contains(&i) {
            assert_eq!(record.status, TaskStatus::Failed, "task {i}: {record:?}");
            assert_eq!(record.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(results.exit_code, Some(failing_code(i)), "task {i}");
        } else {
            assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
            assert_eq!(results.exit_code, Some(0), "task {i}");
        }
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n"),
            "task {i}"
        );
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
        assert_eq!(results.stderr_tail, format!("err {i}"), "task {i}");
        assert_eq!(
            results.attempts.len(),
            1,
            "task {i}: {:?}",
            results.attempts
        );
        let job = record.scheduler_job_id.clone().unwrap();
        arrays.insert(array_of(kind, &job));
        elements.insert(job);
        assert!(
            results.attempts[0].group.is_some(),
            "task {i} ran in an array"
        );
    }
    assert_eq!(arrays.len(), 1, "one array job for all: {arrays:?}");
    assert_eq!(elements.len(), TASKS, "one element each: {elements:?}");
    let array = arrays.first().unwrap();
    assert_eq!(elements_listed(&life, array), TASKS, "{array}");
    let ids: Vec<TaskId> = done.iter().map(|r| r.id.clone()).collect();
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_resubmits_only_the_failed_elements_on_the_pbs_simulator() {
    retry_only_the_failed(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_resubmits_only_the_failed_elements_on_the_lsf_simulator() {
    retry_only_the_failed(SchedulerKind::Lsf).await;
}

/// Twelve tasks as one array with one retry on failure; two fail on their first attempt
/// only. Their second attempts are elements of new arrays that hold nothing else; the ten
/// others keep their one attempt; all twelve end succeeded.
async fn retry_only_the_failed(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let session = life.session();
    let retries = Retries::up_to(1).on(&[EndState::Failed]).unwrap();
    let requests = (0..TASKS)
        .map(|i| {
            request("retry", i, Some(&life.remote_root), &life.system())
                .with_retries(retries.clone())
        })
        .collect();
    let done = start_and_wait(&session, requests).await;
    let mut first_arrays = BTreeSet::new();
    let mut retry_arrays: BTreeMap<SchedulerJobId, usize> = BTreeMap::new();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
        let first = &results.attempts[0];
        first_arrays.insert(array_of(kind, first.scheduler_job_id.as_ref().unwrap()));
        if FAILING.contains(&i) {
            assert_eq!(
                results.attempts.len(),
                2,
                "task {i}: {:?}",
                results.attempts
            );
            assert_eq!(first.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(first.exit_code, Some(failing_code(i)), "task {i}");
            let second = &results.attempts[1];
            assert_eq!(second.end_state, Some(EndState::Succeeded), "task {i}");
            assert_ne!(second.group, first.group, "task {i} retried in a new array");
            let job = second.scheduler_job_id.as_ref().unwrap();
            *retry_arrays.entry(array_of(kind, job)).or_default() += 1;
        } else {
            assert_eq!(
                results.attempts.len(),
                1,
                "task {i}: {:?}",
                results.attempts
            );
        }
    }
    eprintln!("the failed elements were retried in: {retry_arrays:?}");
    assert_eq!(first_arrays.len(), 1, "{first_arrays:?}");
    assert!(
        retry_arrays.keys().all(|a| !first_arrays.contains(a)),
        "retries went in new arrays: {retry_arrays:?}"
    );
    // One retry array, or one per poll that saw a failure end: each holds only the failed
    // elements xpr put there, by the simulator's own listing.
    for (array, members) in &retry_arrays {
        assert_eq!(elements_listed(&life, array), *members, "{array}");
    }
    assert_eq!(retry_arrays.values().sum::<usize>(), FAILING.len());
    let ids: Vec<TaskId> = done.iter().map(|r| r.id.clone()).collect();
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_array_limit_cuts_a_sweep_into_chunks_on_the_pbs_simulator() {
    chunked_sweep(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_array_limit_cuts_a_sweep_into_chunks_on_the_lsf_simulator() {
    chunked_sweep(SchedulerKind::Lsf).await;
}

/// A sweep of twelve points as arrays on a system with `"max_array_size": 5`: three arrays of
/// five, five and two elements, every point its own task with its own output.
async fn chunked_sweep(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::with_system(&tb, kind, json!({"max_array_size": 5}));
    let session = life.session();
    let template = StartRequest::new(
        TaskSpec::argv("chunk", ["sh", "-c", "echo \"$1\" > out.txt", "sh", "{i}"]),
        life.system(),
        one_core(),
    );
    let mut sweep = SweepRequest::new(
        "chunks",
        SweepSpec::Grid(vec![Param::parse("i=@range(0,12)").unwrap()]),
        template,
    );
    sweep.submission = Submission::Array;
    sweep.template.spec.outputs = vec!["out.txt".into()];
    let started = session.start_sweep(&sweep).await.unwrap();
    assert_eq!(started.submitted, TASKS);
    let ids: Vec<TaskId> = started.tasks.iter().map(|t| t.record.id.clone()).collect();
    let done = wait_all(&session, &ids).await;
    let mut sizes: BTreeMap<SchedulerJobId, usize> = BTreeMap::new();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(
            record.status,
            TaskStatus::Succeeded,
            "point {i}: {record:?}"
        );
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        *sizes
            .entry(array_of(kind, record.scheduler_job_id.as_ref().unwrap()))
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = sizes.values().copied().collect();
    counts.sort();
    assert_eq!(counts, [2, 5, 5], "12 tasks under a limit of 5: {sizes:?}");
    for (array, members) in &sizes {
        assert_eq!(elements_listed(&life, array), *members, "{array}");
    }
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_element_is_cancelled_alone_on_the_pbs_simulator() {
    cancel_one_element(SchedulerKind::Pbs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_element_is_cancelled_alone_on_the_lsf_simulator() {
    cancel_one_element(SchedulerKind::Lsf).await;
}

/// Six tasks as one array, each waiting for a gate file: one is cancelled and ends
/// `cancelled` while the others still wait; once the gate opens, the others succeed.
async fn cancel_one_element(kind: SchedulerKind) {
    let Some(tb) = Testbed::require("netns") else {
        return;
    };
    let life = SimLife::new(&tb, kind);
    let session = life.session();
    let gate = format!("{}/gate", life.remote_root);
    let requests: Vec<StartRequest> = (0..6)
        .map(|i| {
            let spec = TaskSpec::argv(
                format!("gated {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo \"waiting $2\"; i=0; \
                     while [ ! -e \"$HOME/$1\" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; \
                     [ -e \"$HOME/$1\" ]"
                        .to_owned(),
                    "sh".to_owned(),
                    gate.clone(),
                    i.to_string(),
                ],
            );
            StartRequest::new(spec, life.system(), one_core()).with_submission(Submission::Array)
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let arrays: BTreeSet<SchedulerJobId> = started
        .iter()
        .map(|s| array_of(kind, s.record.scheduler_job_id.as_ref().unwrap()))
        .collect();
    assert_eq!(arrays.len(), 1, "six elements of one array: {arrays:?}");

    let cancelled = session.cancel(&ids[2..3]).await.unwrap();
    assert_eq!(cancelled, ids[2..3]);
    let ended = session.wait(&ids[2..3], DEADLINE).await;
    if ended.is_err() {
        let _ = session.cancel(&ids).await;
    }
    let ended = ended.unwrap().remove(0);
    assert_eq!(ended.status, TaskStatus::Failed, "{ended:?}");
    assert_eq!(ended.end_state, Some(EndState::Cancelled), "{ended:?}");
    // The others are still waiting for the gate: nothing ended them with it.
    session.poll().await.unwrap();
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| *i != 2) {
        let record = session.get(id).unwrap();
        assert!(
            matches!(record.status, TaskStatus::Submitted | TaskStatus::Started),
            "task {i} ended with the cancelled one: {record:?}"
        );
    }
    life.ssh_ok(&format!("touch '{gate}'"));
    let rest: Vec<TaskId> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, id)| id.clone())
        .collect();
    let done = wait_all(&session, &rest).await;
    for record in &done {
        assert_eq!(record.status, TaskStatus::Succeeded, "{record:?}");
    }
    session.clean(&ids).await.unwrap();
    session.close().await.unwrap();
}
