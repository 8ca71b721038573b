//! Dependencies held in xpr, against the fake cluster (`tests/fakes`): a child waits
//! (`waiting`) until its parents' ends meet its conditions and is then submitted in the same
//! poll, exactly once; a child whose condition can no longer be met ends `never_ran` within
//! the poll that learns it, naming the parent; chains, diamonds, `after_fail`, two systems,
//! cycles and unknown parents. The fake systems here say they run a scheduler without
//! native dependencies (`local`), so xpr holds every child; `engine_native.rs` has the
//! children a scheduler holds.

mod fakes;

use fakes::{Fixture, child, fixture_with, request, start_all};
use xpr::db::{DependencyKind, EndState, TaskStatus};
use xpr::session::TaskRef;

/// Fake systems whose scheduler has no native dependencies: xpr holds the children.
fn fixture(names: &[&str]) -> Fixture {
    fixture_with(names, serde_json::json!({"scheduler": "local"}))
}

#[tokio::test]
async fn a_chain_runs_each_child_once_its_parent_succeeded_in_the_same_poll() {
    let f = fixture(&["fake"]);
    use DependencyKind::AfterOk;
    let ids = start_all(
        &f,
        vec![
            child("c", &[(AfterOk, "b")]),
            child("b", &[(AfterOk, "a")]),
            request("a", "fake"),
        ],
    )
    .await;
    let (c, b, a) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(f.status(a), TaskStatus::Submitted);
    assert_eq!(f.status(b), TaskStatus::Waiting);
    assert_eq!(f.status(c), TaskStatus::Waiting);
    assert_eq!(
        f.cluster().state().jobs.len(),
        1,
        "only the parent is submitted"
    );

    f.poll().await;
    assert_eq!(f.status(b), TaskStatus::Waiting, "a has not ended");
    f.cluster().complete(f.job_of(a), 0);
    f.poll().await;
    assert_eq!(f.status(a), TaskStatus::Succeeded);
    assert_eq!(
        f.status(b),
        TaskStatus::Submitted,
        "released and submitted in that poll"
    );
    assert_eq!(f.status(c), TaskStatus::Waiting);
    f.cluster().complete(f.job_of(b), 0);
    f.poll().await;
    assert_eq!(f.status(c), TaskStatus::Submitted);
    f.cluster().complete(f.job_of(c), 0);
    f.poll().await;
    assert_eq!(f.status(c), TaskStatus::Succeeded);
    assert_eq!(
        f.cluster().state().jobs.len(),
        3,
        "each task exactly one job"
    );
}

#[tokio::test]
async fn a_failed_parents_after_ok_children_never_run_naming_it_within_one_poll() {
    let f = fixture(&["fake"]);
    use DependencyKind::{AfterFail, AfterOk};
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("b", &[(AfterOk, "a")]),
            child("c", &[(AfterOk, "b")]),
            child("on_failure", &[(AfterFail, "a")]),
        ],
    )
    .await;
    let a = &ids[0];
    f.cluster().complete(f.job_of(a), 1);
    f.poll().await;
    for id in &ids[1..3] {
        let r = f.session.get(id).unwrap();
        assert_eq!(r.status, TaskStatus::Failed, "{}", r.name);
        assert_eq!(r.end_state, Some(EndState::NeverRan), "{}", r.name);
    }
    let b = f.session.get(&ids[1]).unwrap();
    let reason = b.reason.clone().unwrap();
    assert!(
        reason.contains(&format!("parent a ({a}) ended failed")),
        "{reason}"
    );
    assert!(reason.contains("after_ok can no longer be met"), "{reason}");
    assert!(
        f.session.results(&ids[1]).unwrap().attempts.is_empty(),
        "never submitted"
    );
    // The after_fail child runs because its parent failed.
    assert_eq!(f.status(&ids[3]), TaskStatus::Submitted);
}

#[tokio::test]
async fn an_after_fail_child_never_runs_when_its_parent_succeeds_and_after_any_always_runs() {
    let f = fixture(&["fake"]);
    use DependencyKind::{AfterAny, AfterFail};
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("if_failed", &[(AfterFail, "a")]),
            child("anyway", &[(AfterAny, "a")]),
        ],
    )
    .await;
    f.cluster().complete(f.job_of(&ids[0]), 0);
    f.poll().await;
    assert_eq!(
        f.session.get(&ids[1]).unwrap().end_state,
        Some(EndState::NeverRan)
    );
    assert_eq!(f.status(&ids[2]), TaskStatus::Submitted);
}

#[tokio::test]
async fn a_diamond_waits_for_both_branches() {
    let f = fixture(&["fake"]);
    use DependencyKind::AfterOk;
    let ids = start_all(
        &f,
        vec![
            request("top", "fake"),
            child("left", &[(AfterOk, "top")]),
            child("right", &[(AfterOk, "top")]),
            child("bottom", &[(AfterOk, "left"), (AfterOk, "right")]),
        ],
    )
    .await;
    f.cluster().complete(f.job_of(&ids[0]), 0);
    f.poll().await;
    f.cluster().complete(f.job_of(&ids[1]), 0);
    f.poll().await;
    assert_eq!(
        f.status(&ids[3]),
        TaskStatus::Waiting,
        "right has not ended"
    );
    f.cluster().complete(f.job_of(&ids[2]), 0);
    f.poll().await;
    assert_eq!(f.status(&ids[3]), TaskStatus::Submitted);
}

