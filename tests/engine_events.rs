//! Events against the fake cluster (`tests/fakes`): a pipeline whose first task is retried
//! after a node failure, whose second fails and whose third therefore never runs hands each
//! task's events over in order, exactly once, with the job, the end class and the reason;
//! events made by another session over the same jobs DB are seen too; callbacks fire once
//! per task end, never for a retried attempt.

mod fakes;

use std::sync::{Arc, Mutex};

use fakes::{FakeState, Fixture, child, fixture_with, request, start_all};
use xpr::db::{DependencyKind, EndState};
use xpr::ids::TaskId;
use xpr::scheduler::JobState;
use xpr::session::{Callbacks, EventKind, EventsFrom, Retries, TaskEvent};

/// Fake systems without native dependencies: xpr releases the children (a `released` event).
fn fixture() -> Fixture {
    fixture_with(&["fake"], serde_json::json!({"scheduler": "local"}))
}

/// Runs the pipeline `a` (node failure, then success) -> `b` (exit 2) -> `c` to its end
/// with polls of `f`; returns the three ids.
async fn run_pipeline(f: &Fixture) -> Vec<TaskId> {
    use DependencyKind::AfterOk;
    let ids = start_all(
        f,
        vec![
            request("a", "fake").with_retries(Retries::up_to(1)),
            child("b", &[(AfterOk, "a")]),
            child("c", &[(AfterOk, "b")]),
        ],
    )
    .await;
    let first = f.job_of(&ids[0]);
    f.cluster().set(first, FakeState::Running);
    f.poll().await;
    f.cluster().set(first, FakeState::Ended(JobState::NodeFail));
    f.poll().await;
    f.cluster().complete(f.job_of(&ids[0]), 0);
    f.poll().await;
    f.cluster().complete(f.job_of(&ids[1]), 2);
    f.poll().await;
    ids
}

/// Every event of `ids` from their recording on, as `wait_observed` hands them over.
async fn observed(f: &Fixture, ids: &[TaskId]) -> Vec<TaskEvent> {
    let mut events = Vec::new();
    let mut collect = |e: &TaskEvent| events.push(e.clone());
    f.session
        .wait_observed(Some(ids), None, EventsFrom::Recorded, &mut collect)
        .await
        .unwrap();
    events
}

fn of<'a>(events: &'a [TaskEvent], id: &TaskId) -> Vec<&'a EventKind> {
    events
        .iter()
        .filter(|e| &e.task == id)
        .map(|e| &e.kind)
        .collect()
}

#[tokio::test]
async fn a_pipeline_hands_over_each_tasks_events_in_order_once() {
    let f = fixture();
    let ids = run_pipeline(&f).await;
    let events = observed(&f, &ids).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "in order: {seqs:?}");

    let a = of(&events, &ids[0]);
    let a_ids: Vec<u32> = events
        .iter()
        .filter(|e| e.task == ids[0])
        .map(|e| e.attempt)
        .collect();
    assert!(
        matches!(
            a.as_slice(),
            [
                EventKind::Recorded { waiting: false },
                EventKind::Submitted { job: Some(_) },
                EventKind::Started { .. },
                EventKind::Retried {
                    end_state: Some(EndState::NodeFail),
                    ..
                },
                EventKind::Submitted { job: Some(_) },
                EventKind::Ended {
                    end_state: Some(EndState::Succeeded),
                    exit_code: Some(0),
                    ..
                },
                EventKind::OutputsLocal { .. },
            ]
        ),
        "{a:#?}"
    );
    assert_eq!(a_ids, vec![0, 1, 1, 1, 2, 2, 2], "attempt of each event");
    // Each submission names the job the scheduler has for that attempt.
    let jobs: Vec<String> = events
        .iter()
        .filter(|e| e.task == ids[0])
        .filter_map(|e| match &e.kind {
            EventKind::Submitted { job } => job.as_ref().map(|j| j.to_string()),
            _ => None,
        })
        .collect();
    let attempts = f.session.results(&ids[0]).unwrap().attempts;
    let expected: Vec<String> = attempts
        .iter()
        .map(|a| a.scheduler_job_id.clone().unwrap().to_string())
        .collect();
    assert_eq!(jobs, expected);

    let b = of(&events, &ids[1]);
    assert!(
        matches!(
            b.as_slice(),
            [
                EventKind::Recorded { waiting: true },
                EventKind::Released,
                EventKind::Submitted { .. },
                EventKind::Ended {
                    end_state: Some(EndState::Failed),
                    exit_code: Some(2),
                    ..
                },
            ]
        ),
        "{b:#?}"
    );
    let c = of(&events, &ids[2]);
    match c.as_slice() {
        [
            EventKind::Recorded { waiting: true },
            EventKind::NeverRan {
                reason: Some(reason),
            },
        ] => assert!(reason.contains(ids[1].as_str()), "{reason}"),
        other => panic!("{other:#?}"),
    }
}

#[tokio::test]
async fn events_after_a_number_are_only_the_new_ones_also_from_another_session() {
    let f = fixture();
    let ids = start_all(&f, vec![request("one", "fake")]).await;
    let mark = f.session.last_event().await.unwrap();
    // Another process (here another session over the same DB) cancels the task.
    let other = f.reopen();
    other.cancel(&ids).await.unwrap();
    let n = f.job_of(&ids[0]);
    f.cluster().set(n, FakeState::Ended(JobState::Cancelled));
    f.poll().await;
    let mut events = Vec::new();
    let mut collect = |e: &TaskEvent| events.push(e.clone());
    f.session
        .wait_observed(Some(&ids), None, EventsFrom::After(mark), &mut collect)
        .await
        .unwrap();
    let kinds = of(&events, &ids[0]);
    assert!(
        matches!(
            kinds.as_slice(),
            [
                EventKind::CancelRequested,
                EventKind::Ended {
                    end_state: Some(EndState::Cancelled),
                    ..
                }
            ]
        ),
        "{kinds:#?}"
    );
    assert!(events.iter().all(|e| e.seq > mark));
    let all = f.session.events(0, 100).await.unwrap();
    assert_eq!(
        all.iter().filter(|e| e.seq > mark).count(),
        events.len(),
        "the same events, read back"
    );
}

#[tokio::test]
async fn callbacks_fire_once_per_task_end_never_for_a_retried_attempt() {
    let f = fixture();
    let ids = run_pipeline(&f).await;
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = |what: &'static str| {
        let calls = calls.clone();
        Some(
            Box::new(move |e: &TaskEvent| calls.lock().unwrap().push(format!("{what} {}", e.name)))
                as xpr::session::Callback,
        )
    };
    let mut callbacks = Callbacks {
        on_success: log("success"),
        on_failure: log("failure"),
        on_exit: log("exit"),
    };
    f.session
        .wait_observed(Some(&ids), None, EventsFrom::Recorded, &mut callbacks)
        .await
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        vec![
            "success a",
            "exit a",
            "failure b",
            "exit b",
            "failure c",
            "exit c"
        ]
    );
}
