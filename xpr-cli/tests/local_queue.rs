//! The built-in `local` system driven through `xpr submit` as a user would, each call its own
//! process: separately submitted jobs run side by side up to the queue's cores, a small job
//! backfills while a wide one waits for cores, and the files a job writes arrive with the
//! modes the job gave them while the run dirs stay private.
//!
//! Every test runs with a temp `$HOME` (so its own spool, `~/.xpr/local-queue`) and
//! `XPR_LOCAL_CORES=2`. Jobs record their own start and end times (`date +%s.%N`) in a
//! directory of the test; the tests compare those, never the test's own clock, and a job that
//! waits for another one does so on a file, with a deadline of its own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::Xpr;

const DEADLINE: Duration = Duration::from_secs(60);

/// `xpr` with a temp `$HOME`, a working directory in it, a 2-core local queue, and a
/// directory `marks/` where jobs leave their times.
struct Queue {
    xpr: Xpr,
    marks: PathBuf,
}

impl Queue {
    fn new() -> Queue {
        let xpr = Xpr::new().env("XPR_LOCAL_CORES", "2");
        let marks = xpr.home.path().join("marks");
        std::fs::create_dir_all(&marks).unwrap();
        Queue { xpr, marks }
    }

    /// Runs `xpr ARGS` under `umask` (set by a shell that then execs `xpr`).
    fn run_with_umask(&self, umask: &str, args: &[&str]) -> Output {
        let mut all = vec![
            "-c",
            "umask \"$1\" && shift && exec \"$@\"",
            "sh",
            umask,
            env!("CARGO_BIN_EXE_xpr"),
        ];
        all.extend_from_slice(args);
        self.xpr.command_of("/bin/sh", &all).output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_umask("022", args)
    }

