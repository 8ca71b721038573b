//! The engine's follow, submit-recovery and cancel logic against a fake cluster
//! (`tests/fakes`: a fake scheduler and transport, the session's clock a [`ManualClock`]):
//! a job that vanishes, accounting that lags, a reply cut in half, a submit that fails for one
//! task of ten, cancels of running, queued, staged and half-submitted tasks, and one
//! unreachable system among two. Nothing here sleeps: time moves when a test says so (but for
//! the last test, which waits for a real ssh whose login fails slowly, to show it holds up no
//! other system).

mod fakes;

use std::sync::Arc;
use std::time::Duration;

use fakes::{
    BatchPlan, FakeCluster, FakeScheduler, FakeState, FakeTransport, VANISH, fixture, request,
};
use serde_json::json;
use xpr::config::LoadedConfig;
use xpr::db::{EndState, TaskStatus};
use xpr::ids::TaskId;
use xpr::scheduler::JobState;
use xpr::session::Session;

#[tokio::test]
async fn a_job_in_neither_queue_nor_accounting_vanishes_exactly_past_the_timeout() {
    let f = fixture(&["fake"]);
    let id = f.start(&["ghost"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().set(n, FakeState::Running);
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Started);

    // Gone from both: the first poll only writes down when.
    f.cluster().show(n, false, false);
    f.poll().await;
    f.clock.advance(VANISH - Duration::from_secs(1));
    f.poll().await;
    assert_eq!(
        f.status(&id),
        TaskStatus::Started,
        "not yet past the timeout"
    );
    f.clock.advance(Duration::from_secs(1));
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Died);
    assert_eq!(record.end_state, Some(EndState::Vanished));
    let reason = record.reason.clone().unwrap();
    assert!(reason.contains(&format!("job {n} on fake")), "{reason}");
    assert!(reason.contains("5m"), "{reason}");
    let attempts = f.session.results(&id).unwrap().attempts;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].end_state, Some(EndState::Vanished));
}

#[tokio::test]
async fn a_job_seen_again_before_the_timeout_is_not_declared_vanished() {
    let f = fixture(&["fake"]);
    let id = f.start(&["flaky"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().show(n, false, false);
    f.poll().await;
    f.clock.advance(VANISH - Duration::from_secs(10));
    f.poll().await;
    // The queue lists it again (a listing that lagged): the missing clock starts over.
    f.cluster().show(n, true, true);
    f.poll().await;
    f.cluster().show(n, false, false);
    f.clock.advance(Duration::from_secs(20));
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Submitted);
}

#[tokio::test]
async fn accounting_that_lags_is_waited_for_and_then_gives_the_result() {
    let f = fixture(&["fake"]);
    let id = f.start(&["lagging"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().complete(n, 0);
    // It left the queue; accounting has no record yet (slurmdbd under load).
    f.cluster().show(n, false, false);
    f.poll().await;
    f.clock.advance(Duration::from_secs(240));
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Submitted, "waits, not vanished");
    f.cluster().show(n, false, true);
    f.poll().await;
    let results = f.session.results(&id).unwrap();
    assert_eq!(results.status, TaskStatus::Succeeded, "{results:?}");
    assert_eq!(results.end_state, Some(EndState::Succeeded));
    assert_eq!(results.exit_code, Some(0));
    assert_eq!(results.stdout_tail, format!("job {n}"));
}

#[tokio::test]
async fn a_final_state_in_the_queue_is_used_when_accounting_does_not_know_the_job_in_time() {
    let f = fixture(&["fake"]);
    let id = f.start(&["slow"]).await.remove(0);
    let n = f.job_of(&id);
    // Killed at its time limit: no xpr.exit; the queue says so, accounting lags.
    f.cluster().set(n, FakeState::Ended(JobState::Timeout));
    f.cluster().show(n, true, false);
    f.poll().await;
    // Accounting's record (run time, the scheduler's words) is waited for a few seconds ...
    assert_eq!(f.status(&id), TaskStatus::Submitted);
    f.clock.advance(Duration::from_secs(4));
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Submitted);
    // ... then the queue's word stands.
    f.clock.advance(Duration::from_secs(2));
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.end_state, Some(EndState::Timeout));
}

