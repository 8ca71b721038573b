//! `xpr sweep` on the built-in `local` system as a user runs it: a grid of points, each a
//! task with its values in its command and `$XPR_ARGS_FILE`; `ls`/`wait`/`cancel --sweep`;
//! a re-run that submits only what is missing, also after the first run was killed (-9).

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{Xpr, stderr, stdout};

/// `xpr sweep NAME ARGS -- sh -c SCRIPT`: each task writes `{a}-{b}` and its args file to
/// `out.txt`.
fn sweep(xpr: &Xpr, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep", name, "-p", "a=1,2,3", "-p", "b=x,y", "-o", "out.txt",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "--",
        "sh",
        "-c",
        "printf '%s %s\\n' \"$1\" \"$(cat \"$XPR_ARGS_FILE\" | tr -d ' \\n')\" > out.txt",
        "sh",
        "{a}-{b}",
    ]);
    xpr.run(&args)
}

/// `sweep slow -p POINTS --wait -- ...`: each task waits for the file `gate`, then writes
/// its `i` to `out.txt`.
fn slow_sweep<'a>(gate: &'a str, points: &'a str) -> Vec<&'a str> {
    vec![
        "sweep",
        "slow",
        "-p",
        points,
        "--wait",
        "--",
        "sh",
        "-c",
        "while [ ! -e \"$1\" ]; do sleep 0.1; done; echo \"$2\" > out.txt",
        "sh",
        gate,
        "{i}",
    ]
}

fn listing(xpr: &Xpr, name: &str) -> Vec<serde_json::Value> {
    xpr.json(&["ls", "--sweep", name, "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_grid_sweep_packed_into_two_jobs_runs_each_point_and_a_rerun_submits_nothing() {
    let xpr = Xpr::new().env("XPR_LOCAL_CORES", "2");
    let out = sweep(&xpr, "grid", &["--jobs", "2", "--wait"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("sweep grid: 6 points, 6 submitted"),
        "{}",
        stderr(&out)
    );
    let tasks = listing(&xpr, "grid");
    assert_eq!(tasks.len(), 6);
    let mut seen = BTreeSet::new();
    let mut jobs = BTreeSet::new();
    for task in &tasks {
        assert_eq!(task["status"], "succeeded", "{task}");
        let dir = task["local_dir"].as_str().unwrap();
        seen.insert(std::fs::read_to_string(format!("{dir}/out.txt")).unwrap());
        jobs.insert(task["scheduler_job_id"].as_str().unwrap().to_owned());
    }
    let expected: BTreeSet<String> = ["1", "2", "3"]
        .iter()
        .flat_map(|a| ["x", "y"].map(|b| format!("{a}-{b} {{\"a\":{a},\"b\":\"{b}\"}}\n")))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(jobs.len(), 2, "6 tasks in 2 packed jobs: {jobs:?}");
    // The same sweep again: every point has its result; nothing is submitted.
    let again = sweep(&xpr, "grid", &["--jobs", "2"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("6 points, 0 submitted, 6 already have"),
        "{}",
        stderr(&again)
    );
    assert_eq!(listing(&xpr, "grid").len(), 6);
    // Other sweeps' tasks are not listed under this one.
    assert!(listing(&xpr, "other").is_empty());
}

#[test]
fn a_sweep_killed_halfway_is_completed_by_a_rerun_that_submits_only_what_is_missing() {
    let xpr = Xpr::new().env("XPR_LOCAL_CORES", "2");
    // Each task waits for a file the test writes, so the first run is killed mid-way.
    let gate = xpr.home.path().join("gate");
    let gate_word = gate.to_string_lossy().into_owned();
    let mut first = xpr
        .command(&slow_sweep(&gate_word, "i=@range(0,8)"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for("the sweep to be recorded", Duration::from_secs(60), || {
        let out = xpr.run(&["ls", "--sweep", "slow", "--json"]);
        let tasks: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (tasks.as_array()?.len() == 8).then_some(())
    });
    first.kill().unwrap();
    first.wait().unwrap();
    std::fs::write(&gate, b"").unwrap();
    let out = xpr.run(&slow_sweep(&gate_word, "i=@range(0,8)"));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("8 points, 0 submitted, 8 already have"),
        "{}",
        stderr(&out)
    );
    let tasks = listing(&xpr, "slow");
    assert_eq!(tasks.len(), 8, "one task per point, none twice");
    for task in &tasks {
        assert_eq!(task["status"], "succeeded", "{task}");
    }
    // One more point: only it is submitted.
    let more = xpr.run(&slow_sweep(&gate_word, "i=@range(0,9)"));
    assert!(more.status.success(), "{}", stderr(&more));
    assert!(
        stderr(&more).contains("9 points, 1 submitted"),
        "{}",
        stderr(&more)
    );
    assert_eq!(listing(&xpr, "slow").len(), 9);
}

#[test]
fn a_sweep_without_points_is_a_usage_error_naming_the_flags() {
    let xpr = Xpr::new();
    let out = xpr.run(&["sweep", "empty", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("-p NAME=V1,V2"), "{}", stderr(&out));
    let bad = xpr.run(&["sweep", "bad", "-p", "1x=3", "--", "true"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("1x"), "{}", stderr(&bad));
}
