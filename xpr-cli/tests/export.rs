//! `xpr export [FILE]` writes every task of the jobs DB with its dependencies, attempts and
//! history as one JSON document matching `schemas/export.schema.json`, to FILE or stdout; it
//! never replaces an existing file without `--force`, and names the file it cannot write. On
//! the `local` system.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Xpr, stderr, stdout};

fn schema_errors(doc: &Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/export.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    jsonschema::validator_for(&schema)
        .expect("the schema compiles")
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// `sh -c` that fails on its first run and succeeds on the next (the run dir is emptied
/// between attempts, its parent is not).
const FAILS_ONCE: &str = "[ -e ../ran ] || { touch ../ran; exit 1; }";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

/// The document without the time it was taken: two exports of one DB state are equal so.
fn untimed(mut doc: Value) -> Value {
    doc.as_object_mut().unwrap().remove("exported_at");
    doc
}

/// A task retried once (2 attempts) and a child after-ok it, both succeeded.
fn pipeline(xpr: &Xpr) -> (String, String) {
    let out = xpr.run(&[
        "run",
        "--name",
        "flaky",
        "--max-retries",
        "1",
        "--retry-on",
        "failed",
        "--",
        "sh",
        "-c",
        FAILS_ONCE,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = xpr.run(&[
        "run",
        "--name",
        "child",
        "--after-ok",
        "flaky",
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = xpr.json(&["ls", "--json"]);
    let id = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {listed}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    (id("flaky"), id("child"))
}

#[test]
fn export_writes_the_tasks_attempts_dependencies_and_history_matching_the_schema() {
    let xpr = Xpr::new();
    let (flaky, child) = pipeline(&xpr);

    let said = xpr.ok(&["export", "state.json"]);
    assert!(
        said.starts_with("exported 2 task(s) of ") && said.trim_end().ends_with("state.json"),
        "{said}"
    );
    let doc = read_json(&xpr.cwd.join("state.json"));
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    assert_eq!(doc["total"], 2);

    let tasks = doc["tasks"].as_array().unwrap();
    let task = |id: &str| tasks.iter().find(|t| t["id"] == id).unwrap();
    let ends: Vec<&str> = task(&flaky)["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["end_state"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["failed", "succeeded"]);
    assert_eq!(task(&flaky)["status"], "succeeded");
    assert_eq!(
        task(&child)["dependencies"],
        serde_json::json!([{"parent": flaky, "kind": "after_ok", "native_job": null}])
    );
    for id in [&flaky, &child] {
        let history = task(id)["history"].as_array().unwrap();
        assert_eq!(history[0]["from"], Value::Null, "{id} from its creation");
        assert_eq!(history.last().unwrap()["to"], "succeeded", "{id}");
    }

    // No FILE, or `-`: the same document on stdout.
    assert_eq!(untimed(xpr.json(&["export"])), untimed(doc.clone()));
    assert_eq!(untimed(xpr.json(&["export", "-"])), untimed(doc));
}

#[test]
fn export_refuses_to_replace_a_file_without_force_and_names_files_it_cannot_write() {
    let xpr = Xpr::new();
    pipeline(&xpr);
    xpr.write("mine.json", b"my notes\n");

    let out = xpr.run(&["export", "mine.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("export file mine.json already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(
        std::fs::read_to_string(xpr.cwd.join("mine.json")).unwrap(),
        "my notes\n",
        "left as it was"
    );

    xpr.ok(&["export", "--force", "mine.json"]);
    let doc = read_json(&xpr.cwd.join("mine.json"));
    assert!(schema_errors(&doc).is_empty());
    assert_eq!(doc["total"], 2);

    let out = xpr.run(&["export", "nowhere/state.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("export file nowhere/state.json: no directory nowhere"),
        "{}",
        stderr(&out)
    );
    std::fs::create_dir(xpr.cwd.join("out")).unwrap();
    let out = xpr.run(&["export", "out"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("export file out is a directory"),
        "{}",
        stderr(&out)
    );

    let mut names: Vec<String> = std::fs::read_dir(&xpr.cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["mine.json", "out"], "no temporary file left");
}

#[test]
fn export_with_no_jobs_db_says_where_it_looked() {
    let xpr = Xpr::new();
    let out = xpr.run(&["export", "state.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no jobs DB at"), "{}", stderr(&out));
    assert!(!xpr.cwd.join("state.json").exists());
}
