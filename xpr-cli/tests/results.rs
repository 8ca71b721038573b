//! `xpr results` tells why a task failed without opening its logs: the failure class, exit
//! code, run time and the error lines of its logs, minus the whitelist; `--json` (and
//! `xpr run --json`) match `schemas/results.schema.json`. On the `local` system.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Xpr, stdout};

/// The script of a task that fails like a Python program: a line the system's whitelist
/// covers, a traceback, exit 1.
const FAILING: &str = "echo starting; \
    echo 'warning: this error is harmless, says the admin' >&2; \
    printf 'Traceback (most recent call last):\\n  File \"x.py\", line 3, in <module>\\nValueError: bad input\\n' >&2; \
    exit 1";

/// A project config whose `local` system whitelists the harmless line: it holds 3 of the
/// entry's 4 words, as many as the default threshold asks.
fn xpr() -> Xpr {
    Xpr::new().with_project_config(
        r#"{"systems": {"local": {
            "host": null, "scheduler": "local",
            "partitions": {"local": {"num_cores": 1}},
            "error_whitelist": ["harmless error says site"]
        }}}"#,
    )
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/results.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn schema_errors(doc: &Value) -> Vec<String> {
    schema()
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Runs `script` as task `name` (its exit code is not checked) and returns its id.
fn run(xpr: &Xpr, name: &str, script: &str) -> String {
    xpr.run(&["run", "--name", name, "--", "sh", "-c", script]);
    let listed = xpr.json(&["ls", "--json"]);
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {listed}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn results_name_the_error_lines_of_a_failed_task_but_not_whitelisted_ones() {
    let xpr = xpr();
    let id = run(&xpr, "tb", FAILING);

    let json = xpr.json(&["results", "--json", &id]);
    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
    let analysis = &json["analysis"];
    assert_eq!(analysis["end_state"], "failed");
    assert_eq!(analysis["exit_code"], 1);
    let lines: Vec<(&str, u64, &str)> = analysis["errors"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["file"].as_str().unwrap(),
                l["line"].as_u64().unwrap(),
                l["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("xpr.stderr", 2, "Traceback (most recent call last):"),
            ("xpr.stderr", 4, "ValueError: bad input"),
        ]
    );
    assert_eq!(analysis["errors"]["whitelisted"], 1);
    assert_eq!(analysis["error_lines_fail"], false);
    // The local queue keeps no accounting: the run time comes from the job's own markers.
    assert_eq!(analysis["elapsed_source"], "job_markers");
    assert!(analysis["elapsed_secs"].as_u64().is_some_and(|s| s < 60));
    assert_eq!(analysis["run_dir"], json["local_dir"]);

    let text = xpr.ok(&["results", &id]);
    assert!(
        text.contains(
            "error lines (2, 1 more whitelisted):\n  xpr.stderr:2: Traceback (most recent call \
             last):\n  xpr.stderr:4: ValueError: bad input\n"
        ),
        "{text}"
    );
    assert!(text.contains("elapsed:   0:00:"), "{text}");
}

/// The config's threshold is the one in force: at 4 the harmless line (3 words of the entry)
/// is an error line too.
#[test]
fn a_stricter_threshold_in_the_config_keeps_the_line() {
    let xpr = Xpr::new().with_project_config(
        r#"{"systems": {"local": {
            "host": null, "scheduler": "local",
            "partitions": {"local": {"num_cores": 1}},
            "error_whitelist": ["harmless error says site"],
            "whitelist_threshold": 4
        }}}"#,
    );
    let id = run(&xpr, "tb", FAILING);
    let json = xpr.json(&["results", "--json", &id]);
    let lines = json["analysis"]["errors"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(json["analysis"]["errors"]["whitelisted"], 0);
}

#[test]
fn run_json_of_a_success_matches_the_schema_with_no_error_lines() {
    let xpr = xpr();
    let out = xpr.run(&[
        "run",
        "--json",
        "--name",
        "ok",
        "-o",
        "out.txt",
        "--",
        "sh",
        "-c",
        "echo fine > out.txt",
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
    assert_eq!(json["analysis"]["status"], "succeeded");
    assert_eq!(json["analysis"]["errors"]["lines"], serde_json::json!([]));
    assert_eq!(json["outputs"].as_array().unwrap().len(), 1);
}

/// The schema is not vacuous: what the binary prints passes, a doctored copy does not.
#[test]
fn the_schema_rejects_what_xpr_does_not_print() {
    let xpr = xpr();
    let id = run(&xpr, "tb", FAILING);
    let json = xpr.json(&["results", "--json", &id]);
    assert!(schema_errors(&json).is_empty());
    let mut missing = json.clone();
    missing.as_object_mut().unwrap().remove("analysis");
    assert!(!schema_errors(&missing).is_empty());
    let mut bad_line = json.clone();
    bad_line["analysis"]["errors"]["lines"][0]["line"] = Value::from(0);
    assert!(!schema_errors(&bad_line).is_empty());
    let mut unknown = json;
    unknown["analysis"]["surprise"] = Value::from(1);
    assert!(!schema_errors(&unknown).is_empty());
}
