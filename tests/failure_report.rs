//! Failure analysis on REAL job output: a task on the test bed's Slurm, over SSH, that fails
//! like a Python program (a real `python3` traceback, exit 1) after a line the system's
//! whitelist covers; [`Session::failure_report`] names the traceback's lines with file and
//! line number, leaves the whitelisted one out, and matches the `analysis` part of
//! `schemas/results.schema.json`.

mod common;
mod life_support;

use std::path::Path;
use std::time::Duration;

use common::Testbed;
use life_support::{Bed, one_core};
use serde_json::{Value, json};
use xpr::db::{EndState, TaskStatus};
use xpr::session::{FigureSource, StartRequest};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(240);

/// The `analysis` object of `schemas/results.schema.json` as a schema of its own.
fn analysis_schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/results.schema.json");
    let full: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let part = json!({
        "$schema": full["$schema"],
        "$defs": full["$defs"],
        "$ref": "#/$defs/analysis",
    });
    jsonschema::validator_for(&part).expect("the schema compiles")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slurm_traceback_is_reported_and_whitelisted_noise_is_not() {
    let Some(tb) = Testbed::require("slurm") else {
        return;
    };
    let bed = Bed::new(
        Some(&tb),
        json!({
            "slurm": {
                "host": "xpr-local", "scheduler": "slurm",
                "partitions": {"debug": {"num_cores": 16, "max_time": null, "max_mem": null}},
                "error_whitelist": ["harmless site banner"]
            }
        }),
    );
    let session = bed.session(Duration::from_secs(120));
    let mut spec = TaskSpec::argv(
        "pyfail",
        [
            "sh",
            "-c",
            "echo 'error: harmless site banner, please ignore' >&2; \
             echo 'checkpoint lost at step 3'; \
             exec python3 -c 'raise ValueError(\"bad input\")'",
        ],
    );
    // The task's own pattern adds to the defaults and the system's whitelist.
    spec.error_rules.error_patterns = vec!["^checkpoint lost".into()];
    let started = session
        .start(StartRequest::new(spec, "slurm", one_core()))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let done = session.wait(std::slice::from_ref(&id), DEADLINE).await;
    if done.is_err() {
        let _ = session.cancel(std::slice::from_ref(&id)).await;
    }
    let done = done.unwrap();
    assert_eq!(done[0].status, TaskStatus::Failed, "{:?}", done[0]);

    let report = session.failure_report(&id).unwrap();
    assert_eq!(report.end_state, Some(EndState::Failed));
    assert_eq!(report.exit_code, Some(1));
    assert_eq!(report.scheduler_job_id, done[0].scheduler_job_id);
    assert!(report.run_dir.join("xpr.stderr").is_file());
    let lines: Vec<(&str, Option<u64>, &str)> = report
        .errors
        .lines
        .iter()
        .map(|l| (l.file.as_str(), l.line, l.text.as_str()))
        .collect();
    // Python's own traceback: the header, the frame line (`File "<string>", line 1`) is no
    // error line, the exception is.
    assert_eq!(
        lines,
        [
            ("xpr.stderr", Some(2), "Traceback (most recent call last):"),
            ("xpr.stderr", Some(4), "ValueError: bad input"),
            ("xpr.stdout", Some(1), "checkpoint lost at step 3"),
        ],
        "{report:#?}"
    );
    assert_eq!(report.errors.whitelisted, 1, "the site banner");
    assert!(!report.error_lines_fail);
    let stderr_log = report
        .errors
        .logs
        .iter()
        .find(|l| l.file == "xpr.stderr")
        .unwrap();
    assert_eq!(stderr_log.read_from, 0);
    // Slurm's own log of the job is scanned too (empty for a plain exit 1).
    assert!(
        report
            .errors
            .logs
            .iter()
            .any(|l| l.file == format!("job.{id}.stderr")),
        "{:?}",
        report.errors.logs
    );
    // A job that exited non-zero is asked of Slurm's accounting: its run time and words.
    assert_eq!(report.elapsed_source, Some(FigureSource::Accounting));
    assert!(report.elapsed_secs.is_some_and(|s| s < 120), "{report:?}");
    let words = report.scheduler_reason.clone().unwrap_or_default();
    assert!(words.contains("FAILED"), "{report:?}");

    let value = serde_json::to_value(&report).unwrap();
    let errors: Vec<String> = analysis_schema()
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
    session.clean(&[id]).await.unwrap();
    session.close().await.unwrap();
}
