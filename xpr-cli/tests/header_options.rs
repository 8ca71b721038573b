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

#[test]
fn job_name_prefix_names_the_job_and_a_bad_prefix_is_refused() {
    let xpr = Xpr::new().with_project_config(&archer(r#""job_name_prefix": "proj-","#));
    let lines = header(&xpr, &[]);
    assert_eq!(lines[0], "#SBATCH --job-name=proj-JOB_ID", "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "#SBATCH --output=job.JOB_ID.stdout"),
        "{lines:?}"
    );

    let xpr = Xpr::new().with_project_config(&archer(r#""job_name_prefix": "-x y","#));
    let out = xpr.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("systems.arch.job_name_prefix"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_prefixed_job_runs_end_to_end_on_a_local_scheduler() {
    let xpr = Xpr::new().with_project_config(
        r#"{"systems": {"mine": {"host": null, "scheduler": "local", "job_name_prefix": "proj-",
            "partitions": {"here": {"num_cores": 1, "max_time": null, "max_mem": null}}}}}"#,
    );
    let out = xpr.run(&["run", "-m", "mine", "--", "echo", "prefixed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(support::stdout(&out), "prefixed\n");
}