#[tokio::test]
async fn a_child_on_another_system_is_released_by_the_polls_of_both() {
    let f = fixture(&["fake", "other"]);
    let a = start_all(&f, vec![request("a", "fake")]).await.remove(0);
    let b = start_all(
        &f,
        vec![request("b", "other").after(DependencyKind::AfterOk, TaskRef::Id(a.clone()))],
    )
    .await
    .remove(0);
    f.cluster().complete(f.job_of(&a), 0);
    // One round of every system with ongoing tasks; the child's system may look before the
    // parent's is recorded, so at most two rounds.
    for _ in 0..2 {
        let report = f.session.poll().await.unwrap();
        assert!(report.failed.is_empty());
    }
    assert_eq!(f.status(&b), TaskStatus::Submitted);
    assert_eq!(f.clusters[1].jobs_named(b.as_str()).len(), 1);
}

#[tokio::test]
async fn cycles_unknown_parents_and_removing_a_parent_are_errors_that_name_them() {
    let f = fixture(&["fake"]);
    use DependencyKind::AfterOk;
    let err = f
        .session
        .start_many(vec![
            child("x", &[(AfterOk, "y")]),
            child("y", &[(AfterOk, "x")]),
        ])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("x, y form a cycle"), "{err}");
    assert!(
        f.session.list(&Default::default()).unwrap().is_empty(),
        "nothing recorded"
    );

    let err = f
        .session
        .start(child("orphan", &[(AfterOk, "nobody")]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("its parent \"nobody\" is neither"), "{err}");

    let ids = start_all(
        &f,
        vec![request("p", "fake"), child("k", &[(AfterOk, "p")])],
    )
    .await;
    let err = f
        .session
        .remove(std::slice::from_ref(&ids[0]), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("is a parent of {}", ids[1])), "{err}");
    // Together (in any order) they go.
    f.session.cancel(&ids).await.unwrap();
    f.session.remove(&ids, false).await.unwrap();
    assert!(f.session.list(&Default::default()).unwrap().is_empty());
}

#[tokio::test]
async fn a_cancelled_waiting_child_is_never_submitted() {
    let f = fixture(&["fake"]);
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("b", &[(DependencyKind::AfterOk, "a")]),
        ],
    )
    .await;
    f.session
        .cancel(std::slice::from_ref(&ids[1]))
        .await
        .unwrap();
    assert_eq!(
        f.session.get(&ids[1]).unwrap().end_state,
        Some(EndState::Cancelled)
    );
    f.cluster().complete(f.job_of(&ids[0]), 0);
    f.poll().await;
    assert_eq!(f.cluster().state().jobs.len(), 1);
}

#[tokio::test]
async fn a_child_on_another_system_takes_its_parents_outputs_as_inputs() {
    let f = fixture(&["fake", "other"]);
    let a = start_all(&f, vec![request("make", "fake")]).await.remove(0);
    let b = f
        .session
        .start(request("use", "other").inputs_from(TaskRef::Id(a.clone()), "*.dat"))
        .await
        .unwrap()
        .record
        .id
        .clone();
    assert_eq!(
        f.status(&b),
        TaskStatus::Waiting,
        "inputs_from waits for its parent"
    );
    let n = f.job_of(&a);
    let dir = f.cluster().state().jobs[&n].dir.clone();
    std::fs::write(dir.join("result.dat"), b"made by a").unwrap();
    std::fs::write(dir.join("notes.txt"), b"not asked for").unwrap();
    f.cluster().complete(n, 0);
    for _ in 0..2 {
        f.session.poll().await.unwrap();
    }
    assert_eq!(f.status(&b), TaskStatus::Submitted);
    let m = *f.clusters[1].jobs_named(b.as_str()).last().unwrap();
    let child_dir = f.clusters[1].state().jobs[&m].dir.clone();
    assert_eq!(
        std::fs::read(child_dir.join("result.dat")).unwrap(),
        b"made by a"
    );
    assert!(!child_dir.join("notes.txt").exists());
    assert!(
        std::fs::read_to_string(child_dir.join("xpr.exit")).is_err(),
        "xpr's own files of the parent are never passed on"
    );
}

#[tokio::test]
async fn a_child_whose_parent_left_nothing_matching_never_runs_saying_so() {
    let f = fixture(&["fake"]);
    let a = start_all(&f, vec![request("empty", "fake")])
        .await
        .remove(0);
    let b = f
        .session
        .start(request("hungry", "fake").inputs_from(TaskRef::Id(a.clone()), "*.dat"))
        .await
        .unwrap()
        .record
        .id
        .clone();
    f.cluster().complete(f.job_of(&a), 0);
    f.poll().await;
    let r = f.session.get(&b).unwrap();
    assert_eq!(r.end_state, Some(EndState::NeverRan));
    assert!(
        r.reason
            .clone()
            .unwrap()
            .contains("nothing matching \"*.dat\""),
        "{r:?}"
    );
}
