//! `xpr wait --events` prints each task's events as JSON lines while they happen, so a
//! shell script can react: a pipeline on the `local` system whose first task waits for a
//! file the test writes once it has read that task's `submitted` line; every line matches
//! `schemas/events.schema.json`, and the events name the failure and the task that never ran.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::Xpr;

const DEADLINE: Duration = Duration::from_secs(60);

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/events.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

#[test]
fn wait_events_streams_a_pipelines_events_as_json_lines() {
    let xpr = Xpr::new();
    let go = xpr.cwd.join("go");
    let gate = format!(
        "i=0; while [ ! -e {} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done",
        go.display()
    );
    let a = xpr.ok(&["submit", "--name", "a", "--", "sh", "-c", &gate]);
    let b = xpr.ok(&[
        "submit",
        "--name",
        "b",
        "--after-ok",
        "a",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    let c = xpr.ok(&["submit", "--name", "c", "--after-ok", "b", "--", "true"]);
    let (a, b, c) = (a.trim(), b.trim(), c.trim());

    let mut child = xpr
        .command(&["wait", "--events", a, b, c])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || -> Option<Value> {
        let line = rx.recv_timeout(DEADLINE).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    };
    // Lines come while `a` still waits for the file: nothing has ended yet.
    let mut events = Vec::new();
    loop {
        let event = next().expect("a's submitted line before any end");
        let seen = event["task"] == a && event["event"] == "submitted";
        assert_ne!(event["event"], "ended", "{event}");
        events.push(event);
        if seen {
            break;
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "still waiting");
    std::fs::write(&go, "").unwrap();
    while let Some(event) = next() {
        events.push(event);
    }
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(5),
        "a task failed: xpr wait says so (exit 5)"
    );

    let validator = schema();
    for event in &events {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{event:#}");
    }
    // A poll may or may not catch a short job running: `started` is left out, checked
    // below to come only between its submission and its end.
    let all_kinds = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["task"] == id)
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    };
    let kinds = |id: &str| -> Vec<String> {
        let mut kinds = all_kinds(id);
        kinds.retain(|k| k != "started");
        kinds
    };
    for id in [a, b] {
        let all = all_kinds(id);
        if let Some(i) = all.iter().position(|k| k == "started") {
            assert_eq!(all[i - 1], "submitted", "{all:?}");
            assert_eq!(all[i + 1], "ended", "{all:?}");
        }
    }
    assert_eq!(
        kinds(a),
        ["recorded", "submitted", "ended", "outputs_local"],
        "{events:#?}"
    );
    assert_eq!(
        kinds(b),
        ["recorded", "released", "submitted", "ended"],
        "{events:#?}"
    );
    assert_eq!(kinds(c), ["recorded", "never_ran"], "{events:#?}");
    let ended_b = events
        .iter()
        .find(|e| e["task"] == b && e["event"] == "ended")
        .unwrap();
    assert_eq!(ended_b["end_state"], "failed");
    assert_eq!(ended_b["exit_code"], 3);
    let never = events
        .iter()
        .find(|e| e["task"] == c && e["event"] == "never_ran")
        .unwrap();
    assert!(never["reason"].as_str().unwrap().contains(b), "{never}");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
}
