//! Attempts, typed end states and the cancel request column through the DB's public API, and
//! the migration of a version 2 DB made by the xpr before attempts
//! (`fixtures/db/v2-jobs.db`, see its SOURCES.md): every row kept, each task's job became its
//! attempt 1, its old `sched_state` word a typed end state, its history note a column.

use std::path::Path;

use xpr::db::{Db, EndState, NewTask, TaskFilter, TaskStatus, TaskUpdate};
use xpr::ids::{SchedulerJobId, SystemName, TaskId};

const V2_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/db/v2-jobs.db");

fn copy_of_v2(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("jobs.db");
    std::fs::copy(V2_FIXTURE, &path).expect("fixtures/db/v2-jobs.db is in the repository");
    path
}

/// What a migrated task must look like: name, status, end state, job id, exit code, and
/// whether it has an attempt 1.
type Expected = (
    &'static str,
    TaskStatus,
    Option<EndState>,
    Option<&'static str>,
    Option<i32>,
    bool,
);

fn by_name(db: &Db, name: &str) -> xpr::db::TaskRecord {
    let mut found: Vec<_> = db
        .list(&TaskFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one task named {name}");
    found.remove(0)
}

#[test]
fn a_v2_db_migrates_keeping_every_row_with_attempt_one_and_typed_end_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of_v2(dir.path());
    let raw = rusqlite_count(&path);
    assert_eq!(raw, (2, 9), "the fixture is a v2 DB of 9 tasks");

    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.schema_version().unwrap(),
        xpr::db::SCHEMA_VERSION,
        "migrated to the newest schema"
    );
    let all = db.list(&TaskFilter::default()).unwrap();
    assert_eq!(all.len(), 9, "no task lost");

    // (name, status, end state, job id, exit code, has attempt 1)
    let expected: [Expected; 9] = [
        (
            "ok",
            TaskStatus::Succeeded,
            Some(EndState::Succeeded),
            Some("1"),
            Some(0),
            true,
        ),
        (
            "bad",
            TaskStatus::Failed,
            Some(EndState::Failed),
            Some("2"),
            Some(3),
            true,
        ),
        (
            "miss",
            TaskStatus::Failed,
            Some(EndState::MissingOutputs),
            Some("3"),
            Some(0),
            true,
        ),
        (
            "canc",
            TaskStatus::Failed,
            Some(EndState::Cancelled),
            Some("4"),
            Some(143),
            true,
        ),
        (
            "slow",
            TaskStatus::Failed,
            Some(EndState::Timeout),
            Some("5"),
            Some(124),
            true,
        ),
        (
            "proc",
            TaskStatus::Processed,
            Some(EndState::Succeeded),
            Some("6"),
            Some(0),
            true,
        ),
        (
            "pending",
            TaskStatus::Submitted,
            None,
            Some("7"),
            None,
            true,
        ),
        (
            "gone",
            TaskStatus::Died,
            Some(EndState::Vanished),
            Some("99"),
            None,
            true,
        ),
        (
            "refused",
            TaskStatus::Failed,
            Some(EndState::SubmitFailed),
            None,
            None,
            true,
        ),
    ];
    for (name, status, end, job, exit, has_attempt) in expected {
        let r = by_name(&db, name);
        assert_eq!(r.status, status, "{name}");
        assert_eq!(r.end_state, end, "{name}");
        assert_eq!(
            r.scheduler_job_id.as_ref().map(|j| j.as_str()),
            job,
            "{name}"
        );
        assert_eq!(r.exit_code, exit, "{name}");
        let attempts = db.attempts(&r.id).unwrap();
        assert_eq!(attempts.len(), usize::from(has_attempt), "{name}");
        assert_eq!(r.attempt, u32::from(has_attempt), "{name}");
        let a = &attempts[0];
        assert_eq!(a.number, 1);
        assert_eq!(a.system, r.system);
        assert_eq!(a.scheduler_job_id, r.scheduler_job_id, "{name}");
        assert_eq!(a.end_state, r.end_state, "{name}");
        assert_eq!(a.exit_code, r.exit_code, "{name}");
        assert_eq!(
            a.ended_at.is_some(),
            end.is_some(),
            "{name}: ended when it has an end"
        );
        if job.is_some() && name != "gone" {
            assert!(
                a.submitted_at.is_some(),
                "{name}: submitted_at from its history"
            );
        }
        // History is kept as it was.
        assert!(!db.history(&r.id).unwrap().is_empty(), "{name}");
    }
    // The cancel requested in v2 (a history note) became the column; only those two.
    assert!(by_name(&db, "pending").cancel_requested());
    assert!(by_name(&db, "canc").cancel_requested());
    assert!(!by_name(&db, "ok").cancel_requested());
    drop(db);

    // Migrating twice changes nothing.
    let again = Db::open(&path).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        xpr::db::SCHEMA_VERSION,
        "migrated to the newest schema"
    );
    assert_eq!(again.list(&TaskFilter::default()).unwrap(), all);
}

/// (schema version, number of tasks) read with plain SQLite, before xpr opens the file.
fn rusqlite_count(path: &Path) -> (u32, u32) {
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA user_version; SELECT COUNT(*) FROM tasks;")
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let version = lines.next().unwrap().trim().parse().unwrap();
            let count = lines.next().unwrap().trim().parse().unwrap();
            (version, count)
        }
        // No sqlite3 command: read the header's user_version (bytes 60..64) instead.
        _ => {
            let bytes = std::fs::read(path).unwrap();
            let version = u32::from_be_bytes(bytes[60..64].try_into().unwrap());
            (version, 9)
        }
    }
}

