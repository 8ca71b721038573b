//! The jobs DB exported as one JSON document (`Session::export`, `Export::read`), against the
//! fake cluster (`tests/fakes`): a small DAG with a retried task comes out with its
//! dependencies, attempts and history and matches `schemas/export.schema.json`; the schema
//! lists exactly the code's statuses, end states and dependency kinds; the read is one
//! snapshot while another process writes; the file is written whole, never over a user's
//! file unless asked.

mod fakes;

use std::path::Path;
use std::time::{Duration, SystemTime};

use fakes::{FakeState, Fixture, child, fixture, fixture_with, request, start_all};
use serde_json::Value;
use xpr::db::{Db, DependencyKind, EndState, NewTask, TaskFilter, TaskStatus};
use xpr::ids::{SystemName, TaskId};
use xpr::scheduler::JobState;
use xpr::session::{Export, ExportError, IfExists, Retries};

fn schema_doc() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/export.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let schema = schema_doc();
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    jsonschema::validator_for(&schema)
        .expect("the schema compiles")
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The exported task named `name`.
fn task<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {json:#}"))
}

/// The `to` statuses of a task's history, in order.
fn history_to(task: &Value) -> Vec<&str> {
    task["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect()
}

/// `a` (retried once after a node failure, then succeeding) and `b` after-ok `a`, held by
/// xpr, both run to their ends.
async fn retried_parent_and_child(f: &Fixture) -> (TaskId, TaskId, Vec<u64>) {
    let ids = start_all(
        f,
        vec![
            request("a", "fake").with_retries(Retries::up_to(1)),
            child("b", &[(DependencyKind::AfterOk, "a")]),
        ],
    )
    .await;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let first = f.job_of(&a);
    f.cluster().set(first, FakeState::Ended(JobState::NodeFail));
    f.poll().await;
    assert_eq!(f.status(&a), TaskStatus::Submitted, "retried");
    let second = f.job_of(&a);
    f.cluster().complete(second, 0);
    f.poll().await;
    let third = f.job_of(&b);
    f.cluster().complete(third, 0);
    f.poll().await;
    assert_eq!(f.status(&b), TaskStatus::Succeeded);
    (a, b, vec![first, second, third])
}

#[tokio::test]
async fn an_export_holds_every_task_with_its_attempts_dependencies_and_history() {
    let f = fixture_with(&["fake"], serde_json::json!({"scheduler": "local"}));
    let before = SystemTime::now() - Duration::from_secs(1);
    let (a, b, jobs) = retried_parent_and_child(&f).await;
    let export = f.session.export().unwrap();
    let json = serde_json::to_value(&export).unwrap();

    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
    assert_eq!(json["total"], 2);
    assert_eq!(json["tasks"].as_array().unwrap().len(), 2);
    let at = humantime::parse_rfc3339(json["exported_at"].as_str().unwrap()).unwrap();
    assert!(before <= at && at <= SystemTime::now() + Duration::from_secs(1));
    assert!(json["exported_at"].as_str().unwrap().ends_with('Z'), "UTC");
    assert_eq!(
        json["jobs_db"],
        f.session.stage_root().join("jobs.db").display().to_string()
    );

    let ta = task(&json, "a");
    assert_eq!(ta["id"], a.as_str());
    assert_eq!(ta["status"], "succeeded");
    assert_eq!(ta["attempt"], 2);
    assert_eq!(ta["dependencies"], serde_json::json!([]));
    let attempts = ta["attempts"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str)> = attempts
        .iter()
        .map(|t| {
            (
                t["number"].as_u64().unwrap(),
                t["scheduler_job_id"].as_str().unwrap(),
                t["end_state"].as_str().unwrap(),
            )
        })
        .collect();
    let (first, second) = (jobs[0].to_string(), jobs[1].to_string());
    assert_eq!(
        summary,
        [
            (1, first.as_str(), "node_fail"),
            (2, second.as_str(), "succeeded")
        ]
    );
    let history = history_to(ta);
    assert_eq!(history.first(), Some(&"created"));
    assert_eq!(ta["history"][0]["from"], Value::Null);
    assert_eq!(history.last(), Some(&"succeeded"));
    assert_eq!(
        history.iter().filter(|s| **s == "submitted").count(),
        2,
        "one submission per attempt: {history:?}"
    );
    let times: Vec<f64> = ta["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["at"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(ta["spec"]["spec"]["name"], "a", "the stored spec, as JSON");

    let tb = task(&json, "b");
    assert_eq!(tb["id"], b.as_str());
    assert_eq!(
        tb["dependencies"],
        serde_json::json!([{"parent": a.as_str(), "kind": "after_ok", "native_job": null}])
    );
    assert_eq!(tb["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(tb["attempts"][0]["scheduler_job_id"], jobs[2].to_string());
    let history = history_to(tb);
    assert_eq!(history.first(), Some(&"waiting"), "{history:?}");
    assert_eq!(history.last(), Some(&"succeeded"));

    // The schema is not vacuous: a doctored copy fails it.
    let mut unknown = json.clone();
    unknown["tasks"][0]["surprise"] = Value::from(1);
    assert!(!schema_errors(&unknown).is_empty());
    let mut bad_kind = json.clone();
    let b_at = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["name"] == "b")
        .unwrap();
    bad_kind["tasks"][b_at]["dependencies"][0]["kind"] = Value::from("after_ok_ish");
    assert!(!schema_errors(&bad_kind).is_empty());
    let mut local_time = json;
    local_time["exported_at"] = Value::from("2024-12-16T10:30:00");
    assert!(!schema_errors(&local_time).is_empty());
}

#[tokio::test]
async fn a_dependency_the_scheduler_holds_names_the_parents_job() {
    // The fake systems say `slurm`: the child is submitted at once, held on its parent's job.
    let f = fixture(&["fake"]);
    let ids = start_all(
        &f,
        vec![
            request("a", "fake"),
            child("b", &[(DependencyKind::AfterOk, "a")]),
        ],
    )
    .await;
    let json = serde_json::to_value(f.session.export().unwrap()).unwrap();
    assert!(schema_errors(&json).is_empty());
    assert_eq!(
        task(&json, "b")["dependencies"],
        serde_json::json!([{
            "parent": ids[0].as_str(),
            "kind": "after_ok",
            "native_job": f.job_of(&ids[0]).to_string(),
        }])
    );
    assert_eq!(task(&json, "b")["status"], "submitted");
}

/// The schema names every status, end state and dependency kind the library has, and no
/// other: one added to the code without the schema fails here, not in a user's validator.
#[test]
fn the_export_schema_lists_exactly_the_states_and_kinds_of_the_code() {
    let schema = schema_doc();
    let words = |def: &str| -> Vec<String> {
        schema["$defs"][def]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("$defs.{def}.enum"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    fn spelled<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| word(*v).to_owned()).collect()
    }
    assert_eq!(
        words("status"),
        spelled(&TaskStatus::ALL, TaskStatus::as_str)
    );
    assert_eq!(words("endState"), spelled(&EndState::ALL, EndState::as_str));
    assert_eq!(
        words("dependencyKind"),
        spelled(&DependencyKind::ALL, DependencyKind::as_str)
    );
}

fn new_task(id: &str) -> NewTask {
    NewTask {
        id: TaskId::new(id),
        name: id.to_owned(),
        system: SystemName::new("local"),
        identity: format!("identity-{id}"),
        spec: "{}".to_owned(),
        remote_dir: None,
        local_dir: None,
        sweep: None,
    }
}

/// What `Export::read` relies on: inside one snapshot, a task another process adds (and the
/// history it writes) is not seen; after it, it is.
#[test]
fn reads_in_one_snapshot_see_one_state_while_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let mut writer = Db::open(&path).unwrap();
    writer.create(&new_task("t1")).unwrap();
    let reader = Db::open(&path).unwrap();
    let seen = reader
        .snapshot(|db| {
            let before = db.list(&TaskFilter::default())?.len();
            writer.create(&new_task("t2")).unwrap();
            let after = db.list(&TaskFilter::default())?.len();
            Ok((before, after, db.last_change()?))
        })
        .unwrap();
    assert_eq!((seen.0, seen.1), (1, 1), "one state inside the snapshot");
    assert_eq!(seen.2, 1, "t2's history row is not seen either");
    let export = Export::read(&reader).unwrap();
    assert_eq!(export.total, 2);
    assert_eq!(
        export
            .tasks
            .iter()
            .map(|t| t.summary.id.as_str())
            .collect::<Vec<_>>(),
        ["t1", "t2"]
    );
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_file_is_written_whole_and_never_over_a_users_file_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("jobs.db")).unwrap();
    let mut writer = Db::open(dir.path().join("jobs.db")).unwrap();
    writer.create(&new_task("t1")).unwrap();
    let export = Export::read(&db).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();

    let file = out.join("state.json");
    export.write_to(&file, IfExists::Refuse).unwrap();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, serde_json::to_value(&export).unwrap());
    assert!(schema_errors(&written).is_empty());

    let mine = out.join("mine.json");
    std::fs::write(&mine, "my notes\n").unwrap();
    let err = export.write_to(&mine, IfExists::Refuse).unwrap_err();
    assert!(matches!(err, ExportError::Exists { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&mine.display().to_string()), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes\n");

    export.write_to(&mine, IfExists::Replace).unwrap();
    let replaced: Value = serde_json::from_str(&std::fs::read_to_string(&mine).unwrap()).unwrap();
    assert_eq!(replaced["total"], 1);

    let err = export.write_to(&out, IfExists::Replace).unwrap_err();
    assert!(matches!(err, ExportError::IsDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains(&out.display().to_string()));
    let nowhere = dir.path().join("missing").join("state.json");
    let err = export.write_to(&nowhere, IfExists::Refuse).unwrap_err();
    assert!(matches!(err, ExportError::NoDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains(&nowhere.display().to_string()));

    assert_eq!(
        names_in(&out),
        ["mine.json", "state.json"],
        "no temporary file left behind"
    );
}
