//! Retries on the real test bed's Slurm over SSH: a task that fails twice (a counter file on
//! the cluster, outside its run dir) and then succeeds ends succeeded with three attempts,
//! three jobs in Slurm's accounting and three logs; a job killed at its time limit is retried
//! with twice the time and succeeds.

mod common;
mod life_support;

use std::time::Duration;

use common::Testbed;
use life_support::{Bed, one_core, slurm_system};
use serde_json::json;
use xpr::db::{EndState, TaskStatus};
use xpr::session::{Retries, StartRequest};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_fails_twice_then_succeeds_has_three_attempts_and_three_logs() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({ "slurm": slurm_system(json!({})) }));
    let session = bed.session(Duration::from_secs(120));
    // The run dir is emptied between attempts; the counter lives in the remote base above it.
    let spec = TaskSpec::argv(
        "third time lucky",
        [
            "sh",
            "-c",
            "n=$(cat ../counter 2>/dev/null || echo 0); n=$((n+1)); echo $n > ../counter; \
             echo \"attempt $n\"; [ $n -ge 3 ] || { echo \"failing $n\" >&2; exit 1; }",
        ],
    );
    let retries = Retries::up_to(2).on(&[EndState::Failed]).unwrap();
    let started = session
        .start(StartRequest::new(spec, "slurm", one_core()).with_retries(retries))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    let results = session.results(&id).unwrap();
    let ends: Vec<_> = results.attempts.iter().map(|a| a.end_state).collect();
    assert_eq!(
        ends,
        vec![
            Some(EndState::Failed),
            Some(EndState::Failed),
            Some(EndState::Succeeded)
        ]
    );
    for (i, attempt) in results.attempts.iter().enumerate() {
        let n = i + 1;
        let dir = session.attempt_dir(&id, attempt.number);
        let stdout = std::fs::read_to_string(dir.join("xpr.stdout")).unwrap();
        assert_eq!(stdout, format!("attempt {n}\n"), "attempt {n}'s own log");
    }
    // Slurm ran exactly one job per attempt, each the one the attempt names.
    let mut jobs: Vec<String> = results
        .attempts
        .iter()
        .map(|a| a.scheduler_job_id.clone().unwrap().to_string())
        .collect();
    jobs.sort();
    // slurmdbd writes a job's record a moment after the job ends: wait for all three.
    let accounted = common::wait_for("three jobs in sacct", DEADLINE, || {
        let out = bed.ssh(
            "xpr-local",
            &format!("sacct -n -X -P -o JobID --name {id} -S now-1hour"),
        );
        let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        found.sort();
        (found.len() >= jobs.len()).then_some(found)
    });
    assert_eq!(accounted, jobs);
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_time_limit_kill_is_retried_with_twice_the_time() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(Some(&tb), json!({ "slurm": slurm_system(json!({})) }));
    let session = bed.session(Duration::from_secs(120));
    // The first attempt outlives its minute; the second reports the limit it was given.
    let spec = TaskSpec::argv(
        "slow",
        [
            "sh",
            "-c",
            "if [ -e ../slow.once ]; then scontrol show job $SLURM_JOB_ID | grep -o 'TimeLimit=[^ ]*'; \
             else touch ../slow.once; sleep 600; fi",
        ],
    );
    let retries = Retries::up_to(1)
        .on(&[EndState::Timeout])
        .unwrap()
        .with_time_factor(2.0);
    let resources = one_core().with_max_time(60);
    let started = session
        .start(StartRequest::new(spec, "slurm", resources).with_retries(retries))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let done = session.wait(std::slice::from_ref(&id), DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(std::slice::from_ref(&id)).await;
    }
    let done = done.unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    let results = session.results(&id).unwrap();
    let ends: Vec<_> = results.attempts.iter().map(|a| a.end_state).collect();
    assert_eq!(
        ends,
        vec![Some(EndState::Timeout), Some(EndState::Succeeded)]
    );
    let second = std::fs::read_to_string(session.attempt_dir(&id, 2).join("xpr.stdout")).unwrap();
    assert_eq!(second.trim(), "TimeLimit=00:02:00", "the retry's own limit");
    // Slurm's accounting: a one-minute job that timed out, then one that completed (its
    // two-minute limit is what the job itself read above; slurmdbd may fill the limit of a
    // short job's record late).
    let job = |n: usize| {
        results.attempts[n]
            .scheduler_job_id
            .clone()
            .unwrap()
            .to_string()
    };
    let limits = common::wait_for("both jobs in sacct", DEADLINE, || {
        let out = bed.ssh(
            "xpr-local",
            &format!("sacct -n -X -P -o State,Timelimit -j {},{}", job(0), job(1)),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.lines().count() == 2).then_some(text)
    });
    let lines: Vec<&str> = limits.lines().collect();
    assert_eq!(lines[0], "TIMEOUT|00:01:00", "{limits}");
    assert!(lines[1].starts_with("COMPLETED|"), "{limits}");
}
