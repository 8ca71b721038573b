//! Dependencies the scheduler holds, against the fake cluster (`tests/fakes`): on a system
//! whose scheduler has the kind asked for (the fake systems say `slurm`), a child whose
//! parents have jobs is submitted at once with the scheduler's own dependency line; a parent
//! that fails has its held children cancelled and ended `never_ran` in the poll that sees
//! it; a parent that is retried has its children held again on its new job; a child takes a
//! held parent's outputs on the cluster. What the scheduler lacks (Grid Engine's after-ok, a
//! retried parent's after-any) is held in xpr.

mod fakes;

use fakes::{Fixture, child, fixture, fixture_with, named, request, start_all};
use xpr::db::{DependencyKind, EndState, TaskStatus};
use xpr::ids::TaskId;
use xpr::scheduler::JobState;
use xpr::session::Retries;

use fakes::FakeState;

/// The dependency the fake job of task `id` was submitted with.
fn dependency_of(f: &Fixture, id: &TaskId) -> Option<String> {
    let n = f.job_of(id);
    f.cluster().state().jobs[&n].dependency.clone()
}

#[tokio::test]
async fn a_chain_is_submitted_at_once_each_link_held_on_its_parents_job() {
    let f = fixture(&["fake"]);
    use DependencyKind::AfterOk;
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("b", &[(AfterOk, "a")]),
            child("c", &[(AfterOk, "b")]),
        ],
    )
    .await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    for id in &ids {
        assert_eq!(f.status(id), TaskStatus::Submitted, "{id}");
    }
    assert_eq!(dependency_of(&f, a), None);
    assert_eq!(
        dependency_of(&f, b),
        Some(format!("afterok:{}", f.job_of(a)))
    );
    assert_eq!(
        dependency_of(&f, c),
        Some(format!("afterok:{}", f.job_of(b)))
    );
    // The scheduler runs them in turn; xpr only follows.
    for id in &ids {
        f.cluster().complete(f.job_of(id), 0);
        f.poll().await;
        assert_eq!(f.status(id), TaskStatus::Succeeded, "{id}");
    }
    for id in &ids {
        assert_eq!(f.cluster().jobs_named(id.as_str()).len(), 1, "{id}");
    }
    assert!(f.cluster().state().cancelled.is_empty());
}

#[tokio::test]
async fn a_diamond_waits_natively_on_both_branches() {
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
    let (left, right, bottom) = (&ids[1], &ids[2], &ids[3]);
    let mut branches = vec![f.job_of(left).to_string(), f.job_of(right).to_string()];
    branches.sort();
    let line = dependency_of(&f, bottom).expect("bottom is held");
    let mut held: Vec<String> = line
        .strip_prefix("afterok:")
        .unwrap_or_else(|| panic!("{line}"))
        .split(':')
        .map(String::from)
        .collect();
    held.sort();
    assert_eq!(held, branches, "{line}");
}

#[tokio::test]
async fn a_failed_parents_held_children_are_cancelled_and_never_run_within_one_poll() {
    let f = fixture(&["fake"]);
    use DependencyKind::{AfterFail, AfterOk};
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("b", &[(AfterOk, "a")]),
            child("c", &[(AfterOk, "b")]),
            child("on-fail", &[(AfterFail, "a")]),
        ],
    )
    .await;
    let (a, b, c, on_fail) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    assert_eq!(
        dependency_of(&f, on_fail),
        Some(format!("afternotok:{}", f.job_of(a)))
    );
    let (jb, jc) = (f.job_of(b), f.job_of(c));
    f.cluster().complete(f.job_of(a), 3);
    f.poll().await;
    assert_eq!(f.status(a), TaskStatus::Failed);
    for (id, job) in [(b, jb), (c, jc)] {
        let record = f.session.get(id).unwrap();
        assert_eq!(record.status, TaskStatus::Failed, "{id}");
        assert_eq!(record.end_state, Some(EndState::NeverRan), "{id}");
        assert!(
            f.cluster().state().cancelled.contains(&job.to_string()),
            "the held job {job} of {id} is cancelled, not left pending"
        );
    }
    let reason = f.session.get(b).unwrap().reason.clone().unwrap();
    assert!(
        reason.contains(a.as_str()) && reason.contains("after_ok"),
        "{reason}"
    );
    let reason = f.session.get(c).unwrap().reason.clone().unwrap();
    assert!(reason.contains(b.as_str()), "{reason}");
    // The after_fail child was right to be held: it runs.
    assert_eq!(f.status(on_fail), TaskStatus::Submitted);
    f.cluster().complete(f.job_of(on_fail), 0);
    f.poll().await;
    assert_eq!(f.status(on_fail), TaskStatus::Succeeded);
}

