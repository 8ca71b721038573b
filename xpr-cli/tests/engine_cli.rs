//! The engine through the `xpr` binary, on this machine's local queue: a task's name is part
//! of its identity, `--force-rerun` runs an identical task anew, `xpr run` says when it reuses
//! results, after `reset_status` the old job is history (an attempt), not the current state,
//! and `xpr status` reports a system it cannot reach and still shows the others.

mod support;

use support::Xpr;

#[test]
fn the_name_is_part_of_a_tasks_identity_and_force_rerun_runs_it_anew() {
    let xpr = Xpr::new();
    let a = xpr.ok(&["submit", "--name", "a", "--", "echo", "same"]);
    let b = xpr.ok(&["submit", "--name", "b", "--", "echo", "same"]);
    assert_ne!(a.trim(), b.trim(), "--name b is a task of its own");
    assert!(b.trim().starts_with("b_"), "{b}");
    xpr.ok(&["wait", a.trim(), b.trim()]);

    // The same name and command again: reused, and `run` says so.
    let out = xpr.run(&["run", "--name", "a", "--", "echo", "same"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("reusing task {}", a.trim())), "{err}");

    // --force-rerun: a new task.
    let c = xpr.ok(&[
        "submit",
        "--force-rerun",
        "--name",
        "a",
        "--",
        "echo",
        "same",
    ]);
    assert_ne!(c.trim(), a.trim());
    xpr.ok(&["wait", c.trim()]);
    let listed = xpr.json(&["ls", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
}

#[test]
fn after_reset_status_the_old_job_is_an_attempt_not_the_current_state() {
    let xpr = Xpr::new();
    let id = xpr.ok(&["submit", "--name", "r", "--", "sh", "-c", "exit 3"]);
    let id = id.trim();
    let out = xpr.run(&["wait", id]);
    assert_eq!(out.status.code(), Some(5));
    let before = xpr.json(&["results", id, "--json"]);
    assert_eq!(before["end_state"], "failed");
    assert_eq!(before["exit_code"], 3);
    let first_job = before["scheduler_job_id"].clone();
    assert!(first_job.is_string(), "{before}");

    xpr.ok(&["reset_status", id, "--to", "created"]);
    let listed = xpr.json(&["ls", "--json"]);
    let task = &listed[0];
    assert_eq!(task["status"], "created");
    assert!(task["scheduler_job_id"].is_null(), "{task}");
    assert!(task["end_state"].is_null(), "{task}");
    assert!(task["exit_code"].is_null(), "{task}");
    assert_eq!(task["attempt"], 0);

    // The next poll submits it again: attempt 2, attempt 1 kept with its end.
    xpr.run(&["wait", id]);
    let after = xpr.json(&["results", id, "--json"]);
    let attempts = after["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{after}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["scheduler_job_id"], first_job);
    assert_eq!(attempts[0]["end_state"], "failed");
    assert_eq!(attempts[1]["number"], 2);
    assert_ne!(attempts[1]["scheduler_job_id"], first_job);
    let long = xpr.ok(&["ls", "-l"]);
    assert!(long.lines().next().unwrap().contains("ATTEMPT"), "{long}");
    let row = long.lines().nth(1).unwrap();
    assert!(row.split_whitespace().any(|w| w == "2"), "{long}");
}

fn two_systems(far_host: Option<&str>) -> String {
    let system = |host: Option<&str>| {
        serde_json::json!({"host": host, "scheduler": "local",
            "partitions": {"p": {"num_cores": 2, "max_time": "1h"}}})
    };
    serde_json::json!({"systems": {"near": system(None), "far": system(far_host)}}).to_string()
}

#[test]
fn status_names_a_system_it_cannot_reach_and_still_shows_the_others() {
    let xpr = Xpr::new();
    let config = xpr.project_dir().join("config.json");
    std::fs::write(&config, two_systems(None)).unwrap();
    let near = xpr.ok(&[
        "submit",
        "-m",
        "near",
        "--max-time",
        "10m",
        "--",
        "sleep",
        "30",
    ]);
    let far = xpr.ok(&[
        "submit",
        "-m",
        "far",
        "--max-time",
        "10m",
        "--",
        "sleep",
        "31",
    ]);
    let (near, far) = (near.trim(), far.trim());

    // `far` moves to a host that does not resolve.
    std::fs::write(&config, two_systems(Some("far.invalid"))).unwrap();
    let out = xpr.run(&["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with(near)), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with(far)), "{stdout}");
    assert!(
        stderr.contains("system far could not be polled"),
        "{stderr}"
    );
    assert!(stderr.contains("far.invalid"), "{stderr}");

    // Clean up: both jobs run on this machine.
    std::fs::write(&config, two_systems(None)).unwrap();
    xpr.ok(&["cancel", near, far]);
    xpr.run(&["wait", near, far, "--timeout", "60s"]);
}
