//! `xpr logs -f`: a running task's stdout and stderr as they grow, read in its run dir while
//! the job runs, and the rest once it has finished; then it exits.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Xpr, stdout};

#[test]
fn logs_f_shows_output_while_the_task_runs_and_ends_with_it() {
    let xpr = Xpr::new();
    // The task prints, then waits for a file the test makes once it has seen that line.
    let id = xpr.ok(&[
        "submit",
        "--",
        "sh",
        "-c",
        "echo first; while [ ! -e go ]; do sleep 0.1; done; echo second; echo oops >&2",
    ]);
    let id = id.trim().to_owned();
    let mut follow = xpr
        .command(&["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "first");
    // Seen while the task still runs: it waits for `go`.
    let listed = xpr.json(&["ls", "--json", "-l"]);
    assert_eq!(listed[0]["status"], "started", "{listed}");
    let remote_dir = listed[0]["remote_dir"].as_str().unwrap().to_owned();
    std::fs::write(std::path::Path::new(&remote_dir).join("go"), "").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "second");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "xpr logs -f did not end with its task"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(
        lines.next().is_none(),
        "nothing after the task's own output"
    );
    let err = std::io::read_to_string(follow.stderr.take().unwrap()).unwrap();
    assert_eq!(err, "oops\n");
    // The whole logs, as `xpr logs` shows them afterwards.
    assert_eq!(stdout(&xpr.run(&["logs", &id])), "first\nsecond\n");
}
