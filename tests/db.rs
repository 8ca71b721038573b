//! The jobs DB through its public API: transitions, history, reuse, filters, migrations, and
//! several processes writing at once.

use std::process::Command;

use xpr::db::{Db, DbError, NewTask, TaskFilter, TaskStatus, TaskUpdate};
use xpr::ids::{SchedulerJobId, SystemName, TaskId};

fn new_task(id: &str, identity: &str) -> NewTask {
    NewTask {
        id: TaskId::new(id),
        name: format!("name-{id}"),
        system: SystemName::new("local"),
        identity: identity.to_owned(),
        spec: "{}".to_owned(),
        remote_dir: None,
        local_dir: None,
        sweep: None,
    }
}

#[test]
fn a_task_moves_through_its_life_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let id = TaskId::new("t1");
    db.create(&new_task("t1", "h1")).unwrap();
    db.transition(
        &id,
        &[TaskStatus::Created],
        TaskStatus::Submitting,
        &TaskUpdate::default(),
    )
    .unwrap();
    let update = TaskUpdate {
        scheduler_job_id: Some(SchedulerJobId::new("123")),
        ..TaskUpdate::default()
    };
    db.transition(
        &id,
        &[TaskStatus::Submitting],
        TaskStatus::Submitted,
        &update,
    )
    .unwrap();
    let done = TaskUpdate {
        exit_code: Some(3),
        end_state: Some(xpr::db::EndState::Failed),
        detail: Some("exit 3".into()),
        ..TaskUpdate::default()
    };
    let record = db
        .transition(&id, &[TaskStatus::Submitted], TaskStatus::Failed, &done)
        .unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.exit_code, Some(3));
    // An update that does not name the job id keeps it.
    assert_eq!(record.scheduler_job_id, Some(SchedulerJobId::new("123")));
    let history: Vec<_> = db.history(&id).unwrap().iter().map(|h| h.to).collect();
    assert_eq!(
        history,
        [
            TaskStatus::Created,
            TaskStatus::Submitting,
            TaskStatus::Submitted,
            TaskStatus::Failed
        ]
    );
}

#[test]
fn a_transition_from_the_wrong_state_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let id = TaskId::new("t1");
    db.create(&new_task("t1", "h1")).unwrap();
    let err = db
        .transition(
            &id,
            &[TaskStatus::Submitting],
            TaskStatus::Submitted,
            &TaskUpdate::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            DbError::WrongState {
                actual: TaskStatus::Created,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("t1 is created, not submitting"),
        "{err}"
    );
    assert_eq!(db.get(&id).unwrap().unwrap().status, TaskStatus::Created);
    assert_eq!(db.history(&id).unwrap().len(), 1);
}

#[test]
fn duplicate_ids_and_missing_tasks_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    db.create(&new_task("t1", "h1")).unwrap();
    let err = db.create(&new_task("t1", "h2")).unwrap_err();
    assert!(matches!(err, DbError::Duplicate { .. }), "{err}");
    let err = db
        .transition(
            &TaskId::new("nope"),
            &[],
            TaskStatus::Failed,
            &TaskUpdate::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("no task nope"), "{err}");
}

#[test]
fn an_identical_task_is_reused_until_processed() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    let (first, reused) = db.create_or_reuse(&new_task("a", "same")).unwrap();
    assert!(!reused);
    let (second, reused) = db.create_or_reuse(&new_task("b", "same")).unwrap();
    assert!(reused);
    assert_eq!(second.id, first.id);
    db.transition(
        &first.id,
        &[],
        TaskStatus::Processed,
        &TaskUpdate::default(),
    )
    .unwrap();
    let (third, reused) = db.create_or_reuse(&new_task("c", "same")).unwrap();
    assert!(!reused);
    assert_eq!(third.id, TaskId::new("c"));
}

#[test]
fn a_batch_reuses_what_can_still_produce_results_and_its_own_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    db.create(&new_task("old", "kept")).unwrap();
    db.create(&new_task("done", "processed")).unwrap();
    db.transition(
        &TaskId::new("done"),
        &[],
        TaskStatus::Processed,
        &TaskUpdate::default(),
    )
    .unwrap();
    // More than one lookup chunk (1,000): the last points are found as well as the first.
    let mut batch: Vec<(NewTask, Vec<_>)> = (0..2500)
        .map(|i| {
            (
                new_task(&format!("p{i}"), &format!("point {i}")),
                Vec::new(),
            )
        })
        .collect();
    batch.push((new_task("again", "kept"), Vec::new()));
    batch.push((new_task("fresh", "processed"), Vec::new()));
    batch.push((new_task("twice", "point 7"), Vec::new()));
    let got = db.create_tasks(&batch, true).unwrap();
    assert_eq!(got.len(), 2503);
    assert!(got[..2500].iter().all(|(_, reused)| !reused));
    assert_eq!(
        got[2500],
        (TaskId::new("old"), true),
        "the older task of that identity"
    );
    assert_eq!(
        got[2501],
        (TaskId::new("fresh"), false),
        "a processed task is not reused"
    );
    assert_eq!(
        got[2502],
        (TaskId::new("p7"), true),
        "a repeat within the batch"
    );
    // Recording the same points again reuses every one of them, the last chunk's too.
    let again: Vec<(NewTask, Vec<_>)> = (0..2500)
        .map(|i| {
            (
                new_task(&format!("q{i}"), &format!("point {i}")),
                Vec::new(),
            )
        })
        .collect();
    let got = db.create_tasks(&again, true).unwrap();
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, (id, reused))| *reused && *id == TaskId::new(format!("p{i}")))
    );
    assert_eq!(
        db.list_summaries(&TaskFilter::default()).unwrap().len(),
        2503
    );
}

