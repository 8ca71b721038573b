//! Through the `xpr` binary on the built-in `local` system: a task's name is part of its
//! identity, `--force-rerun` runs an identical task anew, `xpr run` says when it reuses
//! results, and after `reset_status` the old job is history (an attempt), not the current
//! state.

use std::path::PathBuf;
use std::process::{Command, Output};

struct Xpr {
    home: tempfile::TempDir,
    cwd: PathBuf,
}

impl Xpr {
    fn new() -> Xpr {
        let home = tempfile::tempdir().unwrap();
        let cwd = home.path().join("work");
        std::fs::create_dir_all(&cwd).unwrap();
        Xpr { home, cwd }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xpr"))
            .args(args)
            .current_dir(&self.cwd)
            .env("HOME", self.home.path())
            .env_remove("EXPYRE_ROOT")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "xpr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

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
