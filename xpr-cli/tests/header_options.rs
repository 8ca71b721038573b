//! A system's say over xpr's own header lines: `directives_skip` (py-cluster-api's) drops
//! the scheduler default and resource lines that hold a substring, never the job name line
//! xpr finds its jobs by after a crash.

mod support;

use support::{Xpr, stderr};

fn archer(extra: &str) -> String {
    format!(
        r#"{{"systems": {{"arch": {{"host": "login.example.org", "scheduler": "slurm",
        "resource_lines": true, {extra}
        "partitions": {{"standard": {{"num_cores": 128, "max_time": "24h", "max_mem": "256GB"}}}}}}}}}}"#
    )
}

fn header(xpr: &Xpr, args: &[&str]) -> Vec<String> {
    let alloc = xpr.json(&[&["nodes", "arch", "--json"], args].concat());
    alloc["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn directives_skip_drops_xprs_own_lines_that_hold_a_substring() {
    let plain = Xpr::new().with_project_config(&archer(""));
    let before = header(&plain, &["--mem", "8GB"]);
    assert!(before.iter().any(|l| l.contains("--mem")), "{before:?}");
    assert!(before.iter().any(|l| l.contains("--output")), "{before:?}");

    let xpr =
        Xpr::new().with_project_config(&archer(r#""directives_skip": ["--mem", "--output"],"#));
    let after = header(&xpr, &["--mem", "8GB"]);
    assert!(
        !after
            .iter()
            .any(|l| l.contains("--mem") || l.contains("--output")),
        "{after:?}"
    );
    assert_eq!(after.len(), before.len() - 2, "{before:?} -> {after:?}");
    assert!(after[0].contains("--job-name="), "{after:?}");
}

#[test]
fn directives_skip_never_drops_the_job_name_and_an_empty_pattern_is_refused() {
    let xpr = Xpr::new().with_project_config(&archer(r#""directives_skip": ["--job-name"],"#));
    let out = xpr.run(&["nodes", "arch"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("directives_skip \"--job-name\"") && err.contains("crash"),
        "{err}"
    );

    let xpr = Xpr::new().with_project_config(&archer(r#""directives_skip": [""],"#));
    let out = xpr.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("systems.arch.directives_skip"),
        "{}",
        stderr(&out)
    );
}
