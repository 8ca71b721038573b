//! A task's life on this machine (the `local` scheduler, no SSH): success with byte-identical
//! outputs, each failure kind, reuse of identical tasks, hostile names, cancel and clean.

mod common;
mod life_support;

use std::path::Path;
use std::time::Duration;

use life_support::{Bed, one_core, write};
use serde_json::json;
use xpr::db::{TaskFilter, TaskStatus};
use xpr::session::{Session, StartRequest};
use xpr::task::TaskSpec;

const DEADLINE: Duration = Duration::from_secs(120);

fn local_bed() -> Bed {
    Bed::new(
        None,
        json!({
            "loc": {
                "host": null,
                "scheduler": "local",
                "partitions": {"local": {"num_cores": 2, "max_time": null, "max_mem": null}}
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_to_output_on_the_builtin_local_system() {
    let bed = local_bed();
    let work = bed.work_dir();
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    write(&work, "sub dir/data.bin", &data);
    let session = bed.session(Duration::from_secs(60));
    let mut spec = TaskSpec::argv(
        "copy",
        ["sh", "-c", "cat 'sub dir/data.bin' > out.bin && echo done"],
    );
    spec.inputs = vec!["sub dir/data.bin".into()];
    spec.outputs = vec!["out.bin".into()];
    let started = session
        .start(StartRequest::new(spec, "local", one_core()).with_base_dir(&work))
        .await
        .unwrap();
    assert!(!started.reused);
    let id = started.record.id.clone();
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    let results = session.results(&id).unwrap();
    assert_eq!(results.exit_code, Some(0));
    assert_eq!(results.stdout_tail, "done");
    assert_eq!(
        std::fs::read(results.local_dir.join("out.bin")).unwrap(),
        data
    );
    // The user's input is untouched by clean; the run dirs are gone.
    session.clean(std::slice::from_ref(&id)).await.unwrap();
    assert!(!results.local_dir.exists());
    assert_eq!(std::fs::read(work.join("sub dir/data.bin")).unwrap(), data);
    assert_eq!(session.get(&id).unwrap().status, TaskStatus::Cleaned);
    let remote = bed.root.path().join("remote").join(format!("run_{id}"));
    assert!(!remote.exists(), "{} still there", remote.display());
}

/// The local run dir holds what the job made or changed: an input that comes back as it went
/// is not copied back (it is where the user keeps it), one the job changed is, and so is one
/// an expected output names; the remote run dir keeps them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_that_come_back_unchanged_are_not_copied_back() {
    let bed = local_bed();
    let work = bed.work_dir();
    write(&work, "same.txt", b"same");
    write(&work, "changed.txt", b"before");
    write(&work, "named.txt", b"named");
    write(&work, "data/a.txt", b"a");
    let session = bed.session(Duration::from_secs(60));
    let mut spec = TaskSpec::argv(
        "inputs back",
        [
            "sh",
            "-c",
            "printf after > changed.txt && printf new > data/new.txt && cat same.txt > out.txt",
        ],
    );
    spec.inputs = ["same.txt", "changed.txt", "named.txt", "data"]
        .map(String::from)
        .to_vec();
    spec.outputs = vec!["out.txt".into(), "named.*".into()];
    let started = session
        .start(StartRequest::new(spec, "loc", one_core()).with_base_dir(&work))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    let local = session.results(&id).unwrap().local_dir;
    let read = |name: &str| std::fs::read_to_string(local.join(name)).ok();
    assert_eq!(read("out.txt").as_deref(), Some("same"));
    assert_eq!(read("changed.txt").as_deref(), Some("after"));
    assert_eq!(read("named.txt").as_deref(), Some("named"));
    assert_eq!(read("data/new.txt").as_deref(), Some("new"));
    assert_eq!(
        read("same.txt"),
        None,
        "an unchanged input is not copied back"
    );
    assert_eq!(read("data/a.txt"), None, "nor one inside an input dir");
    // The job script is in the jobs DB: a task that succeeded does not get it back.
    assert_eq!(read("xpr_job.sh"), None);
    // The user's inputs are as they were; the remote run dir has everything.
    assert_eq!(
        std::fs::read_to_string(work.join("changed.txt")).unwrap(),
        "before"
    );
    let remote = bed.root.path().join("remote").join(format!("run_{id}"));
    for name in [
        "same.txt",
        "data/a.txt",
        "changed.txt",
        "xpr.exit",
        "xpr_job.sh",
    ] {
        assert!(
            remote.join(name).is_file(),
            "{name} not in {}",
            remote.display()
        );
    }
    // One that failed has its job script and arguments written back, for a look at what ran.
    let mut spec = TaskSpec::argv("fails", ["sh", "-c", "cat same.txt; exit 3"]);
    spec.inputs = vec!["same.txt".into()];
    spec.args = Some(json!({"x": 1}));
    let started = session
        .start(StartRequest::new(spec, "loc", one_core()).with_base_dir(&work))
        .await
        .unwrap();
    let id = started.record.id.clone();
    session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    let results = session.results(&id).unwrap();
    assert_eq!(results.exit_code, Some(3), "{results:?}");
    let local = results.local_dir;
    let script = std::fs::read_to_string(local.join("xpr_job.sh")).unwrap();
    assert!(script.contains("exit 3"), "{script}");
    let args = std::fs::read_to_string(local.join("xpr_args.json")).unwrap();
    assert!(args.contains("\"x\": 1"), "{args}");
    assert!(!local.join("same.txt").exists());
}

/// A job that links to a shared data set (a link leading out of its run dir) or makes a FIFO
/// still has its outputs come back; the link is not made here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_links_out_of_its_run_dir_still_comes_back() {
    let bed = local_bed();
    let session = bed.session(Duration::from_secs(60));
    let mut spec = TaskSpec::argv(
        "links out",
        [
            "sh",
            "-c",
            "ln -s /etc/hostname shared && mkfifo pipe && echo ok > out.txt",
        ],
    );
    spec.outputs = vec!["out.txt".into()];
    let results = run_to_end(&session, spec, one_core()).await;
    assert_eq!(results.status, TaskStatus::Succeeded, "{results:?}");
    let local = results.local_dir;
    assert_eq!(
        std::fs::read_to_string(local.join("out.txt")).unwrap(),
        "ok\n"
    );
    assert!(local.join("shared").symlink_metadata().is_err());
    assert!(local.join("pipe").symlink_metadata().is_err());
}

async fn run_to_end(
    session: &Session,
    spec: TaskSpec,
    resources: xpr::resources::Resources,
) -> xpr::session::TaskResults {
    let started = session
        .start(StartRequest::new(spec, "loc", resources))
        .await
        .unwrap();
    let id = started.record.id.clone();
    session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    session.results(&id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_kinds_are_told_apart() {
    let bed = local_bed();
    let session = bed.session(Duration::from_secs(60));

    let bad_exit = TaskSpec::argv(
        "bad",
        ["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"],
    );
    let r = run_to_end(&session, bad_exit, one_core()).await;
    assert_eq!(r.status, TaskStatus::Failed);
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.end_state, Some(xpr::db::EndState::Failed));
    assert_eq!(r.stderr_tail, "it broke");
    assert!(r.reason.unwrap().contains("it broke"));

    let mut missing = TaskSpec::argv("missing", ["sh", "-c", "echo x > other.txt"]);
    missing.outputs = vec!["other.txt".into(), "never.txt".into(), "gl*b.dat".into()];
    let r = run_to_end(&session, missing, one_core()).await;
    assert_eq!(r.status, TaskStatus::Failed);
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.end_state, Some(xpr::db::EndState::MissingOutputs));
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("never.txt") && reason.contains("gl*b.dat"),
        "{reason}"
    );
    assert!(!reason.contains("other.txt"), "{reason}");

    let slow = TaskSpec::argv("slow", ["sleep", "60"]);
    let r = run_to_end(&session, slow, one_core().with_max_time(2)).await;
    assert_eq!(r.status, TaskStatus::Failed);
    assert_eq!(r.end_state, Some(xpr::db::EndState::Timeout), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_fails_as_cancelled() {
    let bed = local_bed();
    let session = bed.session(Duration::from_secs(60));
    let started = session
        .start(StartRequest::new(
            TaskSpec::argv("long", ["sleep", "300"]),
            "loc",
            one_core(),
        ))
        .await
        .unwrap();
    let id = started.record.id.clone();
    // Cancel once it runs (the cancel of a queued job is tested by the scheduler's own tests).
    let deadline = std::time::Instant::now() + DEADLINE;
    while session.get(&id).unwrap().status != TaskStatus::Started {
        assert!(std::time::Instant::now() < deadline, "never started");
        session.poll_system("loc").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        session.cancel(std::slice::from_ref(&id)).await.unwrap(),
        vec![id.clone()]
    );
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Failed);
    assert_eq!(
        done[0].end_state,
        Some(xpr::db::EndState::Cancelled),
        "{:?}",
        done[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_vanished_dies_after_the_timeout() {
    let bed = local_bed();
    let session = bed.session(Duration::from_secs(3));
    let started = session
        .start(StartRequest::new(
            TaskSpec::argv("ghost", ["sleep", "300"]),
            "loc",
            one_core(),
        ))
        .await
        .unwrap();
    let id = started.record.id.clone();
    let job = started.record.scheduler_job_id.clone().unwrap();
    let deadline = std::time::Instant::now() + DEADLINE;
    while session.get(&id).unwrap().status != TaskStatus::Started {
        assert!(std::time::Instant::now() < deadline, "never started");
        session.poll_system("loc").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Wipe the queue's records of the job, as a lost node or a purged spool would.
    let spool = Path::new(&std::env::var("HOME").unwrap()).join(".xpr/local-queue");
    let pgid = std::fs::read_to_string(spool.join("jobs").join(job.as_str()).join("pgid"))
        .unwrap_or_default();
    // The job's runner still writes into its job dir (by temp file and rename), so the dir is
    // first moved out of the spool in one step, which the queue then no longer finds, and only
    // then removed: a plain remove could meet a file the runner made meanwhile.
    let purged = spool.join(format!("purged-{job}"));
    std::fs::rename(spool.join("jobs").join(job.as_str()), &purged).unwrap();
    std::fs::remove_file(spool.join("active").join(job.as_str())).unwrap();
    let t0 = std::time::Instant::now();
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(3));
    assert_eq!(done[0].status, TaskStatus::Died, "{:?}", done[0]);
    assert_eq!(done[0].end_state, Some(xpr::db::EndState::Vanished));
    assert!(done[0].reason.as_ref().unwrap().contains(job.as_str()));
    if let Ok(pgid) = pgid.trim().parse::<i32>() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
    }
    let removed_by = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::remove_dir_all(&purged).is_err() && purged.exists() {
        assert!(
            std::time::Instant::now() < removed_by,
            "cannot remove {purged:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_task_is_reused_until_processed() {
    let bed = local_bed();
    let work = bed.work_dir();
    write(&work, "in.txt", b"hello\n");
    let session = bed.session(Duration::from_secs(60));
    let request = || {
        let mut spec = TaskSpec::argv("same", ["sh", "-c", "cat in.txt > out.txt"]);
        spec.inputs = vec!["in.txt".into()];
        spec.outputs = vec!["out.txt".into()];
        StartRequest::new(spec, "loc", one_core()).with_base_dir(&work)
    };
    let first = session.start(request()).await.unwrap();
    let second = session.start(request()).await.unwrap();
    assert!(!first.reused);
    assert!(second.reused);
    assert_eq!(first.record.id, second.record.id);
    session
        .wait(std::slice::from_ref(&first.record.id), DEADLINE)
        .await
        .unwrap();
    // Finished and not processed: still reused, nothing submitted.
    let third = session.start(request()).await.unwrap();
    assert!(third.reused);
    assert_eq!(third.record.status, TaskStatus::Succeeded);
    session.mark_processed(&first.record.id).unwrap();
    let fourth = session.start(request()).await.unwrap();
    assert!(!fourth.reused);
    assert_ne!(fourth.record.id, first.record.id);
    let done = session
        .wait(std::slice::from_ref(&fourth.record.id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded);
    // A changed input is a different task.
    write(&work, "in.txt", b"changed\n");
    let fifth = session.start(request()).await.unwrap();
    assert!(!fifth.reused);
    session
        .wait(std::slice::from_ref(&fifth.record.id), DEADLINE)
        .await
        .unwrap();
    let all = session.list(&TaskFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    let history = session.get(&fifth.record.id).unwrap();
    assert_eq!(history.status, TaskStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_neither_break_nor_inject() {
    let bed = local_bed();
    let work = bed.work_dir();
    let canary = bed.root.path().join("pwned");
    let evil = format!(
        "x'; touch {} #$(touch {})`touch {}`",
        canary.display(),
        canary.display(),
        canary.display()
    );
    let input_name = format!("dir ..x/we'ird \"q\" $(x)\n{evil}.txt");
    let content = b"line 1\nline 'two' $(not run)\n";
    write(&work, &input_name, content);
    let arg = format!("arg with\nnewline; {evil} .. ../../etc");
    let mut spec = TaskSpec::argv(
        format!("it's a $(touch {}) `x`\n..", canary.display()),
        [
            "sh".to_owned(),
            "-c".to_owned(),
            "cat -- \"$1\" > \"out 'put'.txt\" && printf '%s' \"$2\" > arg.txt".to_owned(),
            "sh".to_owned(),
            input_name.clone(),
            arg.clone(),
        ],
    );
    spec.inputs = vec![input_name.clone()];
    spec.outputs = vec!["out 'put'.txt".into(), "arg.txt".into()];
    spec.env = vec![("XPR_EVIL".into(), evil.clone())];
    spec.args = Some(json!({"evil": evil}));
    let started = session_start(&bed, spec).await;
    let (session, id) = started;
    let done = session
        .wait(std::slice::from_ref(&id), DEADLINE)
        .await
        .unwrap();
    assert_eq!(done[0].status, TaskStatus::Succeeded, "{:?}", done[0]);
    let dir = session.results(&id).unwrap().local_dir;
    assert_eq!(std::fs::read(dir.join("out 'put'.txt")).unwrap(), content);
    assert_eq!(std::fs::read_to_string(dir.join("arg.txt")).unwrap(), arg);
    assert!(!canary.exists(), "a name was run as a command");
    // `..` in a name is a name; an input path escaping its base is refused.
    let mut escape = TaskSpec::argv("escape", ["true"]);
    escape.inputs = vec!["../outside.txt".into()];
    write(bed.root.path(), "outside.txt", b"x");
    let err = session
        .start(StartRequest::new(escape, "loc", one_core()).with_base_dir(&work))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(".."), "{err}");
    let mut out_escape = TaskSpec::argv("escape", ["true"]);
    out_escape.outputs = vec!["../x".into()];
    assert!(
        session
            .start(StartRequest::new(out_escape, "loc", one_core()))
            .await
            .is_err()
    );
}

async fn session_start(bed: &Bed, spec: TaskSpec) -> (Session, xpr::ids::TaskId) {
    let session = bed.session(Duration::from_secs(60));
    let started = session
        .start(StartRequest::new(spec, "loc", one_core()).with_base_dir(bed.work_dir()))
        .await
        .unwrap();
    (session, started.record.id.clone())
}
