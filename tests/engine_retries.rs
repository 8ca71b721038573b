//! Retries against the fake cluster (`tests/fakes`): each retry is a new attempt with its own
//! job, end state and kept logs; the default classes retry and nothing else does; a time limit
//! escalates the job's time; a task staged again never reads its last attempt's exit status;
//! `Session::retry` starts an attempt by hand.

mod fakes;

use fakes::{FakeState, Fixture, fixture, request};
use xpr::db::{EndState, TaskStatus};
use xpr::ids::TaskId;
use xpr::scheduler::JobState;
use xpr::session::Retries;

/// Ends job `n` as the scheduler would after a node failure: partial output, no exit status.
fn node_fails(f: &Fixture, n: u64) {
    let dir = f.cluster().state().jobs[&n].dir.clone();
    std::fs::write(dir.join("xpr.stdout"), format!("partial {n}\n")).unwrap();
    f.cluster().set(n, FakeState::Ended(JobState::NodeFail));
}

async fn start(f: &Fixture, name: &str, retries: Retries) -> TaskId {
    let started = f
        .session
        .start(request(name, "fake").with_retries(retries))
        .await
        .unwrap();
    started.record.id.clone()
}

#[tokio::test]
async fn a_task_whose_node_fails_twice_succeeds_on_its_third_attempt() {
    let f = fixture(&["fake"]);
    let id = start(&f, "flaky", Retries::up_to(2)).await;
    let mut jobs = vec![f.job_of(&id)];
    for round in 0..2 {
        node_fails(&f, jobs[round]);
        f.poll().await;
        // Retried in the same poll: a new job, from a run dir emptied of the last attempt.
        assert_eq!(f.status(&id), TaskStatus::Submitted, "round {round}");
        let n = f.job_of(&id);
        assert!(!jobs.contains(&n), "a new job for the new attempt");
        let dir = f.cluster().state().jobs[&n].dir.clone();
        assert!(
            !dir.join("xpr.stdout").exists(),
            "the old attempt's files are gone"
        );
        assert!(dir.join("xpr_job.sh").is_file());
        jobs.push(n);
    }
    f.cluster().complete(jobs[2], 0);
    f.poll().await;
    let results = f.session.results(&id).unwrap();
    assert_eq!(results.status, TaskStatus::Succeeded);
    let ends: Vec<_> = results.attempts.iter().map(|a| a.end_state).collect();
    assert_eq!(
        ends,
        vec![
            Some(EndState::NodeFail),
            Some(EndState::NodeFail),
            Some(EndState::Succeeded)
        ]
    );
    let job_ids: Vec<String> = results
        .attempts
        .iter()
        .map(|a| a.scheduler_job_id.clone().unwrap().to_string())
        .collect();
    assert_eq!(job_ids, jobs.iter().map(u64::to_string).collect::<Vec<_>>());
    // Each attempt's logs are kept.
    for (number, n) in [(1, jobs[0]), (2, jobs[1])] {
        let dir = f.session.attempt_dir(&id, number);
        assert_eq!(
            std::fs::read_to_string(dir.join("xpr.stdout")).unwrap(),
            format!("partial {n}\n"),
            "attempt {number}"
        );
    }
    let last = f.session.attempt_dir(&id, 3);
    assert_eq!(
        std::fs::read_to_string(last.join("xpr.stdout")).unwrap(),
        format!("job {}\n", jobs[2])
    );
    let history: Vec<String> = f
        .session
        .list(&Default::default())
        .unwrap()
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(history, vec![id.to_string()], "still one task");
}

#[tokio::test]
async fn retries_stop_at_the_maximum_and_other_classes_never_retry() {
    let f = fixture(&["fake"]);
    let id = start(&f, "unlucky", Retries::up_to(1)).await;
    node_fails(&f, f.job_of(&id));
    f.poll().await;
    node_fails(&f, f.job_of(&id));
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.end_state, Some(EndState::NodeFail));
    assert_eq!(f.session.results(&id).unwrap().attempts.len(), 2);

    // A time limit or a non-zero exit does not retry unless asked; a cancel never.
    let slow = start(&f, "slow", Retries::up_to(3)).await;
    let n = f.job_of(&slow);
    f.cluster().set(n, FakeState::Ended(JobState::Timeout));
    let bad = start(&f, "bad", Retries::up_to(3)).await;
    f.cluster().complete(f.job_of(&bad), 2);
    let cancelled = start(&f, "cancelled", Retries::up_to(3)).await;
    let c = f.job_of(&cancelled);
    f.session
        .cancel(std::slice::from_ref(&cancelled))
        .await
        .unwrap();
    f.cluster().set(c, FakeState::Ended(JobState::Cancelled));
    f.poll().await;
    for (id, end) in [
        (&slow, EndState::Timeout),
        (&bad, EndState::Failed),
        (&cancelled, EndState::Cancelled),
    ] {
        let r = f.session.get(id).unwrap();
        assert_eq!(r.end_state, Some(end), "{id}");
        assert_eq!(f.session.results(id).unwrap().attempts.len(), 1, "{id}");
    }
    assert_eq!(f.cluster().state().jobs.len(), 5);
}

