//! Job arrays on the test bed's real Slurm (`MaxArraySize=101` there): a sweep larger than
//! the site's limit goes as several arrays, each element its own task (exit code, logs,
//! outputs, end state), a retry resubmits only the failed elements, and one element can be
//! cancelled alone.

mod common;
mod life_support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::Testbed;
use life_support::{Bed, one_core, slurm_system};
use serde_json::json;
use xpr::db::{EndState, TaskStatus};
use xpr::ids::TaskId;
use xpr::session::{Retries, StartRequest, Submission};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(300);

/// The array a Slurm element id belongs to: `123_7` -> `123`.
fn array_of(job: &str) -> String {
    job.split_once('_')
        .expect("an array element's id")
        .0
        .to_owned()
}

/// Task `i` writes `i` to `out.txt`. When `i` is in `failing`, its first attempt exits `i`
/// (leaving a flag under `flags`, a remote dir) and the next one succeeds.
fn request(i: usize, failing: &[usize], flags: &str) -> StartRequest {
    let fail = if failing.contains(&i) { i } else { 0 };
    let mut spec = TaskSpec::argv(
        format!("arr {i}"),
        [
            "sh".to_owned(),
            "-c".to_owned(),
            "echo \"$1\" > out.txt; echo \"out $1\"; \
             if [ \"$2\" != 0 ] && mkdir \"$HOME/$3/flag_$1\" 2>/dev/null; then exit \"$2\"; fi"
                .to_owned(),
            "sh".to_owned(),
            i.to_string(),
            fail.to_string(),
            flags.to_owned(),
        ],
    );
    spec.outputs = vec!["out.txt".into()];
    StartRequest::new(spec, "slurm", one_core())
        .with_submission(Submission::Array)
        .with_retries(Retries::up_to(1).on(&[EndState::Failed]).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_250_task_array_goes_as_three_chunks_and_a_retry_resubmits_only_the_failed() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"slurm": slurm_system(json!({}))}));
    let session = bed.session(Duration::from_secs(60));
    let failing = [5, 150, 249];
    let requests: Vec<StartRequest> = (0..250)
        .map(|i| request(i, &failing, &bed.remote_root))
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let done = session.wait(&ids, DEADLINE).await.unwrap();
    let mut first_arrays: HashMap<String, usize> = HashMap::new();
    let mut retry_arrays = BTreeSet::new();
    for (i, record) in done.iter().enumerate() {
        assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        let results = session.results(&record.id).unwrap();
        assert_eq!(
            std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
            format!("{i}\n")
        );
        assert_eq!(results.stdout_tail, format!("out {i}"));
        let first = &results.attempts[0];
        *first_arrays
            .entry(array_of(first.scheduler_job_id.as_ref().unwrap().as_str()))
            .or_default() += 1;
        if failing.contains(&i) {
            assert_eq!(
                results.attempts.len(),
                2,
                "task {i}: {:?}",
                results.attempts
            );
            assert_eq!(first.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(first.exit_code, Some(i as i32), "task {i}");
            let second = &results.attempts[1];
            assert_ne!(second.group, first.group, "task {i} retried in a new array");
            retry_arrays.insert(array_of(second.scheduler_job_id.as_ref().unwrap().as_str()));
        } else {
            assert_eq!(
                results.attempts.len(),
                1,
                "task {i}: {:?}",
                results.attempts
            );
        }
    }
    // 250 elements under a limit of 101: 101 + 101 + 48.
    let mut sizes: Vec<usize> = first_arrays.values().copied().collect();
    sizes.sort();
    assert_eq!(sizes, vec![48, 101, 101], "{first_arrays:?}");
    // The failed elements went again in new arrays holding only them (one array per poll
    // that saw failures end: these three ended in different chunks).
    assert!(!retry_arrays.is_empty() && retry_arrays.len() <= failing.len());
    assert!(
        first_arrays.keys().all(|a| !retry_arrays.contains(a)),
        "{retry_arrays:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_element_of_an_array_is_cancelled_alone() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"slurm": slurm_system(json!({}))}));
    let session = bed.session(Duration::from_secs(60));
    let gate = format!("{}/gate", bed.remote_root);
    let requests: Vec<StartRequest> = (0..6)
        .map(|i| {
            let spec = TaskSpec::argv(
                format!("held {i}"),
                [
                    "sh",
                    "-c",
                    "i=0; while [ ! -e \"$HOME/$1\" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done",
                    "sh",
                    &gate,
                ],
            );
            StartRequest::new(spec, "slurm", one_core()).with_submission(Submission::Array)
        })
        .collect();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let jobs: BTreeSet<String> = started
        .iter()
        .map(|s| array_of(s.record.scheduler_job_id.as_ref().unwrap().as_str()))
        .collect();
    assert_eq!(jobs.len(), 1, "six elements of one array: {jobs:?}");
    session.cancel(&ids[2..3]).await.unwrap();
    // Cancelled alone: the task ends, the others are still waiting for the gate.
    let cancelled = session
        .wait(&ids[2..3], Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        cancelled[0].status,
        TaskStatus::Failed,
        "{:?}",
        cancelled[0]
    );
    assert_eq!(cancelled[0].end_state, Some(EndState::Cancelled));
    for id in [&ids[0], &ids[1], &ids[3], &ids[4], &ids[5]] {
        assert!(!session.get(id).unwrap().status.is_finished());
    }
    let out = bed.ssh("xpr-local", &format!("touch \"$HOME/{gate}\""));
    assert!(out.status.success());
    let done = session.wait(&ids, DEADLINE).await.unwrap();
    for (i, record) in done.iter().enumerate() {
        if i == 2 {
            assert_eq!(record.end_state, Some(EndState::Cancelled));
        } else {
            assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
        }
    }
}