#[test]
fn list_filters_by_status_group_name_and_system() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path().join("jobs.db")).unwrap();
    for i in 0..10 {
        db.create(&new_task(&format!("t{i}"), &format!("h{i}")))
            .unwrap();
    }
    for i in 0..4 {
        db.transition(
            &TaskId::new(format!("t{i}")),
            &[],
            TaskStatus::Failed,
            &TaskUpdate::default(),
        )
        .unwrap();
    }
    let ongoing = TaskStatus::parse_group("ongoing").unwrap();
    let filter = TaskFilter::from_patterns(&[], &[], ongoing, &[]).unwrap();
    assert_eq!(db.list(&filter).unwrap().len(), 6);
    let filter =
        TaskFilter::from_patterns(&[], &["name-t[12]".into()], vec![], &["loc.*".into()]).unwrap();
    let names: Vec<_> = db
        .list(&filter)
        .unwrap()
        .into_iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["name-t1", "name-t2"]);
    // Regexps match whole values: `t1` does not match `t10`-like ids partially.
    let filter = TaskFilter::from_patterns(&["t".into()], &[], vec![], &[]).unwrap();
    assert!(db.list(&filter).unwrap().is_empty());
}

#[test]
fn reopening_migrates_nothing_twice_and_a_newer_db_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let mut db = Db::open(&path).unwrap();
    db.create(&new_task("keep", "h")).unwrap();
    let version = db.schema_version().unwrap();
    db.close().unwrap();
    let db = Db::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), version);
    assert!(db.get(&TaskId::new("keep")).unwrap().is_some());
    db.close().unwrap();

    set_user_version(&path, version + 7);
    let err = match Db::open(&path) {
        Err(e) => e,
        Ok(_) => panic!("a DB from a newer xpr must be refused"),
    };
    assert!(matches!(err, DbError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("upgrade xpr"), "{err}");
}

/// Sets `user_version` as a newer xpr would, from outside (the DB's connection is private).
fn set_user_version(path: &std::path::Path, version: u32) {
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version=%d' % int(sys.argv[2])); c.commit()",
        ])
        .arg(path)
        .arg(version.to_string())
        .status()
        .expect("python3 runs");
    assert!(status.success());
}

const WORKERS: usize = 8;
const TASKS_PER_WORKER: usize = 200;

/// Eight processes each create, submit and finish 200 tasks in one DB at once: no row is lost
/// and no "database is locked" error escapes.
#[test]
fn eight_processes_share_one_db_without_losing_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    Db::open(&path).unwrap().close().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            Command::new(&exe)
                .args(["db_worker", "--exact", "--nocapture", "--test-threads=1"])
                .env("XPR_DB_WORKER", format!("{}|{w}", path.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = Db::open(&path).unwrap();
    let all = db.list(&TaskFilter::default()).unwrap();
    assert_eq!(all.len(), WORKERS * TASKS_PER_WORKER);
    assert!(all.iter().all(|r| r.status == TaskStatus::Succeeded));
    for record in all.iter().step_by(97) {
        assert_eq!(db.history(&record.id).unwrap().len(), 4, "{}", record.id);
    }
}

/// The body of one worker process of the test above; does nothing when run normally.
#[test]
fn db_worker() {
    let Ok(spec) = std::env::var("XPR_DB_WORKER") else {
        return;
    };
    let (path, worker) = spec.split_once('|').unwrap();
    let mut db = Db::open(path).unwrap();
    for i in 0..TASKS_PER_WORKER {
        let id = TaskId::new(format!("w{worker}-{i}"));
        db.create(&new_task(id.as_str(), id.as_str())).unwrap();
        db.transition(
            &id,
            &[TaskStatus::Created],
            TaskStatus::Submitting,
            &TaskUpdate::default(),
        )
        .unwrap();
        let update = TaskUpdate {
            scheduler_job_id: Some(SchedulerJobId::new(i.to_string())),
            ..TaskUpdate::default()
        };
        db.transition(
            &id,
            &[TaskStatus::Submitting],
            TaskStatus::Submitted,
            &update,
        )
        .unwrap();
        // Readers interleave with writers, as `xpr ls` does during a run.
        assert!(db.get(&id).unwrap().is_some());
        db.transition(
            &id,
            &[TaskStatus::Submitted],
            TaskStatus::Succeeded,
            &TaskUpdate::default(),
        )
        .unwrap();
    }
    db.close().unwrap();
}
