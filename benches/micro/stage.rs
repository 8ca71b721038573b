//! Staging 1 GB of inputs (four 200 MB files and 2,000 files of 100 kB) to the test bed host
//! `xpr-local` over SSH, against `tar -c | ssh xpr-local tar -x` with the same files.
//!
//! xpr's side is the session's staging path through the public API: the inputs planned by
//! [`plan_inputs`], packed by [`write_tar`] under `run_<id>/`, and streamed through one
//! [`SshTransport`] (its ControlMaster connection) into the session's [`STAGE_PROGRAM`]. Two
//! forms are timed: through a scratch tar file first (what `Session` did before this bench),
//! and streamed straight from the packer ([`xpr::stage::TarStream`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use xpr::command::CommandSpec;
use xpr::session::protocol::STAGE_PROGRAM;
use xpr::stage::{StageDir, plan_inputs, write_tar};
use xpr::transport::{RemoteShell, SshTarget, SshTransport, Transport, check_success};

use crate::common::{Row, Scratch, mb_per_s, median, runtime, testbed_env, timed, write_random};

/// Big input files and their size.
const BIG: (usize, u64) = (4, 200_000_000);
/// Small input files and their size.
const SMALL: (usize, u64) = (2_000, 100_000);
/// Runs of each form; the median is reported.
const RUNS: usize = 3;
/// The target: at least this fraction of the raw pipe's throughput.
const TARGET: f64 = 0.8;

fn total_bytes() -> u64 {
    BIG.0 as u64 * BIG.1 + SMALL.0 as u64 * SMALL.1
}

/// Writes the inputs under `dir`: `big_N.bin` and `small/fNNNN.bin`.
fn make_inputs(dir: &Path) {
    for i in 0..BIG.0 {
        write_random(&dir.join(format!("big_{i}.bin")), BIG.1, 10 + i as u64);
    }
    for i in 0..SMALL.0 {
        write_random(
            &dir.join("small").join(format!("f{i:04}.bin")),
            SMALL.1,
            100 + i as u64,
        );
    }
}

/// Runs a shell line on `xpr-local` with plain ssh (setup and clean-up, not timed).
fn ssh(config: &str, line: &str) -> String {
    let out = Command::new("ssh")
        .args(["-F", config, "xpr-local", line])
        .output()
        .expect("cannot run ssh");
    assert!(
        out.status.success(),
        "ssh xpr-local {line:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The baseline: `tar -c -C inputs . | ssh xpr-local 'mkdir -p DEST && tar -x -C DEST'`.
fn raw_pipe(config: &str, inputs: &Path, dest: &str) -> Duration {
    let line = format!(
        "tar -c -f - -C '{}' . | ssh -F '{config}' xpr-local 'mkdir -p {dest} && tar -x -f - -C {dest}'",
        inputs.display()
    );
    let (took, status) = timed(|| {
        Command::new("sh")
            .args(["-c", &line])
            .status()
            .expect("cannot run sh")
    });
    assert!(status.success(), "the raw pipe failed: {line}");
    took
}

/// The run dir group of one task holding every input, as the session packs it.
fn groups(inputs: &Path, run: usize) -> Vec<StageDir> {
    let entries = plan_inputs(inputs, &["big_*.bin".to_owned(), "small".to_owned()])
        .expect("planning the inputs");
    vec![StageDir::of_inputs(format!("run_bench_{run}"), entries)]
}

/// xpr through a scratch tar file, then streamed up (the session's path before this bench).
async fn via_scratch_file(
    transport: &SshTransport,
    inputs: &Path,
    scratch: &Path,
    base: &str,
    run: usize,
) -> Duration {
    let groups = groups(inputs, run);
    let tar_path = scratch.join("stage.tar");
    let (took, ()) = timed_async(async {
        let path = tar_path.clone();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&path).expect("creating the scratch tar");
            let mut out = write_tar(std::io::BufWriter::new(file), &groups).expect("packing");
            std::io::Write::flush(&mut out).expect("writing the scratch tar");
        })
        .await
        .expect("the tar thread does not panic");
        let cmd = CommandSpec::new("sh").args(["-c", STAGE_PROGRAM, "xpr-stage", base]);
        let mut input = tokio::fs::File::open(&tar_path)
            .await
            .expect("opening the scratch tar");
        let out = transport
            .run_streaming(&cmd, Some(&mut input), None)
            .await
            .expect("streaming");
        check_success(transport.host(), &cmd, out).expect("remote tar -x");
    })
    .await;
    let _ = std::fs::remove_file(&tar_path);
    took
}