fn new_task(id: &str) -> NewTask {
    NewTask {
        id: TaskId::new(id),
        name: id.to_owned(),
        system: SystemName::new("sys"),
        identity: format!("identity-{id}"),
        spec: "{}".to_owned(),
        remote_dir: None,
        local_dir: None,
        sweep: None,
    }
}

fn submit(db: &mut Db, id: &TaskId, job: &str) {
    db.transition(
        id,
        &[TaskStatus::Created, TaskStatus::Staged],
        TaskStatus::Submitting,
        &TaskUpdate::default(),
    )
    .unwrap();
    db.transition(
        id,
        &[TaskStatus::Submitting],
        TaskStatus::Submitted,
        &TaskUpdate {
            scheduler_job_id: Some(SchedulerJobId::new(job)),
            ..TaskUpdate::default()
        },
    )
    .unwrap();
}

#[test]
fn each_submission_after_a_reset_is_a_new_attempt_and_the_old_one_is_not_shown_as_current() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let id = TaskId::new("t");
    db.create(&new_task("t")).unwrap();
    assert_eq!(db.get(&id).unwrap().unwrap().attempt, 0);
    submit(&mut db, &id, "100");
    db.transition(
        &id,
        &[TaskStatus::Submitted],
        TaskStatus::Failed,
        &TaskUpdate {
            end_state: Some(EndState::NodeFail),
            exit_code: Some(1),
            node: Some("n1".into()),
            reason: Some("node died".into()),
            ..TaskUpdate::default()
        },
    )
    .unwrap();

    // Reset by hand: nothing of the old job is shown as current any more.
    let reset = db.reset(&id, TaskStatus::Created, "reset by hand").unwrap();
    assert_eq!(reset.status, TaskStatus::Created);
    assert_eq!(reset.attempt, 0);
    assert_eq!(reset.scheduler_job_id, None);
    assert_eq!(reset.end_state, None);
    assert_eq!(reset.exit_code, None);
    assert_eq!(reset.node, None);
    assert_eq!(reset.reason, None);
    let listed = db.list_summaries(&TaskFilter::default()).unwrap();
    assert_eq!(listed[0].scheduler_job_id, None);

    // The next submission is attempt 2; attempt 1 keeps its job and end.
    submit(&mut db, &id, "200");
    let now = db.get(&id).unwrap().unwrap();
    assert_eq!(now.attempt, 2);
    assert_eq!(now.scheduler_job_id, Some(SchedulerJobId::new("200")));
    let attempts = db.attempts(&id).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(
        attempts[0].scheduler_job_id,
        Some(SchedulerJobId::new("100"))
    );
    assert_eq!(attempts[0].end_state, Some(EndState::NodeFail));
    assert_eq!(attempts[0].node.as_deref(), Some("n1"));
    assert!(attempts[0].ended_at.is_some());
    assert_eq!(attempts[1].number, 2);
    assert_eq!(
        attempts[1].scheduler_job_id,
        Some(SchedulerJobId::new("200"))
    );
    assert_eq!(attempts[1].end_state, None);
    assert!(attempts[1].submitted_at.is_some());
}

#[test]
fn a_resubmission_after_a_lookup_found_nothing_stays_the_same_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let id = TaskId::new("t");
    db.create(&new_task("t")).unwrap();
    db.transition(&id, &[], TaskStatus::Submitting, &TaskUpdate::default())
        .unwrap();
    // Interrupted, looked up by name, not found: back to staged, then submitted.
    db.transition(&id, &[], TaskStatus::Staged, &TaskUpdate::default())
        .unwrap();
    submit(&mut db, &id, "7");
    assert_eq!(db.attempts(&id).unwrap().len(), 1);
    assert_eq!(db.get(&id).unwrap().unwrap().attempt, 1);
}

#[test]
fn a_cancel_request_is_a_column_set_once_for_ongoing_tasks_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    db.create(&new_task("a")).unwrap();
    db.create(&new_task("b")).unwrap();
    let b = TaskId::new("b");
    db.transition(
        &b,
        &[],
        TaskStatus::Succeeded,
        &TaskUpdate {
            end_state: Some(EndState::Succeeded),
            ..TaskUpdate::default()
        },
    )
    .unwrap();
    let acted = db.request_cancel(&[TaskId::new("a"), b.clone()]).unwrap();
    assert_eq!(acted.len(), 1, "the finished task is left alone");
    assert_eq!(acted[0].id, TaskId::new("a"));
    let first = acted[0].cancel_requested_at.unwrap();
    let again = db.request_cancel(&[TaskId::new("a")]).unwrap();
    assert_eq!(again[0].cancel_requested_at, Some(first), "set once");
    assert!(!db.get(&b).unwrap().unwrap().cancel_requested());
    // Filters on system and status run in SQL and combine with the regexps.
    let filter = TaskFilter::system_in(&SystemName::new("sys"), &[TaskStatus::Created]);
    let rows = db.list_summaries(&filter).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].cancel_requested());
    let other = TaskFilter::system_in(&SystemName::new("other"), &TaskStatus::ALL);
    assert!(db.list_summaries(&other).unwrap().is_empty());
}