#[tokio::test]
async fn a_retried_parents_child_is_held_again_on_the_new_job() {
    let f = fixture(&["fake"]);
    let ids = start_all(
        &f,
        vec![
            request("a", "fake").with_retries(Retries::up_to(2)),
            child("b", &[(DependencyKind::AfterOk, "a")]),
        ],
    )
    .await;
    let (a, b) = (&ids[0], &ids[1]);
    let (first_a, first_b) = (f.job_of(a), f.job_of(b));
    f.cluster()
        .set(first_a, FakeState::Ended(JobState::NodeFail));
    f.poll().await;
    // In the same poll: a goes again, b's held job is cancelled and b is held on a's new one.
    let second_a = f.job_of(a);
    assert_ne!(second_a, first_a);
    assert_eq!(f.status(a), TaskStatus::Submitted);
    assert!(f.cluster().state().cancelled.contains(&first_b.to_string()));
    assert_eq!(f.status(b), TaskStatus::Submitted);
    assert_eq!(dependency_of(&f, b), Some(format!("afterok:{second_a}")));
    let attempts = f.session.results(b).unwrap().attempts;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].end_state, Some(EndState::NeverRan));
    f.cluster().complete(second_a, 0);
    f.poll().await;
    f.cluster().complete(f.job_of(b), 0);
    f.poll().await;
    assert_eq!(f.status(a), TaskStatus::Succeeded);
    assert_eq!(f.status(b), TaskStatus::Succeeded);
}

#[tokio::test]
async fn an_after_any_child_of_a_parent_that_may_retry_waits_in_xpr() {
    let f = fixture(&["fake"]);
    let ids = start_all(
        &f,
        vec![
            request("a", "fake").with_retries(Retries::up_to(1)),
            child("b", &[(DependencyKind::AfterAny, "a")]),
        ],
    )
    .await;
    let (a, b) = (&ids[0], &ids[1]);
    assert_eq!(f.status(b), TaskStatus::Waiting);
    assert!(f.cluster().jobs_named(b.as_str()).is_empty());
    f.cluster().complete(f.job_of(a), 0);
    f.poll().await;
    assert_eq!(f.status(b), TaskStatus::Submitted);
    assert_eq!(dependency_of(&f, b), None);
}

#[tokio::test]
async fn grid_engine_holds_only_after_any_end() {
    let f = fixture_with(&["fake"], serde_json::json!({"scheduler": "sge"}));
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("any", &[(DependencyKind::AfterAny, "a")]),
            child("ok", &[(DependencyKind::AfterOk, "a")]),
        ],
    )
    .await;
    let (a, any, ok) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(dependency_of(&f, any), Some(f.job_of(a).to_string()));
    assert_eq!(
        f.status(ok),
        TaskStatus::Waiting,
        "Grid Engine has no after-ok"
    );
}

#[tokio::test]
async fn a_held_child_copies_its_parents_outputs_on_the_cluster() {
    let f = fixture(&["fake"]);
    let mut take = child("b", &[]).inputs_from(named("a"), "*.dat");
    take.spec.command = xpr::task::TaskCommand::Argv(
        ["sh", "-c", "cat one.dat two.dat > joined.txt"]
            .map(String::from)
            .to_vec(),
    );
    take.spec.outputs = vec!["joined.txt".into()];
    let none = child("c", &[]).inputs_from(named("a"), "*.missing");
    let ids = start_all(&f, vec![request("a", "fake"), take, none]).await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(
        f.status(b),
        TaskStatus::Submitted,
        "held, not waiting in xpr"
    );
    // a's job writes its outputs in its run dir on the cluster, with xpr's own files.
    let a_job = f.job_of(a);
    let a_dir = f.cluster().state().jobs[&a_job].dir.clone();
    std::fs::write(a_dir.join("one.dat"), "1\n").unwrap();
    std::fs::write(a_dir.join("two.dat"), "2\n").unwrap();
    std::fs::write(a_dir.join("xpr.dat"), "not an output\n").unwrap();
    f.cluster().complete(f.job_of(a), 0);
    // The scheduler starts b and c: their scripts run for real in their run dirs.
    for (id, code) in [(b, 0), (c, 1)] {
        let n = f.job_of(id);
        let dir = f.cluster().state().jobs[&n].dir.clone();
        let out = std::process::Command::new("sh")
            .arg(xpr::session::SCRIPT_FILE)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{id}: {out:?}");
        let result = if code == 0 {
            JobState::Succeeded
        } else {
            JobState::Failed {
                exit_code: Some(code),
            }
        };
        f.cluster().set(n, FakeState::Ended(result));
    }
    f.poll().await;
    assert_eq!(f.status(b), TaskStatus::Succeeded);
    let joined = f.session.get(b).unwrap().local_dir.clone().unwrap();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&joined).join("joined.txt")).unwrap(),
        "1\n2\n"
    );
    let report = f.session.get(c).unwrap();
    assert_eq!(report.status, TaskStatus::Failed);
    let stderr = std::fs::read_to_string(
        std::path::Path::new(report.local_dir.as_deref().unwrap()).join("xpr.stderr"),
    )
    .unwrap();
    assert!(
        stderr.contains("hold nothing matching *.missing") && stderr.contains(a.as_str()),
        "{stderr}"
    );
}
