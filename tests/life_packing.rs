//! Packing: many short tasks in few scheduler jobs, each task still its own (run dir, exit
//! code, logs, outputs, end state), on the built-in local queue and the test bed's real Slurm.

mod common;
mod life_support;

use std::collections::HashSet;
use std::time::Duration;

use life_support::{Bed, one_core, slurm_system};
use serde_json::json;
use xpr::db::{EndState, TaskStatus};
use xpr::ids::TaskId;
use xpr::session::{PackSize, Session, StartRequest, Submission};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

/// `count` tasks; task `i` writes `i` to `out.txt` and to its stdout, and exits `i` when `i`
/// is in `failing` (else 0).
fn tasks(
    count: usize,
    failing: &[usize],
    system: &str,
    submission: Submission,
) -> Vec<StartRequest> {
    (0..count)
        .map(|i| {
            let code = if failing.contains(&i) { i } else { 0 };
            let mut spec = TaskSpec::argv(
                format!("pk {i}"),
                [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo \"$1\" > out.txt; echo \"out $1\"; echo \"err $1\" >&2; exit \"$2\""
                        .to_owned(),
                    "sh".to_owned(),
                    i.to_string(),
                    code.to_string(),
                ],
            );
            spec.outputs = vec!["out.txt".into()];
            StartRequest::new(spec, system, one_core()).with_submission(submission)
        })
        .collect()
}

/// Starts `requests`, waits for all, and checks each task's own end: exit code `i` for the
/// failing ones, its own output and logs for all; returns the distinct job ids they ran in.
async fn run_and_check(
    session: &Session,
    requests: Vec<StartRequest>,
    failing: &[usize],
) -> HashSet<String> {
    let count = requests.len();
    let started = session.start_many(requests).await.unwrap();
    let ids: Vec<TaskId> = started.iter().map(|s| s.record.id.clone()).collect();
    let done = session.wait(&ids, DEADLINE).await.unwrap();
    let mut jobs = HashSet::new();
    for (i, record) in done.iter().enumerate() {
        let results = session.results(&record.id).unwrap();
        if failing.contains(&i) {
            assert_eq!(record.status, TaskStatus::Failed, "task {i}: {record:?}");
            assert_eq!(record.end_state, Some(EndState::Failed), "task {i}");
            assert_eq!(results.exit_code, Some(i as i32), "task {i}");
        } else {
            assert_eq!(record.status, TaskStatus::Succeeded, "task {i}: {record:?}");
            assert_eq!(
                std::fs::read_to_string(results.local_dir.join("out.txt")).unwrap(),
                format!("{i}\n")
            );
        }
        assert_eq!(results.stdout_tail, format!("out {i}"), "task {i}");
        assert_eq!(results.stderr_tail, format!("err {i}"), "task {i}");
        assert_eq!(
            results.attempts.len(),
            1,
            "task {i}: {:?}",
            results.attempts
        );
        assert!(
            results.attempts[0].group.is_some(),
            "task {i} ran in a pack"
        );
        jobs.insert(record.scheduler_job_id.clone().unwrap().to_string());
    }
    assert_eq!(done.len(), count);
    jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tasks_packed_five_a_job_on_the_local_queue_end_each_as_its_own() {
    let bed = Bed::new(
        None,
        json!({"loc": {"host": null, "scheduler": "local",
            "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}}}),
    );
    let session = bed.session(Duration::from_secs(60));
    let failing = [3, 11, 17];
    let requests = tasks(20, &failing, "loc", Submission::Packed(PackSize::PerJob(5)));
    let jobs = run_and_check(&session, requests, &failing).await;
    assert_eq!(jobs.len(), 4, "20 tasks, 5 per job: {jobs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_in_eight_slurm_jobs_with_three_failing() {
    let Some(tb) = common::Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({"slurm": slurm_system(json!({}))}));
    let session = bed.session(Duration::from_secs(60));
    let failing = [7, 99, 180];
    let requests = tasks(
        200,
        &failing,
        "slurm",
        Submission::Packed(PackSize::Jobs(8)),
    );
    let jobs = run_and_check(&session, requests, &failing).await;
    assert_eq!(jobs.len(), 8, "200 tasks in 8 jobs: {jobs:?}");
}
