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

/// `sh -c` counting its runs in `../counter` (the run dir is emptied between attempts):
/// fails until run `succeed_at`.
fn counting(succeed_at: u32) -> String {
    format!(
        "n=$(cat ../counter 2>/dev/null || echo 0); n=$((n+1)); echo $n > ../counter; \
         echo \"attempt $n\"; [ $n -ge {succeed_at} ]"
    )
}

#[test]
fn run_retries_a_failing_command_and_keeps_each_attempts_logs() {
    let xpr = Xpr::new();
    let script = counting(3);
    let out = xpr.run(&[
        "run",
        "--name",
        "lucky",
        "--max-retries",
        "2",
        "--retry-on",
        "failed",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "attempt 3\n");
    let id = xpr.json(&["ls", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let results = xpr.json(&["results", &id, "--json"]);
    let ends: Vec<&str> = results["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["end_state"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["failed", "failed", "succeeded"]);
    for n in 1..=3 {
        let logs = xpr.ok(&["logs", &id, "--attempt", &n.to_string()]);
        assert_eq!(logs, format!("attempt {n}\n"));
    }
    let out = xpr.run(&["logs", &id, "--attempt", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 3 attempt(s)"));
}

#[test]
fn retry_by_hand_runs_a_failed_task_again_and_bad_retry_flags_are_usage_errors() {
    let xpr = Xpr::new();
    let script = counting(2);
    let out = xpr.run(&["run", "--name", "once", "--", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(1));
    let id = xpr.json(&["ls", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let said = xpr.ok(&["retry", &id]);
    assert!(
        said.starts_with(&format!("retried: {id} (attempt 2")),
        "{said}"
    );
    xpr.ok(&["wait", &id]);
    assert_eq!(xpr.ok(&["logs", &id]), "attempt 2\n");
    assert_eq!(xpr.ok(&["logs", &id, "--attempt", "1"]), "attempt 1\n");

    for (flag, value, says) in [
        ("--retry-on", "cancelled", "a cancel is never retried"),
        ("--retry-on", "bogus", "not an end state"),
        ("--retry-time-factor", "0.5", "must be a number above 1"),
    ] {
        let out = xpr.run(&["submit", flag, value, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}

#[test]
fn a_pipeline_of_three_runs_in_order_passing_outputs_and_a_failed_step_stops_the_rest() {
    let xpr = Xpr::new();
    xpr.ok(&[
        "submit",
        "--name",
        "make",
        "-o",
        "n.txt",
        "--",
        "sh",
        "-c",
        "echo 20 > n.txt",
    ]);
    let double = xpr.ok(&[
        "submit",
        "--name",
        "double",
        "--input-from",
        "make:n.txt",
        "-o",
        "m.txt",
        "--",
        "sh",
        "-c",
        "echo $(( $(cat n.txt) * 2 )) > m.txt",
    ]);
    let show = xpr.ok(&[
        "submit",
        "--name",
        "show",
        "--input-from",
        "double:m.txt",
        "--",
        "cat",
        "m.txt",
    ]);
    let listed = xpr.json(&["ls", "--json", "-n", "show"]);
    assert_eq!(listed[0]["status"], "waiting");
    // Waiting for the last one follows its parents too.
    xpr.ok(&["wait", show.trim()]);
    assert_eq!(xpr.ok(&["logs", show.trim()]), "40\n");
    assert_eq!(
        xpr.json(&["results", double.trim(), "--json"])["status"],
        "succeeded"
    );

    xpr.ok(&["submit", "--name", "broken", "--", "false"]);
    let after = xpr.ok(&[
        "submit",
        "--name",
        "after",
        "--after-ok",
        "broken",
        "--",
        "true",
    ]);
    let out = xpr.run(&["wait", after.trim()]);
    assert_eq!(out.status.code(), Some(5));
    let r = xpr.json(&["results", after.trim(), "--json"]);
    assert_eq!(r["end_state"], "never_ran");
    assert!(
        r["reason"].as_str().unwrap().contains("parent broken"),
        "{r}"
    );

    let out = xpr.run(&["submit", "--input-from", "nocolon", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
}