    /// `xpr submit --name NAME ARGS -- sh -c SCRIPT`: the task id. In `script`, `$M` is the
    /// marks directory.
    fn submit(&self, name: &str, args: &[&str], script: &str) -> String {
        let script = format!("M='{}'; {script}", self.marks.display());
        let mut all = vec!["submit", "--name", name, "--max-time", "5m"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "sh", "-c", &script]);
        let out = self.run(&all);
        assert!(out.status.success(), "submit {name}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    }

    fn wait(&self, ids: &[&str]) {
        let mut args = vec!["wait", "--timeout", "2m"];
        args.extend_from_slice(ids);
        let out = self.run(&args);
        assert!(out.status.success(), "wait: {}", text(&out.stderr));
    }

    /// The time the job wrote to `marks/<name>`.
    fn mark(&self, name: &str) -> f64 {
        let path = self.marks.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{path:?} {text:?}: {e}"))
    }

    fn has_mark(&self, name: &str) -> bool {
        self.marks.join(name).exists()
    }

    /// The task's record as `xpr ls --json` prints it.
    fn record(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["ls", "--json", "-i", id]);
        assert!(out.status.success(), "ls: {}", text(&out.stderr));
        let mut tasks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
        tasks[0].take()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

/// A job body that waits (at most 60 s) for the file `$M/<flag>`.
fn wait_for_flag(flag: &str) -> String {
    format!("i=0; while [ ! -e \"$M/{flag}\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done")
}

#[test]
fn separately_submitted_one_core_jobs_run_side_by_side() {
    let xpr = Queue::new();
    // `a` runs until `b` has started (or 60 s): if `b` cannot start while `a` runs, the
    // times show it.
    let a = xpr.submit(
        "a",
        &[],
        &format!(
            "date +%s.%N > \"$M/a.start\"; {}; date +%s.%N > \"$M/a.end\"",
            wait_for_flag("b.start")
        ),
    );
    let b = xpr.submit(
        "b",
        &[],
        "date +%s.%N > \"$M/b.start\"; sleep 1; date +%s.%N > \"$M/b.end\"",
    );
    xpr.wait(&[&a, &b]);
    let (a_start, a_end) = (xpr.mark("a.start"), xpr.mark("a.end"));
    let (b_start, b_end) = (xpr.mark("b.start"), xpr.mark("b.end"));
    assert!(
        b_start < a_end && a_start < b_end,
        "two 1-core jobs on 2 cores ran one after the other: a {a_start}..{a_end}, b {b_start}..{b_end}"
    );
}

#[test]
fn a_small_job_backfills_while_a_wide_one_waits_for_cores() {
    let xpr = Queue::new();
    let times = |name: &str| {
        format!("date +%s.%N > \"$M/{name}.start\"; {{ BODY; }}; date +%s.%N > \"$M/{name}.end\"")
    };
    // `hold` keeps one of the two cores until the test lets it go.
    let hold = xpr.submit(
        "hold",
        &[],
        &times("hold").replace("BODY", &wait_for_flag("go")),
    );
    common::wait_for("the first job to start", DEADLINE, || {
        xpr.has_mark("hold.start").then_some(())
    });
    // `wide` needs both cores: it waits. `small` fits in the free one: it starts at once.
    let wide = xpr.submit(
        "wide",
        &["--num-cores", "2", "--partial-node"],
        &times("wide").replace("BODY", "true"),
    );
    let small = xpr.submit("small", &[], &times("small").replace("BODY", "true"));
    // Without backfill `small` waits behind `wide`, which waits for `hold`, which waits for
    // `go`: it would never start before the deadline.
    common::wait_for("the small job to start beside the first", DEADLINE, || {
        xpr.has_mark("small.end").then_some(())
    });
    assert!(
        !xpr.has_mark("wide.start"),
        "the 2-core job started while another job held a core"
    );
    std::fs::write(xpr.marks.join("go"), b"").unwrap();
    xpr.wait(&[&hold, &wide, &small]);
    let hold_end = xpr.mark("hold.end");
    assert!(xpr.mark("small.start") < hold_end);
    assert!(xpr.mark("wide.start") >= hold_end);
    assert!(xpr.mark("wide.start") >= xpr.mark("small.end"));
}

#[test]
fn outputs_keep_the_modes_the_job_gave_them_and_run_dirs_stay_private() {
    let xpr = Queue::new();
    let script = "echo x > out.txt && chmod 644 out.txt && echo y > default.txt \
                  && echo z > setuid.sh && chmod 4755 setuid.sh \
                  && mkdir sub && chmod 751 sub && echo w > sub/inner.txt";
    let out = xpr.run_with_umask(
        "027",
        &[
            "submit",
            "--name",
            "modes",
            "-o",
            "out.txt",
            "-o",
            "default.txt",
            "-o",
            "setuid.sh",
            "-o",
            "sub/inner.txt",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(out.status.success(), "submit: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    let out = xpr.run_with_umask("027", &["wait", "--timeout", "2m", &id]);
    assert!(out.status.success(), "wait: {}", text(&out.stderr));
    let record = xpr.record(&id);
    let local = PathBuf::from(record["local_dir"].as_str().unwrap());
    let remote = PathBuf::from(record["remote_dir"].as_str().unwrap());
    for dir in [&remote, &local] {
        let shown = dir.display();
        assert_eq!(mode(dir), 0o700, "run dir {shown} is not private");
        assert_eq!(mode(&dir.join("out.txt")), 0o644, "out.txt in {shown}");
        // The job ran under the user's umask (027), not the batch program's 077.
        assert_eq!(
            mode(&dir.join("default.txt")),
            0o640,
            "default.txt in {shown}"
        );
        assert_eq!(
            mode(&dir.join("sub/inner.txt")),
            0o640,
            "sub/inner.txt in {shown}"
        );
    }
    assert_eq!(mode(&remote.join("setuid.sh")), 0o4755);
    // Extraction keeps the permission bits, never setuid or setgid.
    assert_eq!(mode(&local.join("setuid.sh")), 0o755);
    assert_eq!(mode(&local.join("sub")), 0o751);
}