#[tokio::test]
async fn a_time_limit_retry_asks_for_more_time() {
    let f = fixture(&["fake"]);
    let retries = Retries::up_to(1)
        .on(&[EndState::Timeout])
        .unwrap()
        .with_time_factor(2.0);
    // 10 minutes, on partitions of up to an hour.
    let id = start(&f, "long", retries).await;
    let first = f.job_of(&id);
    let script = |n: u64| {
        let dir = f.cluster().state().jobs[&n].dir.clone();
        std::fs::read_to_string(dir.join("xpr_job.sh")).unwrap()
    };
    assert!(
        script(first).contains("#SBATCH --time=0:10:00"),
        "{}",
        script(first)
    );
    f.cluster().set(first, FakeState::Ended(JobState::Timeout));
    f.poll().await;
    let second = f.job_of(&id);
    assert_ne!(second, first);
    assert!(
        script(second).contains("#SBATCH --time=0:20:00"),
        "{}",
        script(second)
    );
    f.cluster().complete(second, 0);
    f.poll().await;
    let results = f.session.results(&id).unwrap();
    assert_eq!(results.status, TaskStatus::Succeeded);
    assert_eq!(results.attempts[0].end_state, Some(EndState::Timeout));
}

#[tokio::test]
async fn a_task_staged_again_never_reads_its_last_attempts_exit_status() {
    let f = fixture(&["fake"]);
    let id = f.start(&["again"]).await.remove(0);
    let first = f.job_of(&id);
    f.cluster().complete(first, 3);
    f.poll().await;
    assert_eq!(f.session.get(&id).unwrap().exit_code, Some(3));

    f.session.reset_status(&id, TaskStatus::Created).unwrap();
    f.poll().await;
    let second = f.job_of(&id);
    assert_ne!(second, first);
    // Killed at its time limit before writing anything: the old `xpr.exit` (3) must not count.
    f.cluster().set(second, FakeState::Ended(JobState::Timeout));
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.end_state, Some(EndState::Timeout), "{record:?}");
    assert_eq!(record.attempt, 2);
}

#[tokio::test]
async fn a_failed_task_retried_by_hand_runs_as_a_new_attempt_keeping_the_old_logs() {
    let f = fixture(&["fake"]);
    let id = f.start(&["manual"]).await.remove(0);
    let first = f.job_of(&id);
    f.cluster().complete(first, 1);
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Failed);
    assert_eq!(
        f.session.retry(std::slice::from_ref(&id)).await.unwrap(),
        vec![id.clone()]
    );
    assert_eq!(f.status(&id), TaskStatus::Submitted);
    let second = f.job_of(&id);
    assert_ne!(second, first);
    let kept = f.session.attempt_dir(&id, 1);
    assert_eq!(
        std::fs::read_to_string(kept.join("xpr.exit"))
            .unwrap()
            .trim(),
        "1"
    );
    // A task that succeeded is not retried (it has a result).
    f.cluster().complete(second, 0);
    f.poll().await;
    let err = f
        .session
        .retry(std::slice::from_ref(&id))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--force-rerun"), "{err}");
    // Cleaning removes every attempt's local files.
    f.session.clean(std::slice::from_ref(&id)).await.unwrap();
    assert!(!kept.exists());
}

#[tokio::test]
async fn a_task_that_says_nothing_of_retries_takes_its_systems_defaults() {
    let f = fakes::fixture_with(
        &["fake"],
        serde_json::json!({"max_retries": 1, "retry_on": ["node_fail", "timeout"]}),
    );
    let started = f.session.start(request("flaky", "fake")).await.unwrap();
    let id = started.record.id.clone();
    node_fails(&f, f.job_of(&id));
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Submitted, "retried: attempt 2");
    f.cluster()
        .set(f.job_of(&id), FakeState::Ended(JobState::Timeout));
    f.poll().await;
    let results = f.session.results(&id).unwrap();
    assert_eq!(results.end_state, Some(EndState::Timeout), "one retry only");
    assert_eq!(results.attempts.len(), 2);
    // The task's own setting replaces the defaults as a whole.
    let own = request("own", "fake").with_retries(Retries::up_to(0));
    let id = f.session.start(own).await.unwrap().record.id.clone();
    node_fails(&f, f.job_of(&id));
    f.poll().await;
    assert_eq!(
        f.session.get(&id).unwrap().end_state,
        Some(EndState::NodeFail)
    );
}

#[tokio::test]
async fn a_systems_retry_class_that_is_no_end_state_is_an_error_naming_the_key() {
    let f = fakes::fixture_with(&["fake"], serde_json::json!({"retry_on": ["node_fial"]}));
    let err = f
        .session
        .start(request("t", "fake"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("systems.fake.retry_on")
            && err.contains("node_fial")
            && err.contains("node_fail"),
        "{err}"
    );
    assert!(
        f.session.list(&Default::default()).unwrap().is_empty(),
        "nothing recorded"
    );
}
