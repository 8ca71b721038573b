//! What every measurement shares: the results table, timing helpers, scratch space, test data
//! and the test bed's endpoints.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One line of the results table.
pub struct Row {
    /// What was measured.
    pub measure: String,
    /// xpr's figure, with its unit.
    pub xpr: String,
    /// The baseline's figure, measured in the same run.
    pub baseline: String,
    /// xpr relative to the baseline, as the target states it.
    pub ratio: String,
    /// The target, as the issue states it.
    pub target: String,
    /// Whether the target is met; `None` for figures given for information only.
    pub pass: Option<bool>,
}

/// Prints the table: one row per measurement, aligned.
pub fn print_table(rows: &[Row]) {
    let header = ["measure", "xpr", "baseline", "ratio", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.measure.clone(),
                r.xpr.clone(),
                r.baseline.clone(),
                r.ratio.clone(),
                r.target.clone(),
                match r.pass {
                    Some(true) => "PASS".to_owned(),
                    Some(false) => "FAIL".to_owned(),
                    None => "info".to_owned(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&header);
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&rules.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &cells {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs `f` and returns how long it took and what it returned.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed(), value)
}

/// Seconds with three decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Megabytes (10^6 bytes) per second of `bytes` moved in `d`.
pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// A scratch directory under `/tmp`, removed (with its gigabytes) when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh scratch directory named after `what`.
    pub fn new(what: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("xpr-bench-{what}-"))
            .tempdir_in("/tmp")
            .expect("cannot create a scratch dir in /tmp");
        Scratch { dir }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `len` bytes of incompressible pseudo-random data to `path` (xorshift: fast enough
/// that making a gigabyte costs about a second, and no compression can shortcut a transfer).
pub fn write_random(path: &Path, len: u64, seed: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("creating test data dir");
    }
    let mut out =
        BufWriter::with_capacity(1 << 20, File::create(path).expect("creating test data"));
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut block = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).expect("writing test data");
        left -= n as u64;
    }
    out.flush().expect("writing test data");
}

/// The test bed's endpoints (`$XPR_TESTBED_ENV`, default `/tmp/xpr-testbed/env.sh`), or why
/// they are not there.
pub fn testbed_env() -> Result<HashMap<String, String>, String> {
    let path = std::env::var_os("XPR_TESTBED_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/xpr-testbed/env.sh"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {} ({e}); start the test bed with tests/testbed/setup.sh",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// The workspace root (where `Cargo.toml` and `target/` are).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tokio runtime with two workers (the machine's cores), as the library's users would run.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("starting the async runtime")
}

/// Peak resident memory of this process so far, in kB (`VmHWM`).
pub fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Runs this bench binary again as a measuring child (`CHILD_ARG ARGS...`) and returns the
/// `key value` lines it printed.
pub fn run_child(child_arg: &str, args: &[&std::ffi::OsStr]) -> HashMap<String, f64> {
    let exe = std::env::current_exe().expect("this bench's path");
    let out = std::process::Command::new(exe)
        .arg(child_arg)
        .args(args)
        .output()
        .expect("running the child");
    assert!(
        out.status.success(),
        "child {child_arg} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("a number")))
        .collect()
}