#[tokio::test]
async fn an_accounting_record_that_comes_within_the_grace_is_used() {
    let f = fixture(&["fake"]);
    let id = f.start(&["slow"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().set(n, FakeState::Ended(JobState::Timeout));
    f.cluster().show(n, true, false);
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Submitted);
    f.clock.advance(Duration::from_secs(1));
    f.cluster().show(n, true, true);
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.end_state, Some(EndState::Timeout));
    assert_eq!(
        f.cluster().count("fake-acct"),
        2,
        "accounting asked twice, not more"
    );
}

#[tokio::test]
async fn a_job_that_succeeded_by_its_exit_status_needs_no_accounting_query() {
    let f = fixture(&["fake"]);
    let ids = f.start(&["a", "b"]).await;
    for id in &ids {
        let n = f.job_of(id);
        f.cluster().complete(n, if id == &ids[0] { 0 } else { 3 });
    }
    f.poll().await;
    assert_eq!(f.status(&ids[0]), TaskStatus::Succeeded);
    let failed = f.session.get(&ids[1]).unwrap();
    assert_eq!(failed.end_state, Some(EndState::Failed));
    assert_eq!(failed.exit_code, Some(3));
    assert_eq!(
        f.cluster().count("fake-status"),
        1,
        "one status query per poll"
    );
    // The success needs no accounting; the failure is asked of it (its figures), once.
    assert_eq!(f.cluster().count("fake-acct"), 1);
    let attempt = &f.session.results(&ids[1]).unwrap().attempts[0];
    assert_eq!(attempt.elapsed_secs, Some(61));
    assert_eq!(attempt.peak_memory_kb, Some(2048));
    assert_eq!(attempt.scheduler_reason.as_deref(), Some("F by the fake"));
    let report = f.session.failure_report(&ids[1]).unwrap();
    assert_eq!(report.elapsed_secs, Some(61));
    assert_eq!(
        report.elapsed_source,
        Some(xpr::session::FigureSource::Accounting)
    );
    assert_eq!(report.peak_memory_kb, Some(2048));
    assert_eq!(report.scheduler_reason.as_deref(), Some("F by the fake"));
}

#[tokio::test]
async fn a_reply_cut_in_half_loses_no_job_and_duplicates_none() {
    let f = fixture(&["fake"]);
    // All ten ran; the reply carries only the first five records.
    f.cluster().plan(BatchPlan {
        reply_records: Some(5),
        ..BatchPlan::default()
    });
    let names: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = f.start(&names).await;
    assert_eq!(f.cluster().state().jobs.len(), 10);
    assert_eq!(
        f.cluster().count("fake-find"),
        1,
        "the five unsure ones looked up at once"
    );
    for id in &ids {
        assert_eq!(f.status(id), TaskStatus::Submitted);
        f.job_of(id);
    }
}

#[tokio::test]
async fn a_batch_that_stopped_half_way_submits_the_rest_once_on_the_next_poll() {
    let f = fixture(&["fake"]);
    // Seven ran, five replies came back, then the connection dropped.
    f.cluster().plan(BatchPlan {
        run_only: Some(7),
        reply_records: Some(5),
        ..BatchPlan::default()
    });
    let names: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = f.start(&names).await;
    let staged: Vec<&TaskId> = ids
        .iter()
        .filter(|id| f.status(id) == TaskStatus::Staged)
        .collect();
    assert_eq!(
        staged.len(),
        3,
        "the three that never ran go back to staged"
    );
    assert_eq!(f.cluster().state().jobs.len(), 7);
    f.poll().await;
    assert_eq!(
        f.cluster().state().jobs.len(),
        10,
        "each task exactly one job"
    );
    for id in &ids {
        assert_eq!(f.status(id), TaskStatus::Submitted);
        f.job_of(id);
        assert_eq!(f.session.results(id).unwrap().attempts.len(), 1);
    }
}

