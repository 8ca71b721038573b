//! `xpr doctor` on the test bed: every check passes on the Slurm host `xpr-local`; on the
//! misbehaving account `xpr-bad` (tests/testbed/setup.sh: a banner in its login shell and
//! accounting switched off), with a partition the cluster lacks and a run dir it cannot
//! write, each problem is reported with its hint, and `--json` says the same.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};
use support::{Xpr, stderr, stdout};

fn system(bed: &common::Testbed, host: &str, rundir: &str, partitions: Value) -> Value {
    json!({"host": host, "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {}", bed.ssh_config().display()),
        "rundir": rundir, "partitions": partitions})
}

/// `(kind, outcome)` of each check of the one system in a `--json` report.
fn outcomes(report: &Value) -> Vec<(String, String)> {
    report[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_check_passes_on_the_test_beds_slurm() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = Xpr::new();
    let rundir = format!(
        "xpr-doctor-tests/{}",
        xpr.home.path().file_name().unwrap().to_string_lossy()
    );
    let config = json!({"systems": {"bed": system(&bed, "xpr-local", &rundir,
        json!({"debug": {"num_cores": 16, "max_time": null}, "short": {"num_cores": 16, "max_time": "1h"}}))}});
    let xpr = xpr.with_project_config(&config.to_string());
    let out = xpr.run(&["doctor", "bed"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for kind in [
        "config",
        "ssh",
        "shell",
        "scheduler",
        "accounting",
        "rundir",
        "partitions",
        "clock",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("pass") && l.contains(kind)),
            "{kind} did not pass:\n{text}"
        );
    }
    let report = xpr.json(&["doctor", "bed", "--json"]);
    assert!(
        outcomes(&report).iter().all(|(_, o)| o == "pass"),
        "{report}"
    );
    std::process::Command::new("ssh")
        .args([
            "-F",
            bed.ssh_config().to_str().unwrap(),
            "xpr-local",
            &format!("rm -rf -- {rundir}"),
        ])
        .status()
        .unwrap();
}

#[test]
fn a_misbehaving_host_has_each_problem_named_with_its_hint() {
    let Some(bed) = common::Testbed::require("slurm") else {
        return;
    };
    let xpr = Xpr::new();
    // A run dir under a directory only root may write: the test bed's user cannot make it.
    let locked = xpr.home.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(xpr.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let rundir = locked.join("runs");
    let config = json!({"systems": {"bad": system(&bed, "xpr-bad", rundir.to_str().unwrap(),
        json!({"debug": {"num_cores": 16, "max_time": null}, "gpu": {"num_cores": 8, "max_time": "1h"}}))}});
    let xpr = xpr.with_project_config(&config.to_string());

    let out = xpr.run(&["doctor", "bad"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed check exits 1:\n{text}{}",
        stderr(&out)
    );
    let line = |kind: &str| -> String {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} line:\n{text}"))
            .to_owned()
    };
    assert!(line("shell").trim_start().starts_with("fail"), "{text}");
    assert!(
        line("shell").contains("Welcome to the xpr test bed"),
        "{text}"
    );
    assert!(
        line("accounting").trim_start().starts_with("warn"),
        "{text}"
    );
    assert!(
        line("accounting").contains("accounting storage is disabled"),
        "{text}"
    );
    assert!(
        line("partitions").trim_start().starts_with("fail"),
        "{text}"
    );
    assert!(line("partitions").contains("gpu"), "{text}");
    assert!(line("rundir").trim_start().starts_with("fail"), "{text}");
    assert!(line("rundir").contains(rundir.to_str().unwrap()), "{text}");
    assert!(line("scheduler").trim_start().starts_with("pass"), "{text}");
    // Each problem has its hint, on the line after it.
    let hints = text
        .lines()
        .filter(|l| l.trim_start().starts_with("hint:"))
        .count();
    assert_eq!(hints, 4, "{text}");

    let out = xpr.run(&["doctor", "bad", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_kind: std::collections::HashMap<String, String> =
        outcomes(&report).into_iter().collect();
    assert_eq!(by_kind["shell"], "fail");
    assert_eq!(by_kind["accounting"], "warn");
    assert_eq!(by_kind["partitions"], "fail");
    assert_eq!(by_kind["rundir"], "fail");
    assert_eq!(by_kind["scheduler"], "pass");
    let checks = report[0]["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .filter(|c| c["outcome"] != "pass" && c["outcome"] != "skip")
            .all(|c| c["hint"].as_str().is_some_and(|h| !h.is_empty())),
        "{report}"
    );
}

#[test]
fn an_unreachable_host_fails_ssh_and_skips_the_rest() {
    let Some(bed) = common::Testbed::require("ssh") else {
        return;
    };
    let config = json!({"systems": {"gone": {"host": "nobody@127.0.0.1", "scheduler": "slurm",
        "remsh_cmd": format!("ssh -F {} -p 1 -o ConnectTimeout=3", bed.ssh_config().display()),
        "partitions": {"p": {"num_cores": 1}}}}});
    let xpr = Xpr::new().with_project_config(&config.to_string());
    let out = xpr.run(&["doctor", "gone", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes = outcomes(&report);
    assert_eq!(
        outcomes[1],
        ("ssh".to_owned(), "fail".to_owned()),
        "{report}"
    );
    assert!(outcomes[2..].iter().all(|(_, o)| o == "skip"), "{report}");
}