/// xpr streamed straight from the packer into the transport.
async fn streamed(transport: &SshTransport, inputs: &Path, base: &str, run: usize) -> Duration {
    let groups = groups(inputs, run);
    let (took, ()) = timed_async(async {
        let mut stream = xpr::stage::TarStream::spawn(groups).expect("starting the packer");
        let cmd = CommandSpec::new("sh").args(["-c", STAGE_PROGRAM, "xpr-stage", base]);
        let out = transport
            .run_streaming(&cmd, Some(stream.reader()), None)
            .await
            .expect("streaming");
        stream.finish().await.expect("packing");
        check_success(transport.host(), &cmd, out).expect("remote tar -x");
    })
    .await;
    took
}

async fn timed_async<T>(f: impl std::future::Future<Output = T>) -> (Duration, T) {
    let start = std::time::Instant::now();
    let value = f.await;
    (start.elapsed(), value)
}

/// The `stage` rows of the table.
pub fn run() -> Vec<Row> {
    let env = match testbed_env() {
        Ok(env) => env,
        Err(why) => {
            eprintln!("stage: skipped: {why}");
            return Vec::new();
        }
    };
    let config = env["XPR_SSH_CONFIG"].clone();
    let scratch = Scratch::new("stage");
    let inputs = scratch.path().join("in");
    let total = total_bytes();
    eprintln!("stage: writing {} MB of inputs", total / 1_000_000);
    make_inputs(&inputs);
    let remote = format!("xpr-bench-stage-{}", std::process::id());
    let runtime = runtime();
    let control = tempfile::Builder::new()
        .prefix("xb")
        .tempdir_in("/tmp")
        .expect("a control dir");
    let target = SshTarget::with_shell(
        "xpr-local",
        RemoteShell::ssh().with_config_file(PathBuf::from(&config)),
    )
    .expect("an ssh target")
    .with_control_dir(control.path());
    let transport = runtime
        .block_on(SshTransport::connect(target))
        .expect("connecting to xpr-local");
    let (mut raw, mut file, mut stream) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let dest = format!("{remote}/raw_{run}");
        raw.push(raw_pipe(&config, &inputs, &dest));
        ssh(&config, &format!("rm -rf {dest}"));
        let base = format!("{remote}/file");
        file.push(runtime.block_on(via_scratch_file(
            &transport,
            &inputs,
            scratch.path(),
            &base,
            run,
        )));
        ssh(&config, &format!("rm -rf {base}"));
        let base = format!("{remote}/stream");
        stream.push(runtime.block_on(streamed(&transport, &inputs, &base, run)));
        if run == 0 {
            let listed = ssh(
                &config,
                &format!("find {base}/run_bench_0 -type f | wc -l; du -sb {base}/run_bench_0"),
            );
            eprintln!("stage: remote copy: {listed:?}");
        }
        ssh(&config, &format!("rm -rf {base}"));
    }
    ssh(&config, &format!("rm -rf {remote}"));
    let _ = runtime.block_on(transport.close());
    let raw = mb_per_s(total, median(&mut raw));
    let row = |what: &str, samples: &mut Vec<Duration>| {
        let ours = mb_per_s(total, median(samples));
        let ratio = ours / raw;
        Row {
            measure: format!("staging 1 GB to xpr-local, {what}"),
            xpr: format!("{ours:.0} MB/s"),
            baseline: format!("{raw:.0} MB/s (tar -c, ssh, tar -x)"),
            ratio: format!("{ratio:.2}x raw pipe"),
            target: format!(">= {TARGET}x"),
            pass: Some(ratio >= TARGET),
        }
    };
    vec![
        row("via a scratch tar file", &mut file),
        row("streamed (TarStream)", &mut stream),
    ]
}