#[tokio::test]
async fn a_submit_refused_for_one_task_of_ten_fails_that_task_only() {
    let f = fixture(&["fake"]);
    f.cluster().plan(BatchPlan {
        refuse: vec![3],
        ..BatchPlan::default()
    });
    let names: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = f.start(&names).await;
    for (i, id) in ids.iter().enumerate() {
        let record = f.session.get(id).unwrap();
        if i == 3 {
            assert_eq!(record.status, TaskStatus::Failed);
            assert_eq!(record.end_state, Some(EndState::SubmitFailed));
            let reason = record.reason.clone().unwrap();
            assert!(reason.contains("invalid account"), "{reason}");
            assert!(reason.contains("exit code 1"), "{reason}");
            assert!(!reason.contains("Some("), "no Rust internals: {reason}");
            let attempts = f.session.results(id).unwrap().attempts;
            assert_eq!(attempts[0].end_state, Some(EndState::SubmitFailed));
        } else {
            assert_eq!(record.status, TaskStatus::Submitted);
            f.job_of(id);
        }
    }
    assert_eq!(f.cluster().state().jobs.len(), 9);
}

#[tokio::test]
async fn a_cancelled_running_job_ends_cancelled_whatever_accounting_calls_it() {
    let f = fixture(&["fake"]);
    let id = f.start(&["long"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().set(n, FakeState::Running);
    f.poll().await;
    assert_eq!(
        f.session.cancel(std::slice::from_ref(&id)).await.unwrap(),
        vec![id.clone()]
    );
    assert_eq!(f.cluster().state().cancelled, vec![n.to_string()]);
    // Still listed as running on the next poll: asked again.
    f.poll().await;
    assert_eq!(f.cluster().state().cancelled.len(), 2);
    // Grid Engine calls a cancelled running job a SIGKILL failure.
    f.cluster().set(
        n,
        FakeState::Ended(JobState::Failed {
            exit_code: Some(137),
        }),
    );
    f.cluster().show(n, false, true);
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.end_state, Some(EndState::Cancelled));
}

#[tokio::test]
async fn a_cancelled_queued_job_with_no_record_ends_cancelled_without_waiting() {
    let f = fixture(&["fake"]);
    let id = f.start(&["queued"]).await.remove(0);
    let n = f.job_of(&id);
    f.session.cancel(std::slice::from_ref(&id)).await.unwrap();
    // Grid Engine keeps no record of a pending job deleted with qdel.
    f.cluster().show(n, false, false);
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(record.end_state, Some(EndState::Cancelled));
    assert!(record.reason.clone().unwrap().contains("at xpr's request"));
}

#[tokio::test]
async fn a_cancel_covers_a_task_caught_mid_submission_and_one_not_yet_submitted() {
    let f = fixture(&["fake"]);
    // The batch ran but the connection dropped before its reply, and the lookup by name
    // failed too: the task is left `submitting` with a job the DB does not know.
    f.cluster().plan(BatchPlan {
        drop_connection: true,
        ..BatchPlan::default()
    });
    f.cluster().state().find_failures = 1;
    let err = f
        .session
        .start(request("caught", "fake"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fake-host"), "{err}");
    let caught = f.session.list(&Default::default()).unwrap()[0].id.clone();
    assert_eq!(f.status(&caught), TaskStatus::Submitting);
    let (n, _) = f.cluster().job_named(caught.as_str());

    // A task that the scheduler never got: lookup finds nothing, back to staged.
    f.cluster().plan(BatchPlan {
        run_only: Some(0),
        reply_records: Some(0),
        ..BatchPlan::default()
    });
    let staged = f.start(&["later"]).await.remove(0);
    assert_eq!(f.status(&staged), TaskStatus::Staged);

    let acted = f
        .session
        .cancel(&[caught.clone(), staged.clone()])
        .await
        .unwrap();
    assert_eq!(acted.len(), 2);
    // The half-submitted job was found by name and cancelled; the staged one never submitted.
    assert_eq!(f.cluster().state().cancelled, vec![n.to_string()]);
    assert_eq!(
        f.session
            .get(&caught)
            .unwrap()
            .scheduler_job_id
            .clone()
            .unwrap()
            .as_str(),
        n.to_string()
    );
    let never = f.session.get(&staged).unwrap();
    assert_eq!(never.status, TaskStatus::Failed);
    assert_eq!(never.end_state, Some(EndState::Cancelled));
    f.cluster().show(n, false, false);
    f.poll().await;
    assert_eq!(
        f.cluster().state().jobs.len(),
        1,
        "nothing more was submitted"
    );
    assert_eq!(
        f.session.get(&caught).unwrap().end_state,
        Some(EndState::Cancelled)
    );
}

#[tokio::test]
async fn one_unreachable_system_does_not_stop_the_poll_of_another() {
    let f = fixture(&["fake", "down"]);
    let up = f.start(&["up"]).await.remove(0);
    let down = f
        .session
        .start(request("down", "down"))
        .await
        .unwrap()
        .record
        .id
        .clone();
    let n = f.job_of(&up);
    f.cluster().complete(n, 0);
    f.clusters[1].state().unreachable = true;
    let report = f.session.poll().await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0.as_str(), "down");
    assert!(report.failed[0].1.to_string().contains("fake-host"));
    assert_eq!(f.status(&up), TaskStatus::Succeeded);
    assert!(report.changed.iter().any(|r| r.id == up));
    assert_eq!(f.status(&down), TaskStatus::Submitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_login_to_one_system_holds_up_no_other_systems_poll() {
    let root = tempfile::tempdir().unwrap();
    // A host whose "network" closes every connection after 1 s: with the default retry
    // policy (3 attempts, 5 s apart) the login takes about 13 s to fail.
    let ssh_config = root.path().join("ssh_config");
    std::fs::write(
        &ssh_config,
        "Host slowhost\n  ProxyCommand sleep 1\n  BatchMode yes\n",
    )
    .unwrap();
    let config = root.path().join("config.json");
    let partitions = json!({"p": {"num_cores": 4, "max_time": "1h"}});
    std::fs::write(
        &config,
        json!({"systems": {
            "fake": {"host": null, "scheduler": "slurm", "partitions": partitions},
            "slow": {"host": "slowhost", "scheduler": "slurm", "partitions": partitions,
                     "remsh_cmd": format!("ssh -F {}", ssh_config.display())},
        }})
        .to_string(),
    )
    .unwrap();
    let loaded = LoadedConfig::from_files(std::slice::from_ref(&config), root.path()).unwrap();
    let session = Session::open(loaded).unwrap();
    let cluster = FakeCluster::default();
    session.set_backend(
        "fake",
        Arc::new(FakeTransport::new(cluster.clone())),
        Arc::new(FakeScheduler),
    );
    let id = session
        .start(request("quick", "fake"))
        .await
        .unwrap()
        .record
        .id
        .clone();
    let (n, _) = cluster.job_named(id.as_str());
    cluster.complete(n, 0);

    let slow = {
        let session = session.clone();
        tokio::spawn(async move { session.driver(&"slow".into()).await.map(drop) })
    };
    // Let the slow login start and take the system's driver cell.
    let started = std::time::Instant::now();
    while !ssh_running(&ssh_config) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "ssh never started"
        );
        tokio::task::yield_now().await;
    }
    session.poll_system("fake").await.unwrap();
    assert_eq!(session.get(&id).unwrap().status, TaskStatus::Succeeded);
    assert!(
        !slow.is_finished(),
        "the other system's poll finished while the slow login was still going on"
    );
    let err = slow.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("slowhost"), "{err}");
}

/// True when an ssh process using `config` runs.
fn ssh_running(config: &std::path::Path) -> bool {
    let needle = config.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn max_queued_keeps_at_most_that_many_jobs_in_the_queue_and_runs_them_all() {
    let f = fakes::fixture_with(&["fake"], json!({"max_queued": 5}));
    let names: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = f.start(&names).await;
    let live = |f: &fakes::Fixture| {
        f.cluster()
            .state()
            .jobs
            .values()
            .filter(|j| !matches!(j.state, FakeState::Ended(_)))
            .count()
    };
    assert_eq!(live(&f), 5, "five in the queue");
    let staged = ids
        .iter()
        .filter(|id| f.status(id) == TaskStatus::Staged)
        .count();
    assert_eq!(staged, 25, "the rest wait in xpr, staged");
    let mut rounds = 0;
    while ids.iter().any(|id| !f.status(id).is_finished()) {
        rounds += 1;
        assert!(rounds < 40, "all 30 finish");
        // Two jobs of the queue end each round.
        let running: Vec<u64> = f
            .cluster()
            .state()
            .jobs
            .iter()
            .filter(|(_, j)| !matches!(j.state, FakeState::Ended(_)))
            .map(|(n, _)| *n)
            .take(2)
            .collect();
        for n in running {
            f.cluster().complete(n, 0);
        }
        f.poll().await;
        assert!(live(&f) <= 5, "never more than five in the queue");
    }
    assert_eq!(f.cluster().state().jobs.len(), 30, "each once");
    assert!(ids.iter().all(|id| f.status(id) == TaskStatus::Succeeded));
}

#[tokio::test]
async fn error_lines_fail_a_clean_exit_only_for_a_task_that_opted_in() {
    let f = fixture(&["fake"]);
    let mut picky = request("picky", "fake");
    picky.spec.error_rules.error_lines_fail = Some(true);
    let picky = f.session.start(picky).await.unwrap().record.id.clone();
    let relaxed = f.start(&["relaxed"]).await.remove(0);
    for id in [&picky, &relaxed] {
        let n = f.job_of(id);
        let dir = f.cluster().state().jobs[&n].dir.clone();
        f.cluster().complete(n, 0);
        std::fs::write(
            dir.join("xpr.stderr"),
            "Traceback (most recent call last):\n  File \"x.py\"\nValueError: bad\n",
        )
        .unwrap();
    }
    f.poll().await;
    let r = f.session.get(&picky).unwrap();
    assert_eq!(r.status, TaskStatus::Failed);
    assert_eq!(r.end_state, Some(EndState::Failed));
    assert_eq!(r.exit_code, Some(0));
    assert!(r.reason.clone().unwrap().contains("error line"), "{r:?}");
    assert_eq!(f.status(&relaxed), TaskStatus::Succeeded);
}

#[tokio::test]
async fn a_systems_own_vanish_timeout_wins_over_the_sessions() {
    let f = fakes::fixture_with(&["fake"], json!({"vanish_timeout": "20s"}));
    let id = f.start(&["ghost"]).await.remove(0);
    let n = f.job_of(&id);
    f.cluster().set(n, FakeState::Running);
    f.poll().await;
    f.cluster().show(n, false, false);
    f.poll().await;
    f.clock.advance(Duration::from_secs(19));
    f.poll().await;
    assert_eq!(f.status(&id), TaskStatus::Started, "19 s: not yet");
    f.clock.advance(Duration::from_secs(1));
    f.poll().await;
    let record = f.session.get(&id).unwrap();
    assert_eq!(
        record.end_state,
        Some(EndState::Vanished),
        "20 s, not 5 min"
    );
    assert!(record.reason.clone().unwrap().contains("20s"), "{record:?}");
}

/// How many status queries a 2.5 s wait on a queued job makes on a system with `extra`.
async fn status_queries_in_a_short_wait(extra: serde_json::Value) -> usize {
    let f = fakes::fixture_with(&["fake"], extra);
    let id = f.start(&["queued"]).await.remove(0);
    let before = f.cluster().count("fake-status");
    let waited = f
        .session
        .wait(std::slice::from_ref(&id), Duration::from_millis(2500))
        .await;
    assert!(waited.is_err(), "the job stays queued: the wait times out");
    f.cluster().count("fake-status") - before
}

#[tokio::test]
async fn a_systems_poll_interval_is_a_floor_under_the_back_off() {
    // The session polls at 1 s at first: twice or more in 2.5 s.
    assert!(status_queries_in_a_short_wait(json!({})).await >= 2);
    // A site that allows one query per 10 minutes gets one.
    assert_eq!(
        status_queries_in_a_short_wait(json!({"poll_interval": "10m"})).await,
        1
    );
}
