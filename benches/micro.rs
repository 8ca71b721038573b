//! Micro benchmarks of the "Speed" issue: each measurement next to a baseline measured in the
//! same run, with the ratio and the issue's target.
//!
//! ```text
//! cargo bench --bench micro [-- ls|hash|stage|memory|record|submit ...]   (default: all)
//! ```
//!
//! - `ls`: the release `xpr ls` over a jobs DB of 100,000 tasks (default and `-s ongoing`),
//!   output to a pipe, against `sqlite3` printing the same rows. Target: under 0.2 s.
//! - `hash`: task identity hashing of a 1 GiB input against `sha256sum` on the same file,
//!   page cache warm. Target: at least 0.8x `sha256sum`'s throughput.
//! - `stage`: 1 GB of inputs (big files and many small ones) staged to the test bed host
//!   `xpr-local` over SSH against `tar -c | ssh xpr-local tar -x` with the same files. Target: at
//!   least 0.8x the raw pipe's throughput. Needs the test bed (`tests/testbed/setup.sh`).
//! - `memory`: peak RSS (`VmHWM`) of a process following 10,000 Slurm tasks. Target: under
//!   100 MB.
//! - `record`: recording a 100,000-point sweep in the jobs DB, against one transaction per
//!   task. Target: at least 50,000 tasks a second (see `micro/sweep.rs`).
//! - `submit`: peak RSS and SSH round trips of submitting a 10,000-point sweep (packed and as
//!   arrays) to the test bed's Slurm, against a 1,000-point one. Targets: under 150 MB; round
//!   trips not growing with the number of tasks.
//!
//! The machine is shared and small, so the figures are noisy: each side runs several times,
//! alternating with the other, and medians are compared. Scratch data lives under `/tmp` and is
//! removed at the end of each measurement.

#[path = "micro/common.rs"]
mod common;
#[path = "micro/hash.rs"]
mod hash;
#[path = "micro/ls.rs"]
mod ls;
#[path = "micro/memory.rs"]
mod memory;
#[path = "micro/stage.rs"]
mod stage;
#[path = "micro/sweep.rs"]
mod sweep;

const ALL: [&str; 6] = ["ls", "hash", "stage", "memory", "record", "submit"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(memory::CHILD_ARG) {
        memory::child(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) == Some(sweep::CHILD_ARG) {
        sweep::child(&args[1..]);
        return;
    }
    // `cargo bench` passes `--bench` (and filters as plain words).
    let mut chosen: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    if chosen.is_empty() {
        chosen = ALL.to_vec();
    }
    if let Some(bad) = chosen.iter().find(|c| !ALL.contains(c)) {
        eprintln!(
            "micro: unknown measurement {bad:?} (one of {})",
            ALL.join(", ")
        );
        std::process::exit(2);
    }
    let mut rows = Vec::new();
    for name in chosen {
        let more = match name {
            "ls" => ls::run(),
            "hash" => hash::run(),
            "stage" => stage::run(),
            "record" => sweep::record(),
            "submit" => sweep::submit(),
            _ => memory::run(),
        };
        rows.extend(more);
    }
    common::print_table(&rows);
}
