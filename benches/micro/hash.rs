//! Input hashing: the task identity of a task with one 1 GiB input file against `sha256sum` on
//! the same file, page cache warm for both.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use xpr::stage::plan_inputs;
use xpr::task::{TaskSpec, task_identity};

use crate::common::{Row, Scratch, mb_per_s, median, timed, write_random};

/// Size of the hashed file.
const SIZE: u64 = 1 << 30;
/// Runs of each; the median is reported.
const RUNS: usize = 5;
/// The target: at least this fraction of `sha256sum`'s throughput.
const TARGET: f64 = 0.8;

fn sha256sum(path: &Path) -> Duration {
    let (took, out) = timed(|| {
        Command::new("sha256sum")
            .arg(path)
            .output()
            .expect("cannot run sha256sum")
    });
    assert!(out.status.success(), "sha256sum failed");
    took
}

fn identity(base: &Path) -> Duration {
    let (took, id) = timed(|| {
        let mut spec = TaskSpec::argv("hash", ["true"]);
        spec.inputs = vec!["input.bin".into()];
        let entries = plan_inputs(base, &spec.inputs).expect("planning the input");
        task_identity(&spec, &entries).expect("hashing the input")
    });
    assert_eq!(id.len(), 64);
    took
}

/// The `hash` rows of the table.
pub fn run() -> Vec<Row> {
    let scratch = Scratch::new("hash");
    let file = scratch.path().join("input.bin");
    eprintln!("hash: writing {} MiB of test data", SIZE >> 20);
    write_random(&file, SIZE, 1);
    // Warm the page cache for both sides (the file was just written; read it once anyway).
    sha256sum(&file);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        theirs.push(sha256sum(&file));
        ours.push(identity(scratch.path()));
    }
    let (ours, theirs) = (
        mb_per_s(SIZE, median(&mut ours)),
        mb_per_s(SIZE, median(&mut theirs)),
    );
    let ratio = ours / theirs;
    vec![Row {
        measure: "input hashing, 1 GiB file (task_identity)".to_owned(),
        xpr: format!("{ours:.0} MB/s"),
        baseline: format!("{theirs:.0} MB/s (sha256sum)"),
        ratio: format!("{ratio:.2}x sha256sum"),
        target: format!(">= {TARGET}x"),
        pass: Some(ratio >= TARGET),
    }]
}
